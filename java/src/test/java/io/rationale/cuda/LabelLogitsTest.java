package io.rationale.cuda;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.KvCache;
import io.rationale.engine.LabelLogits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.TestModels;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The flip evaluation's scoring on the device ({@link Backend#forwardLabelLogits}: continuations after forks of a
 * cached prefix, batched, their last logits reduced to label groups by {@code label_logits}, only those copied back):
 * exactly {@link LabelLogits#of} of the same forwards' logits (the same batches, so the same logits: the reduction
 * is compared bit for bit), the same with the device's memory capped (more, smaller batches after running out of
 * memory), and the CPU backend's labels within f32 rounding (1e-4 of the logits' scale) with the same predictions.
 */
class LabelLogitsTest {
    static final ModelConfig CONFIG = TestModels.config("""
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":100,"num_hidden_layers":2,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":57,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"tie_word_embeddings":false}""");
    static final int[][] LABELS = {{3, 7, 9}, {4}, {10, 11, 12, 13}, {56, 0}};

    @BeforeAll
    static void bind() {
        org.junit.jupiter.api.Assumptions.assumeTrue(LabelLogitsTest.class.getResource("/io/rationale/cuda/emu/libcuda.so.1") != null,
                "the emulated device is not in this build");
        CudaDriver.bind(CudaDriver.Kind.EMULATED);
    }

    static int[] ids(int n, long seed) {
        Random r = new Random(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(CONFIG.vocabSize());
        return x;
    }

    @Test
    void labelLogitsOnTheDeviceAreTheHostReductionOfTheSameLogits() {
        Model model = Model.of(CONFIG, TestModels.random(CONFIG, DType.F32, 5, false));
        int[] prefix = ids(90, 1);
        List<int[]> rests = new ArrayList<>();
        for (int i = 0; i < 30; i++) rests.add(ids(5 + i * 3 % 40, 20 + i));
        int[] prefixLengths = new int[rests.size()];
        for (int i = 0; i < prefixLengths.length; i++) prefixLengths[i] = i % 3 == 0 ? 90 : 60 + i;
        LabelLogits[] host = new LabelLogits[rests.size()], device = new LabelLogits[rests.size()], capped = new LabelLogits[rests.size()];
        LabelLogits[] cpu = new LabelLogits[rests.size()];
        try (Backend b = Backends.open(model, Device.parse("cpu"), 2).backend(); KvCache base = b.newCache()) {
            b.forward(prefix, base, LogitsMode.NONE);
            b.forwardLabelLogits(base, prefixLengths, rests, 300, LABELS, (l, i) -> cpu[i] = l);
        }
        long limit = EmulatedDevice.memoryLimit();
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend(); KvCache base = b.newCache()) {
            b.forward(prefix, base, LogitsMode.NONE);
            int f1 = b.forwardContinuations(base, prefixLengths, rests, 300, (last, i) -> host[i] = LabelLogits.of(last, LABELS));
            int f2 = b.forwardLabelLogits(base, prefixLengths, rests, 300, LABELS, (l, i) -> device[i] = l);
            assertEquals(f1, f2, "the same batches");
            assertTrue(f2 > 1, "several batches: " + f2);
            for (int i = 0; i < rests.size(); i++) {
                assertArrayEquals(host[i].logits(), device[i].logits(), "continuation " + i + " label logits");
                assertArrayEquals(host[i].tokens(), device[i].tokens(), "continuation " + i + " label tokens");
                assertEquals(host[i].predicted(), device[i].predicted(), "continuation " + i + " prediction");
                assertEquals(cpu[i].predicted(), device[i].predicted(), "continuation " + i + ": the CPU's prediction");
                assertArrayEquals(cpu[i].tokens(), device[i].tokens(), "continuation " + i + ": the CPU's label tokens");
                for (int l = 0; l < LABELS.length; l++)
                    assertEquals(cpu[i].logits()[l], device[i].logits()[l], 1e-4 * Math.max(1, Math.abs(cpu[i].logits()[l])), "continuation " + i);
            }
            // capped memory: one batch of all of them does not fit; smaller batches, the same numbers
            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + (1L << 20));
            int f3 = b.forwardLabelLogits(base, prefixLengths, rests, 4096, LABELS, (l, i) -> capped[i] = l);
            assertTrue(f3 > 1, "ran out of memory and split: " + f3 + " forward(s)");
            for (int i = 0; i < rests.size(); i++) {
                assertArrayEquals(device[i].logits(), capped[i].logits(), 1e-6f, "continuation " + i + " under capped memory");
                assertEquals(device[i].predicted(), capped[i].predicted());
            }
            assertEquals(90, base.length(), "the prefix cache is untouched");
            assertThrows(IllegalArgumentException.class, () -> b.forwardLabelLogits(base, null, rests, 0, new int[][]{{57}}, (l, i) -> {}));
            assertThrows(IllegalArgumentException.class, () -> b.forwardLabelLogits(base, null, rests, 0, new int[][]{{}}, (l, i) -> {}));
        } finally {
            EmulatedDevice.setMemoryLimit(limit);
        }
    }
}
