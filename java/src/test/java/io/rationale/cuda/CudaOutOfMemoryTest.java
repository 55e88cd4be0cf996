package io.rationale.cuda;

import io.rationale.engine.Backend;
import io.rationale.engine.BackendMemoryException;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.TestModels;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Out of device memory on the emulated device with capped memory: batched continuations are run again in smaller
 * batches with the same results, a forward that cannot fit fails with one clear message and leaves the cache and the
 * backend usable, and a model whose weights do not fit is refused naming sizes. Never a crash or a wrong number.
 */
class CudaOutOfMemoryTest {
    static final ModelConfig CONFIG = TestModels.config("""
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":100,"num_hidden_layers":2,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":57,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"tie_word_embeddings":false}""");

    @org.junit.jupiter.api.BeforeAll
    static void bind() { CudaDriver.bind(CudaDriver.Kind.EMULATED); }

    static int[] ids(int n, long seed) {
        Random r = new Random(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(CONFIG.vocabSize());
        return x;
    }

    @Test
    void smallerBatchesWhenABatchDoesNotFitAndOneClearLineWhenNothingFits() {
        Model model = Model.of(CONFIG, TestModels.random(CONFIG, DType.F32, 3, false));
        int[] prefix = ids(100, 1);
        List<int[]> rests = new ArrayList<>();
        for (int i = 0; i < 40; i++) rests.add(ids(60, 10 + i));
        float[][] expected = new float[rests.size()][];
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend(); KvCache base = b.newCache()) {
            b.forward(prefix, base, LogitsMode.NONE);
            assertEquals(1, b.forwardContinuations(base, null, rests, 4096, (l, i) -> expected[i] = l));
        }
        long limit = EmulatedDevice.memoryLimit();
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend(); KvCache base = b.newCache()) {
            b.forward(prefix, base, LogitsMode.NONE);
            // room for the weights, the prefix and a few hundred tokens of work buffers and forks, not for 2,400 tokens
            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + (3L << 20));
            float[][] got = new float[rests.size()][];
            int forwards = b.forwardContinuations(base, null, rests, 4096, (l, i) -> got[i] = l);
            assertTrue(forwards > 1, "the batch of 40 continuations did not run out of memory: " + forwards + " forward(s)");
            for (int i = 0; i < rests.size(); i++) assertArrayEquals(expected[i], got[i], 1e-4f, "continuation " + i);
            assertEquals(100, base.length(), "the base cache is untouched");

            // one sequence too long for the memory left: one clear line; the cache keeps what it had; the backend works on
            try (KvCache c = base.fork()) {
                BackendMemoryException e = assertThrows(BackendMemoryException.class, () -> b.forward(ids(20_000, 2), c, LogitsMode.LAST));
                assertTrue(e.getMessage().startsWith("CUDA_ERROR_OUT_OF_MEMORY: ") && e.getMessage().contains("cannot allocate")
                        && e.getMessage().contains("free of") && !e.getMessage().contains("\n"), e.getMessage());
                assertEquals(100, c.length());
                float[] after = b.forward(rests.get(0), c, LogitsMode.LAST).last(0);
                assertArrayEquals(expected[0], after, 1e-4f, "after the failed forward");
            }
        } finally {
            EmulatedDevice.setMemoryLimit(limit);
        }
    }

    @Test
    void weightsThatDoNotFitAreRefusedNamingTheSizes() {
        Model model = Model.of(CONFIG, TestModels.random(CONFIG, DType.F32, 4, false));
        long limit = EmulatedDevice.memoryLimit();
        try {
            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + 20_000);
            RuntimeException e = assertThrows(RuntimeException.class, () -> Backends.open(model, Device.parse("cuda-emu")));
            assertTrue(e.getMessage().contains("cannot allocate"), e.getMessage());
        } finally {
            EmulatedDevice.setMemoryLimit(limit);
        }
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend()) {
            assertEquals(CONFIG.vocabSize(), b.forward(ids(5, 3), null, LogitsMode.LAST).last(0).length, "the device is usable afterwards");
        }
    }
}
