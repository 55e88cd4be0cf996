package io.rationale.cpu;

import io.rationale.engine.KvCache;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * Causal grouped-query attention over packed sequences, each with its own KV cache. Query head h reads KV head
 * {@code h / (heads / kvHeads)} (Hugging Face repeat_kv). A query at position P sees keys at positions
 * {@code j ≤ P}, and with a sliding window W only {@code j > P − W}. Scores {@code q·k / sqrt(dim)} and softmax
 * are in f32.
 */
public final class Attention {
    private Attention() {}

    private static final int KEY_GROUP = 4 * L;       // keys scored together: 4 vector accumulators

    static {
        if (KvCache.BLOCK % KEY_GROUP != 0)
            throw new UnsupportedOperationException(L + "-lane float vectors: KV cache blocks of " + KvCache.BLOCK + " positions need at most 16 lanes");
    }
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    /** The shape of one attention call. */
    public record Shape(int heads, int kvHeads, int headDim, int slidingWindow) {
        int qDim() { return heads * headDim; }

        int kvDim() { return kvHeads * headDim; }
    }

    /**
     * Writes the new keys and values of every sequence into its cache at positions {@code past[s]...}; rows
     * {@code [seqStart[s], seqStart[s+1])} of k and v belong to sequence s.
     */
    public static void append(int layer, Shape sh, float[] k, float[] v, int[] seqStart, KvCache[] caches, int[] past) {
        int hd = sh.headDim;
        for (int s = 0; s < caches.length; s++) {
            KvCache c = caches[s];
            for (int t = seqStart[s]; t < seqStart[s + 1]; t++) {
                int pos = past[s] + t - seqStart[s];
                float[] kb = c.keyBlock(layer, pos / KvCache.BLOCK), vb = c.valueBlock(layer, pos / KvCache.BLOCK);
                for (int g = 0; g < sh.kvHeads; g++) {
                    int src = t * sh.kvDim() + g * hd;
                    for (int d = 0; d < hd; d++) {
                        kb[c.keyIndex(pos, g, d)] = k[src + d];
                        vb[c.valueIndex(pos, g, d)] = v[src + d];
                    }
                }
            }
        }
    }

    /**
     * out[t, h·dim ..] = softmax(q_t·K / sqrt(dim)) · V for every new token t and head h, reading each sequence's
     * cache (which must already hold the new tokens, see {@link #append}).
     *
     * @param probs null, or per sequence an array {@code [heads][new][context]} (context = past + new) that
     *              receives the probabilities (zeros where masked)
     */
    public static void forward(Parallel par, int layer, Shape sh, float[] q, int[] seqStart, KvCache[] caches, int[] past,
                               float[] out, float[][] probs) {
        int seqs = caches.length;
        par.forEach(seqs * sh.heads, task -> {
            int s = task / sh.heads, h = task % sh.heads;
            int n = seqStart[s + 1] - seqStart[s], ctx = past[s] + n;
            for (int i = 0; i < n; i++) {
                int probOff = probs == null ? -1 : (h * n + i) * ctx;
                query(layer, sh, q, seqStart[s] + i, h, caches[s], past[s] + i, out, probs == null ? null : probs[s], probOff);
            }
        });
    }

    /** Query row t of head h, at position pos. */
    private static void query(int layer, Shape sh, float[] q, int t, int h, KvCache c, int pos, float[] out,
                              float[] probs, int probOff) {
        final int B = KvCache.BLOCK;
        int hd = sh.headDim, g = h / (sh.heads / sh.kvHeads);
        int lo = sh.slidingWindow > 0 ? Math.max(0, pos - sh.slidingWindow + 1) : 0;
        int qo = t * sh.qDim() + h * hd;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] sc = scores((pos / B + 1) * B);
        int firstBlock = lo / B, lastBlock = pos / B;

        // scores: keys are stored [kvHead][dim][BLOCK], so KEY_GROUP consecutive keys take 4 FMAs per dimension
        int kBase = g * hd * B;
        for (int b = firstBlock; b <= lastBlock; b++) {
            float[] kb = c.keyBlock(layer, b);
            int first = b == firstBlock ? (lo % B) / KEY_GROUP * KEY_GROUP : 0;
            int end = b == lastBlock ? pos % B + 1 : B;
            for (int j0 = first; j0 < end; j0 += KEY_GROUP) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int d = 0; d < hd; d++) {
                    FloatVector qd = FloatVector.broadcast(F, q[qo + d]);
                    int ko = kBase + d * B + j0;
                    a0 = FloatVector.fromArray(F, kb, ko).fma(qd, a0);
                    a1 = FloatVector.fromArray(F, kb, ko + L).fma(qd, a1);
                    a2 = FloatVector.fromArray(F, kb, ko + 2 * L).fma(qd, a2);
                    a3 = FloatVector.fromArray(F, kb, ko + 3 * L).fma(qd, a3);
                }
                int so = b * B + j0;
                a0.mul(scale).intoArray(sc, so);
                a1.mul(scale).intoArray(sc, so + L);
                a2.mul(scale).intoArray(sc, so + 2 * L);
                a3.mul(scale).intoArray(sc, so + 3 * L);
            }
        }

        softmax(sc, lo, pos + 1);
        if (probs != null) System.arraycopy(sc, lo, probs, probOff + lo, pos + 1 - lo);

        // out = Σ_j p_j · v_j; values are stored [kvHead][BLOCK][dim]
        int oo = t * sh.qDim() + h * hd;
        int d0 = 0;
        for (; d0 + 4 * L <= hd; d0 += 4 * L) {
            FloatVector o0 = FloatVector.zero(F), o1 = o0, o2 = o0, o3 = o0;
            for (int b = firstBlock; b <= lastBlock; b++) {
                float[] vb = c.valueBlock(layer, b);
                int j1 = Math.min(pos + 1, (b + 1) * B);
                for (int j = Math.max(lo, b * B); j < j1; j++) {
                    int vo = (g * B + j - b * B) * hd + d0;
                    FloatVector pj = FloatVector.broadcast(F, sc[j]);
                    o0 = FloatVector.fromArray(F, vb, vo).fma(pj, o0);
                    o1 = FloatVector.fromArray(F, vb, vo + L).fma(pj, o1);
                    o2 = FloatVector.fromArray(F, vb, vo + 2 * L).fma(pj, o2);
                    o3 = FloatVector.fromArray(F, vb, vo + 3 * L).fma(pj, o3);
                }
            }
            o0.intoArray(out, oo + d0);
            o1.intoArray(out, oo + d0 + L);
            o2.intoArray(out, oo + d0 + 2 * L);
            o3.intoArray(out, oo + d0 + 3 * L);
        }
        for (; d0 + L <= hd; d0 += L) {
            FloatVector o0 = FloatVector.zero(F);
            for (int b = firstBlock; b <= lastBlock; b++) {
                float[] vb = c.valueBlock(layer, b);
                int j1 = Math.min(pos + 1, (b + 1) * B);
                for (int j = Math.max(lo, b * B); j < j1; j++)
                    o0 = FloatVector.fromArray(F, vb, (g * B + j - b * B) * hd + d0).fma(FloatVector.broadcast(F, sc[j]), o0);
            }
            o0.intoArray(out, oo + d0);
        }
        for (; d0 < hd; d0++) {
            float o = 0;
            for (int b = firstBlock; b <= lastBlock; b++) {
                float[] vb = c.valueBlock(layer, b);
                int j1 = Math.min(pos + 1, (b + 1) * B);
                for (int j = Math.max(lo, b * B); j < j1; j++) o = Math.fma(sc[j], vb[(g * B + j - b * B) * hd + d0], o);
            }
            out[oo + d0] = o;
        }
    }

    private static float[] scores(int n) {
        float[] s = SCORES.get();
        if (s.length < n) {
            s = new float[Math.max(n, s.length * 2)];
            SCORES.set(s);
        }
        return s;
    }

    /** In place over x[from, to): x = exp(x − max) / Σ exp(x − max). */
    static void softmax(float[] x, int from, int to) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = from; j < to; j++) max = Math.max(max, x[j]);
        FloatVector m = FloatVector.broadcast(F, max);
        FloatVector acc = FloatVector.zero(F);
        int j = from;
        for (; j <= to - L; j += L) {
            FloatVector e = FloatVector.fromArray(F, x, j).sub(m).lanewise(VectorOperators.EXP);
            e.intoArray(x, j);
            acc = acc.add(e);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; j < to; j++) {
            x[j] = (float) Math.exp(x[j] - max);
            sum += x[j];
        }
        for (j = from; j <= to - L; j += L) FloatVector.fromArray(F, x, j).div(sum).intoArray(x, j);
        for (; j < to; j++) x[j] /= sum;
    }
}
