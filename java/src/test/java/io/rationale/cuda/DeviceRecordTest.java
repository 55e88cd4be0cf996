package io.rationale.cuda;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.engine.TestModels;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA backend's records ({@link CudaRecord}) on the emulated device: the device memory a record holds is exactly
 * the stated bound ({@code 4·L·n·(2H + Q + 2K + Q + 2·heads + 2I + 2) + 4·S·(H + V)} full, {@code 4·L·n·H + 4·S·(H + V)}
 * checkpointed, each slice rounded up to 256 bytes), {@link ForwardRecord#close} gives it back at once, a record that
 * is dropped unclosed is collected when the device runs out of memory, closing the backend frees every record, and a
 * closed record cannot be used. A record after a cached prefix keeps its own fork of the prefix
 * ({@link #aRecordAfterACachedPrefixKeepsItsOwnForkOfThePrefix}).
 */
class DeviceRecordTest {
    static final ModelConfig CONFIG = TestModels.config("""
            {"architectures":["LlamaForCausalLM"],"hidden_size":48,"intermediate_size":100,"num_hidden_layers":3,
             "num_attention_heads":6,"num_key_value_heads":2,"vocab_size":57,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"tie_word_embeddings":false}""");

    @BeforeAll
    static void bind() {
        org.junit.jupiter.api.Assumptions.assumeTrue(DeviceRecordTest.class.getResource("/io/rationale/cuda/emu/libcuda.so.1") != null,
                "the emulated device is not in this build");
        CudaDriver.bind(CudaDriver.Kind.EMULATED);
    }

    static int[] ids(int n, long seed) {
        Random r = new Random(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(CONFIG.vocabSize());
        return x;
    }

    static long align(long b) { return (b + 255) & ~255L; }

    @Test
    void recordsHoldTheStatedMemoryAndGiveItBack() {
        Model model = Model.of(CONFIG, TestModels.random(CONFIG, DType.F32, 6, false));
        int L = CONFIG.numLayers(), H = CONFIG.hiddenSize(), Q = CONFIG.qDim(), K = CONFIG.kvDim(), I = CONFIG.intermediateSize();
        int heads = CONFIG.numHeads(), V = CONFIG.vocabSize();
        List<int[]> seqs = List.of(ids(30, 1), ids(11, 2));
        int n = 41, S = 2;
        long limit = EmulatedDevice.memoryLimit();
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend()) {
            b.forward(seqs, null, LogitsMode.LAST, null);            // the work buffers, once
            for (boolean recompute : new boolean[] {false, true}) {
                long before = EmulatedDevice.liveBytes();
                ForwardRecord rec = b.newRecord(false, recompute);
                b.forward(seqs, null, LogitsMode.LAST, rec);
                long perLayer = recompute ? align(4L * n * H)
                        : align(4L * n * H) + align(4L * n) + align(4L * n * (Q + 2 * K)) + align(4L * n * Q) + align(8L * n * heads)
                          + align(4L * n * H) + align(4L * n) + align(8L * n * I);
                long stated = L * perLayer + align(4L * S * H) + align(4L * S * V);
                assertEquals(stated, ((CudaRecord) rec).deviceBytes(), "device bytes, recompute " + recompute);
                assertEquals(before + stated, EmulatedDevice.liveBytes(), "what the device holds more, recompute " + recompute);
                assertTrue(rec.bytes() <= b.bytesPerRecordedSequence(30, recompute) + b.bytesPerRecordedSequence(11, recompute));
                float[] g = b.backward(rec, List.of(new Target.Logit(1), new Target.Logit(2)), RuleMode.ATTNLRP)[1];
                long beforeClose = EmulatedDevice.liveBytes();        // the backward's work buffers stay with the backend
                rec.close();
                rec.close();                                          // idempotent
                assertEquals(beforeClose - stated, EmulatedDevice.liveBytes(), "closed: exactly the record's memory given back, recompute " + recompute);
                assertThrows(IllegalArgumentException.class, () -> b.backward(rec, List.of(new Target.Logit(1), new Target.Logit(2)), RuleMode.ATTNLRP));
                assertTrue(g.length == 11 * H);
            }

            // a dropped record is collected when the device runs out of memory
            ForwardRecord keep = b.newRecord(false, false);
            b.forward(seqs, null, LogitsMode.LAST, keep);
            float[] want = b.backward(keep, List.of(new Target.Logit(3), new Target.Logit(4)), RuleMode.GRADIENT)[0];
            long one = ((CudaRecord) keep).deviceBytes();
            keep = null;                                              // garbage, not closed
            EmulatedDevice.setMemoryLimit(EmulatedDevice.liveBytes() + one / 2);
            ForwardRecord again = b.newRecord(false, false);
            b.forward(seqs, null, LogitsMode.LAST, again);           // fits only once the dropped record is freed
            assertArrayEquals(want, b.backward(again, List.of(new Target.Logit(3), new Target.Logit(4)), RuleMode.GRADIENT)[0]);
            EmulatedDevice.setMemoryLimit(limit);

            // closing the backend frees the records still open; closing them afterwards is harmless
            long open = ((CudaRecord) again).deviceBytes();
            assertTrue(open > 0);
            b.close();
            again.close();
        } finally {
            EmulatedDevice.setMemoryLimit(limit);
        }
    }

    /**
     * A record after a cached prefix of 70 positions keeps its own fork of it (block 0 shared, the partly filled block
     * 1 copied): its backward gives the same gradients after the caller closed the caches the forward ran on, and
     * closing the record gives its blocks back (the KV pool's live blocks: the cache's 2, +1 for the caller's fork's
     * copy of block 1, +1 for the record's; 2 left with only the record; 0 after it). Full and checkpointed records
     * (the recomputation's one-layer blocks live in another pool and are given back after each backward).
     */
    @Test
    void aRecordAfterACachedPrefixKeepsItsOwnForkOfThePrefix() {
        Model model = Model.of(CONFIG, TestModels.random(CONFIG, DType.F32, 7, false));
        int[] a = ids(81, 3);
        List<Target> targets = List.of(new Target.Logit(5));
        try (Backend b = Backends.open(model, Device.parse("cuda-emu")).backend()) {
            for (boolean recompute : new boolean[] {false, true}) {
                CudaKvCache cache = (CudaKvCache) b.newCache();
                BlockPool pool = cache.pool();
                assertEquals(0, pool.liveBlocks());
                b.forward(List.of(Arrays.copyOf(a, 70)), List.of(cache), ForwardOptions.of(LogitsMode.NONE));
                assertEquals(2, pool.liveBlocks(), "the prefix cache");
                KvCache fork = cache.fork();
                ForwardRecord rec = b.newRecord(false, recompute);
                b.forward(List.of(Arrays.copyOfRange(a, 70, 81)), List.of(fork), LogitsMode.LAST, rec);
                assertEquals(70, rec.prefixLength(0));
                assertEquals(4, pool.liveBlocks(), "the cache, the fork's copy of block 1, the record's copy");
                float[] g = b.backward(rec, targets, RuleMode.ATTNLRP)[0];
                assertEquals(4, pool.liveBlocks(), "after a backward, recompute " + recompute);
                fork.close();
                cache.close();
                assertEquals(2, pool.liveBlocks(), "the record's fork only");
                assertArrayEquals(g, b.backward(rec, targets, RuleMode.ATTNLRP)[0], "the record does not read the caller's caches");
                rec.close();
                assertEquals(0, pool.liveBlocks(), "closed: the record's blocks given back");
                assertThrows(IllegalArgumentException.class, () -> b.backward(rec, targets, RuleMode.ATTNLRP));
            }
        }
    }
}
