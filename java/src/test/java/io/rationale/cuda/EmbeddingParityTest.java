package io.rationale.cuda;

import io.rationale.cpu.Embedding;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code embedding.cu} ({@code embedding_f32/bf16/f16}) against {@link Embedding#lookup} on the same table and ids.
 *
 * <p>Tolerance: none. Both copy rows and widen bf16/f16 to f32, which is exact, so every output must be
 * bit-identical in every dtype (measured: identical).
 */
class EmbeddingParityTest extends ParityFixture {

    @Test
    void rowsOfEveryTableTypeAreTheCpuRows() {
        Random r = new Random(1);
        int vocab = 97, hidden = 300;                   // hidden: not a multiple of the block (256)
        int[] ids = new int[37];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(vocab);
        ids[0] = vocab - 1;
        ids[1] = 0;
        ids[2] = ids[3];                                  // a repeated id
        for (DataType t : DataType.values()) {
            float[] v = Parity.gaussian(r, vocab * hidden, 0.5);
            v[5] = 1e-40f;                                // subnormal (f32, bf16), tiny for f16
            v[6] = -0f;
            Tensor table = Parity.tensor(v, vocab, hidden, t);
            float[] want = new float[ids.length * hidden];
            Embedding.lookup(table, ids, want);
            Parity.Errors err = report.errors("embedding_" + Kernels.suffix(t));
            try (Parity.Buffers b = new Parity.Buffers(dev)) {
                DevicePointer dTable = b.alloc(table.byteSize()), dIds = b.of(ids);
                dev.copyToDevice(dTable, table.data());
                Parity.acrossSchedules(dev, new int[] {0, 1, 7}, "embedding " + t, mode -> {
                    DevicePointer out = b.nan(4L * want.length);
                    kernels.embedding(t, out, dTable, dIds, ids.length, hidden);
                    float[] got = b.floats(out, want.length);
                    for (int i = 0; i < want.length; i++) err.exact(got[i], want[i], "schedule " + mode + " [" + i / hidden + "," + i % hidden + "]");
                    return got;
                });
            }
        }
    }
}
