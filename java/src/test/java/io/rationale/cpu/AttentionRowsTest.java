package io.rationale.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A prefill scores its query rows four at a time (Attention.queryRows), a decode step one row (Attention.query): the
 * same numbers bit for bit, and both equal softmax(q·k/√d)·v computed in double.
 */
class AttentionRowsTest {
    static final int T = 75, HEADS = 4, KV = 2, HD = 80;   // 80: a 4-vector block and one more vector; 75 > one cache block

    @Test
    void prefillRowsEqualOneRowAtATimeAndTheDefinition() {
        Random r = new Random(3);
        Attention.Shape shape = new Attention.Shape(HEADS, KV, HD, 0);
        float[] q = rnd(r, T * HEADS * HD), k = rnd(r, T * KV * HD), v = rnd(r, T * KV * HD);

        CpuKvCache cache = new CpuKvCache(1, KV, HD);
        cache.reserve(T);
        float[] out = new float[T * HEADS * HD];
        float[][] probs = {new float[HEADS * T * T]};
        try (Parallel par = new Parallel(2)) {
            Attention.append(0, shape, k, v, new int[]{0, T}, new CpuKvCache[]{cache}, new int[]{0});
            Attention.forward(par, 0, shape, q, new int[]{0, T}, new CpuKvCache[]{cache}, new int[]{0}, out, probs, null);

            CpuKvCache one = new CpuKvCache(1, KV, HD);
            one.reserve(T);
            for (int t = 0; t < T; t++) {
                float[] kt = java.util.Arrays.copyOfRange(k, t * KV * HD, (t + 1) * KV * HD);
                float[] vt = java.util.Arrays.copyOfRange(v, t * KV * HD, (t + 1) * KV * HD);
                float[] qt = java.util.Arrays.copyOfRange(q, t * HEADS * HD, (t + 1) * HEADS * HD);
                Attention.append(0, shape, kt, vt, new int[]{0, 1}, new CpuKvCache[]{one}, new int[]{t});
                float[] o = new float[HEADS * HD];
                float[][] p = {new float[HEADS * (t + 1)]};
                Attention.forward(par, 0, shape, qt, new int[]{0, 1}, new CpuKvCache[]{one}, new int[]{t}, o, p, null);
                assertArrayEquals(java.util.Arrays.copyOfRange(out, t * HEADS * HD, (t + 1) * HEADS * HD), o, "row " + t);
                for (int h = 0; h < HEADS; h++)
                    for (int j = 0; j <= t; j++)
                        assertEquals(probs[0][(h * T + t) * T + j], p[0][h * (t + 1) + j], "probability row " + t + " head " + h + " key " + j);
            }
        }
        // the definition, in double
        for (int t = 0; t < T; t++)
            for (int h = 0; h < HEADS; h++) {
                int g = h / (HEADS / KV);
                double[] s = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    for (int d = 0; d < HD; d++) s[j] += (double) q[(t * HEADS + h) * HD + d] * k[(j * KV + g) * HD + d];
                    s[j] /= Math.sqrt(HD);
                    max = Math.max(max, s[j]);
                }
                for (int j = 0; j <= t; j++) sum += s[j] = Math.exp(s[j] - max);
                for (int j = 0; j <= t; j++) assertEquals(s[j] / sum, probs[0][(h * T + t) * T + j], 1e-6, "p " + t + " " + h + " " + j);
                for (int d = 0; d < HD; d++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++) o += s[j] / sum * v[(j * KV + g) * HD + d];
                    assertEquals(o, out[(t * HEADS + h) * HD + d], 1e-5, "out " + t + " " + h + " " + d);
                }
            }
    }

    static float[] rnd(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
