package io.rationale.cuda;

import io.rationale.cpu.Rope;
import io.rationale.engine.RopeTables;
import io.rationale.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

/**
 * {@code rope.cu} ({@code rope}) against {@link Rope#apply} on the same q and k, with the cos/sin tables of
 * {@link RopeTables} (Llama 3.1 scaling, positions of a cached prefix and of a fresh sequence).
 *
 * <p>The kernel rotates the q and k column ranges of the fused {@code [n, q|k|v]} buffer in place (row stride ld);
 * the CPU layer rotates contiguous {@code [n, heads·hd]} arrays. Tolerance: none. Both compute
 * {@code x1·c − x2·s} and {@code x2·c + x1·s} with each product rounded separately (the kernel uses
 * {@code __fmul_rn} on a GPU so that nvcc cannot contract them into FMAs; Java does not fuse), so every element must
 * be bit-identical, and the v columns must stay untouched (measured: identical).
 */
class RopeParityTest extends ParityFixture {

    static ModelConfig config(int heads, int kvHeads, int hd) {
        return new ModelConfig("LlamaForCausalLM", heads * hd, 4 * heads * hd, 1, heads, kvHeads, hd, 100, 1e-5f, 500000.0,
                new ModelConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), false, false, false, false, 131072, 0, 1, List.of(2));
    }

    @Test
    void qAndKSlicesOfTheFusedBufferRotateAsTheCpu() {
        Random r = new Random(3);
        for (int[] shape : new int[][] {{4, 2, 64}, {6, 6, 32}, {3, 1, 128}, {2, 1, 18}}) {
            int heads = shape[0], kvHeads = shape[1], hd = shape[2], half = hd / 2;
            int Q = heads * hd, K = kvHeads * hd, ld = Q + 2 * K;
            int[] pos = new int[11];                       // 4 tokens of a fresh sequence, 7 after a cached prefix of 5000
            for (int i = 0; i < pos.length; i++) pos[i] = i < 4 ? i : 5000 + i;
            int n = pos.length;
            float[] cos = new float[n * half], sin = new float[n * half];
            new RopeTables(config(heads, kvHeads, hd)).tables(pos, cos, sin);
            float[] qkv = Parity.gaussian(r, n * ld, 1.0);
            // the CPU layer on contiguous copies of the q and k columns
            float[] q = new float[n * Q], k = new float[n * K];
            for (int t = 0; t < n; t++) {
                System.arraycopy(qkv, t * ld, q, t * Q, Q);
                System.arraycopy(qkv, t * ld + Q, k, t * K, K);
            }
            Rope.apply(q, n, heads, hd, cos, sin);
            Rope.apply(k, n, kvHeads, hd, cos, sin);
            for (boolean withK : new boolean[] {true, false}) {
                String what = "rope " + heads + "/" + kvHeads + " hd " + hd + (withK ? "" : " (q only)");
                Parity.Errors err = report.errors("rope");
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dCos = b.of(cos), dSin = b.of(sin);
                    Parity.acrossSchedules(dev, new int[] {0, 1, 7}, what, mode -> {
                        DevicePointer d = b.of(qkv);
                        kernels.rope(d, withK ? d.plus(4L * Q) : DevicePointer.NULL, dCos, dSin, n, heads, withK ? kvHeads : 0, hd, ld);
                        float[] got = b.floats(d, n * ld);
                        for (int t = 0; t < n; t++)
                            for (int c = 0; c < ld; c++) {
                                float want = c < Q ? q[t * Q + c] : c < Q + K && withK ? k[t * K + c - Q] : qkv[t * ld + c];
                                err.exact(got[t * ld + c], want, what + " schedule " + mode + " token " + t + " column " + c);
                            }
                        return got;
                    });
                }
            }
        }
    }
}
