package io.rationale.cpu;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.LrpRules;
import io.rationale.engine.RuleMode;
import jdk.incubator.vector.FloatVector;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * Causal grouped-query attention over packed sequences, each with its own KV cache. Query head h reads KV head
 * {@code h / (heads / kvHeads)} (Hugging Face repeat_kv). A query at position P sees keys at positions
 * {@code j ≤ P}, and with a sliding window W only {@code j > P − W}. Scores {@code q·k / sqrt(dim)} and softmax
 * are in f32. The backward pass ({@link #backward}) recomputes the probabilities from the recorded q and k and
 * takes the plain gradient or the AttnLRP / CP-LRP rules at the attention inputs.
 */
public final class Attention {
    private Attention() {}

    private static final int KEY_GROUP = 4 * L;       // keys scored together: 4 vector accumulators

    static {
        if (CpuKvCache.BLOCK % KEY_GROUP != 0)
            throw new UnsupportedOperationException(L + "-lane float vectors: KV cache blocks of " + CpuKvCache.BLOCK + " positions need at most 16 lanes");
    }
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    /** The shape of one attention call. */
    public record Shape(int heads, int kvHeads, int headDim, int slidingWindow) {
        int qDim() { return heads * headDim; }

        int kvDim() { return kvHeads * headDim; }
    }

    /**
     * An {@link AttentionIntervention} resolved for the sequences of one forward (the same at every steered layer).
     *
     * @param post      post-softmax (else pre-softmax)
     * @param renorm    post-softmax with renormalisation (rows divided by 1 + their biases)
     * @param causal    only keys the query sees
     * @param heads     per query head whether it is steered
     * @param bias      per sequence, the bias of each context position {@code [ctx]}, or null for none
     * @param listed    per sequence, the listed positions inside its context (for the keys a non-causal bias adds)
     * @param fromQuery per sequence, the first query position steered
     */
    public record Steering(boolean post, boolean renorm, boolean causal, boolean[] heads, float[][] bias, int[][] listed, int[] fromQuery) {

        /** Resolves {@code iv} for sequences with contexts {@code ctx} (cached + new positions). */
        public static Steering of(AttentionIntervention iv, int numHeads, int[] ctx) {
            int seqs = ctx.length;
            boolean[] heads = new boolean[numHeads];
            for (int h = 0; h < numHeads; h++) heads[h] = iv.atHead(h);
            float[][] bias = new float[seqs][];
            int[][] listed = new int[seqs][];
            int[] from = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                AttentionIntervention.KeyBias kb = iv.bias(s, seqs);
                if (kb == null) continue;
                int n = ctx[s];
                bias[s] = kb.dense(n);
                listed[s] = java.util.Arrays.stream(kb.positions()).filter(p -> p < n).sorted().toArray();
                from[s] = kb.fromQuery();
            }
            return new Steering(iv.site().post(), iv.site() == AttentionIntervention.Site.POST_SOFTMAX_RENORM, iv.causal(), heads, bias,
                    listed, from);
        }

        /** The bias row of query head h of sequence s at position pos, or null when that row is not steered. */
        float[] row(int s, int h, int pos) {
            return bias[s] != null && heads[h] && pos >= fromQuery[s] ? bias[s] : null;
        }

        /**
         * The factor a steered row of sequence s at position pos is multiplied by: {@code 1/(1 + Σ b_j)} over the keys
         * its bias reaches (visible ones, or every listed one of the context when not causal) with renormalisation,
         * else 1.
         */
        float rowScale(int s, int pos, int window) {
            if (!renorm) return 1f;
            int lo = window > 0 ? Math.max(0, pos - window + 1) : 0;
            double sum = 1;
            for (int j : listed[s]) if (!causal || (j >= lo && j <= pos)) sum += bias[s][j];
            return (float) (1 / sum);
        }
    }

    /**
     * Writes the new keys and values of every sequence into its cache at positions {@code past[s]...}; rows
     * {@code [seqStart[s], seqStart[s+1])} of k and v belong to sequence s.
     */
    public static void append(int layer, Shape sh, float[] k, float[] v, int[] seqStart, CpuKvCache[] caches, int[] past) {
        int hd = sh.headDim;
        for (int s = 0; s < caches.length; s++) {
            CpuKvCache c = caches[s];
            for (int t = seqStart[s]; t < seqStart[s + 1]; t++) {
                int pos = past[s] + t - seqStart[s];
                float[] kb = c.keyBlock(layer, pos / CpuKvCache.BLOCK), vb = c.valueBlock(layer, pos / CpuKvCache.BLOCK);
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
     * @param steer null, or the attention intervention of this layer ({@link Steering}); sequence s's rows are then
     *              at positions {@code past[s] + i} of a context of {@code steer.bias()[s].length} positions
     */
    public static void forward(Parallel par, int layer, Shape sh, float[] q, int[] seqStart, CpuKvCache[] caches, int[] past,
                               float[] out, float[][] probs, Steering steer) {
        int seqs = caches.length;
        par.forEach(seqs * sh.heads, task -> {
            int s = task / sh.heads, h = task % sh.heads;
            int n = seqStart[s + 1] - seqStart[s], ctx = past[s] + n;
            int i = 0;
            if (steer == null && sh.slidingWindow == 0 && sh.headDim % L == 0)
                for (; i + ROWS <= n; i += ROWS)
                    queryRows(layer, sh, q, seqStart[s] + i, h, caches[s], past[s] + i, out, probs == null ? null : probs[s],
                            probs == null ? -1 : (h * n + i) * ctx, ctx);
            for (; i < n; i++) {
                int probOff = probs == null ? -1 : (h * n + i) * ctx;
                int pos = past[s] + i;
                float[] bias = steer == null ? null : steer.row(s, h, pos);
                float rowScale = bias == null ? 1f : steer.rowScale(s, pos, sh.slidingWindow);
                query(layer, sh, q, seqStart[s] + i, h, caches[s], pos, out, probs == null ? null : probs[s], probOff,
                        bias, bias != null && steer.post(), rowScale);
                if (bias != null && steer.post() && !steer.causal())
                    steerBeyond(layer, sh, bias, rowScale, steer.listed()[s], seqStart[s] + i, h, caches[s], pos, out);
            }
        });
    }

    /**
     * The keys a non-causal post-softmax bias reaches beyond what the query sees: {@code out += rowScale·b_j·v_j} for
     * listed positions j of the context outside [lo, pos] (later keys of the span in a prefill, keys left of a sliding
     * window). The visible keys got their bias in {@link #query}.
     */
    private static void steerBeyond(int layer, Shape sh, float[] bias, float rowScale, int[] listed, int t, int h, CpuKvCache c,
                                    int pos, float[] out) {
        final int B = CpuKvCache.BLOCK;
        int hd = sh.headDim, g = h / (sh.heads / sh.kvHeads), oo = t * sh.qDim() + h * hd;
        int lo = sh.slidingWindow > 0 ? Math.max(0, pos - sh.slidingWindow + 1) : 0;
        for (int j : listed) {
            if (j >= lo && j <= pos) continue;
            float b = bias[j] * rowScale;
            float[] vb = c.valueBlock(layer, j / B);
            int vo = (g * B + j % B) * hd;
            for (int d = 0; d < hd; d++) out[oo + d] = Math.fma(b, vb[vo + d], out[oo + d]);
        }
    }

    /** Query rows scored together by {@link #queryRows}. */
    private static final int ROWS = 4;

    /**
     * {@link #query} for {@link #ROWS} consecutive rows t0.. of head h at positions pos0.. (no intervention, no
     * sliding window, head dim a whole number of vectors): every key and value vector loaded feeds all rows, where
     * one row at a time loaded each for one FMA. Each row's sums run in the same order as in {@link #query} (a row's
     * weight is 0 for the keys after its own position), so the results are the same.
     */
    private static void queryRows(int layer, Shape sh, float[] q, int t0, int h, CpuKvCache c, int pos0, float[] out,
                                  float[] probs, int probOff, int probStride) {
        final int B = CpuKvCache.BLOCK;
        int hd = sh.headDim, g = h / (sh.heads / sh.kvHeads), qd = sh.qDim();
        int last = pos0 + ROWS - 1, lastBlock = last / B, width = (lastBlock + 1) * B;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] sc = scores(ROWS * width);               // row r's scores at r·width
        int q0 = t0 * qd + h * hd, q1 = q0 + qd, q2 = q1 + qd, q3 = q2 + qd;

        int kBase = g * hd * B;
        for (int b = 0; b <= lastBlock; b++) {
            float[] kb = c.keyBlock(layer, b);
            int end = b == lastBlock ? last % B + 1 : B;
            for (int j0 = 0; j0 < end; j0 += KEY_GROUP) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                for (int d = 0; d < hd; d++) {
                    int ko = kBase + d * B + j0;
                    FloatVector k0 = FloatVector.fromArray(F, kb, ko), k1 = FloatVector.fromArray(F, kb, ko + L);
                    FloatVector k2 = FloatVector.fromArray(F, kb, ko + 2 * L), k3 = FloatVector.fromArray(F, kb, ko + 3 * L);
                    FloatVector m = FloatVector.broadcast(F, q[q0 + d]);
                    a00 = k0.fma(m, a00); a01 = k1.fma(m, a01); a02 = k2.fma(m, a02); a03 = k3.fma(m, a03);
                    m = FloatVector.broadcast(F, q[q1 + d]);
                    a10 = k0.fma(m, a10); a11 = k1.fma(m, a11); a12 = k2.fma(m, a12); a13 = k3.fma(m, a13);
                    m = FloatVector.broadcast(F, q[q2 + d]);
                    a20 = k0.fma(m, a20); a21 = k1.fma(m, a21); a22 = k2.fma(m, a22); a23 = k3.fma(m, a23);
                    m = FloatVector.broadcast(F, q[q3 + d]);
                    a30 = k0.fma(m, a30); a31 = k1.fma(m, a31); a32 = k2.fma(m, a32); a33 = k3.fma(m, a33);
                }
                int so = b * B + j0;
                a00.mul(scale).intoArray(sc, so); a01.mul(scale).intoArray(sc, so + L);
                a02.mul(scale).intoArray(sc, so + 2 * L); a03.mul(scale).intoArray(sc, so + 3 * L);
                so += width;
                a10.mul(scale).intoArray(sc, so); a11.mul(scale).intoArray(sc, so + L);
                a12.mul(scale).intoArray(sc, so + 2 * L); a13.mul(scale).intoArray(sc, so + 3 * L);
                so += width;
                a20.mul(scale).intoArray(sc, so); a21.mul(scale).intoArray(sc, so + L);
                a22.mul(scale).intoArray(sc, so + 2 * L); a23.mul(scale).intoArray(sc, so + 3 * L);
                so += width;
                a30.mul(scale).intoArray(sc, so); a31.mul(scale).intoArray(sc, so + L);
                a32.mul(scale).intoArray(sc, so + 2 * L); a33.mul(scale).intoArray(sc, so + 3 * L);
            }
        }
        for (int r = 0; r < ROWS; r++) {
            int base = r * width, to = pos0 + r + 1;
            softmax(sc, base, base + to);
            if (probs != null) System.arraycopy(sc, base, probs, probOff + r * probStride, to);
            for (int j = to; j <= last; j++) sc[base + j] = 0f;  // keys after this row's position: weight 0
        }

        // out_r = Σ_j p_rj · v_j, values stored [kvHead][BLOCK][dim]; 4 rows × 4 vectors, then 4 rows × 1 vector
        int d0 = 0;
        for (; d0 + 4 * L <= hd; d0 += 4 * L) {
            FloatVector o00 = FloatVector.zero(F), o01 = o00, o02 = o00, o03 = o00, o10 = o00, o11 = o00, o12 = o00, o13 = o00;
            FloatVector o20 = o00, o21 = o00, o22 = o00, o23 = o00, o30 = o00, o31 = o00, o32 = o00, o33 = o00;
            for (int b = 0; b <= lastBlock; b++) {
                float[] vb = c.valueBlock(layer, b);
                int j1 = Math.min(last + 1, (b + 1) * B);
                for (int j = b * B; j < j1; j++) {
                    int vo = (g * B + j - b * B) * hd + d0;
                    FloatVector v0 = FloatVector.fromArray(F, vb, vo), v1 = FloatVector.fromArray(F, vb, vo + L);
                    FloatVector v2 = FloatVector.fromArray(F, vb, vo + 2 * L), v3 = FloatVector.fromArray(F, vb, vo + 3 * L);
                    FloatVector p = FloatVector.broadcast(F, sc[j]);
                    o00 = v0.fma(p, o00); o01 = v1.fma(p, o01); o02 = v2.fma(p, o02); o03 = v3.fma(p, o03);
                    p = FloatVector.broadcast(F, sc[width + j]);
                    o10 = v0.fma(p, o10); o11 = v1.fma(p, o11); o12 = v2.fma(p, o12); o13 = v3.fma(p, o13);
                    p = FloatVector.broadcast(F, sc[2 * width + j]);
                    o20 = v0.fma(p, o20); o21 = v1.fma(p, o21); o22 = v2.fma(p, o22); o23 = v3.fma(p, o23);
                    p = FloatVector.broadcast(F, sc[3 * width + j]);
                    o30 = v0.fma(p, o30); o31 = v1.fma(p, o31); o32 = v2.fma(p, o32); o33 = v3.fma(p, o33);
                }
            }
            int oo = q0 + d0;
            o00.intoArray(out, oo); o01.intoArray(out, oo + L); o02.intoArray(out, oo + 2 * L); o03.intoArray(out, oo + 3 * L);
            oo += qd;
            o10.intoArray(out, oo); o11.intoArray(out, oo + L); o12.intoArray(out, oo + 2 * L); o13.intoArray(out, oo + 3 * L);
            oo += qd;
            o20.intoArray(out, oo); o21.intoArray(out, oo + L); o22.intoArray(out, oo + 2 * L); o23.intoArray(out, oo + 3 * L);
            oo += qd;
            o30.intoArray(out, oo); o31.intoArray(out, oo + L); o32.intoArray(out, oo + 2 * L); o33.intoArray(out, oo + 3 * L);
        }
        for (; d0 < hd; d0 += L) {
            FloatVector o0 = FloatVector.zero(F), o1 = o0, o2 = o0, o3 = o0;
            for (int b = 0; b <= lastBlock; b++) {
                float[] vb = c.valueBlock(layer, b);
                int j1 = Math.min(last + 1, (b + 1) * B);
                for (int j = b * B; j < j1; j++) {
                    FloatVector v = FloatVector.fromArray(F, vb, (g * B + j - b * B) * hd + d0);
                    o0 = v.fma(FloatVector.broadcast(F, sc[j]), o0);
                    o1 = v.fma(FloatVector.broadcast(F, sc[width + j]), o1);
                    o2 = v.fma(FloatVector.broadcast(F, sc[2 * width + j]), o2);
                    o3 = v.fma(FloatVector.broadcast(F, sc[3 * width + j]), o3);
                }
            }
            o0.intoArray(out, q0 + d0); o1.intoArray(out, q1 + d0); o2.intoArray(out, q2 + d0); o3.intoArray(out, q3 + d0);
        }
    }

    /**
     * Query row t of head h, at position pos. {@code bias}: null, or the intervention's bias per context position,
     * added to the scaled scores ({@code post} false) or to the probabilities ({@code post} true) of the keys the
     * query sees; the weights are then multiplied by {@code rowScale} (renormalisation; 1 otherwise).
     */
    private static void query(int layer, Shape sh, float[] q, int t, int h, CpuKvCache c, int pos, float[] out,
                              float[] probs, int probOff, float[] bias, boolean post, float rowScale) {
        final int B = CpuKvCache.BLOCK;
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

        if (bias != null && !post) for (int j = lo; j <= pos; j++) sc[j] += bias[j];
        softmax(sc, lo, pos + 1);
        if (probs != null) System.arraycopy(sc, lo, probs, probOff + lo, pos + 1 - lo);
        if (bias != null && post) for (int j = lo; j <= pos; j++) sc[j] += bias[j];
        if (rowScale != 1f) for (int j = lo; j <= pos; j++) sc[j] *= rowScale;

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
            FloatVector e = Vec.exp(FloatVector.fromArray(F, x, j).sub(m));
            e.intoArray(x, j);
            acc = acc.add(e);
        }
        float sum = Vec.sum(acc);
        for (; j < to; j++) {
            x[j] = (float) Math.exp(x[j] - max);
            sum += x[j];
        }
        for (j = from; j <= to - L; j += L) FloatVector.fromArray(F, x, j).div(sum).intoArray(x, j);
        for (; j < to; j++) x[j] /= sum;
    }

    // ---------------------------------------------------------------- backward

    /**
     * Backward of {@link #forward} for sequences that start at position 0 (no earlier cache): from the gradient of
     * the attention output {@code dOut [n, heads·dim]} to dq {@code [n, heads·dim]} and dk, dv {@code [n, kvHeads·dim]}
     * (q and k after RoPE, as recorded), then {@code mode}'s rule. Per query row the probabilities p are recomputed
     * from q and k; with {@code dp_j = dO·v_j}: {@code dv_j += p_j·dO}, softmax backward
     * {@code ds_j = p_j·(dp_j − Σ_i p_i·dp_i)}, and through the scaled scores {@code dq += ds_j·k_j/√dim},
     * {@code dk_j += ds_j·q/√dim}. Query heads that share a KV head (GQA) add into the same dk, dv; a task owns one
     * (sequence, KV head) pair so no two tasks write the same place.
     */
    public static void backward(Parallel par, Shape sh, RuleMode mode, float[] q, float[] k, float[] v, int[] seqStart,
                                float[] dOut, float[] dq, float[] dk, float[] dv) {
        backward(par, sh, mode, q, k, v, seqStart, null, 0, null, dOut, dq, dk, dv);
    }

    /**
     * As above, for sequences that may run after a cached prefix, and with only some queries.
     *
     * @param prefix    null, or per sequence null or the cache holding its first {@code prefix[s].length()}
     *                  positions (the rows of q, k, v then sit at positions {@code prefix[s].length() + i}): their
     *                  keys and values of layer {@code layer} are constants the queries also attend to, so dq sums
     *                  over prefix and new keys while dk and dv exist for the new keys only
     * @param queryFrom null (all), or per sequence the first row whose query ran: the other rows' q and dOut are not
     *                  read and their dq is zero; keys and values get the gradient of the queries that ran
     */
    public static void backward(Parallel par, Shape sh, RuleMode mode, float[] q, float[] k, float[] v, int[] seqStart,
                                CpuKvCache[] prefix, int layer, int[] queryFrom, float[] dOut, float[] dq, float[] dk, float[] dv) {
        int seqs = seqStart.length - 1;
        LrpRules rules = mode.rules();
        boolean throughScores = !rules.stopGradientQK();
        par.forEach(seqs * sh.kvHeads, task -> {
            int s = task / sh.kvHeads, g = task % sh.kvHeads;
            backwardGroup(sh, throughScores, q, k, v, prefix == null ? null : prefix[s], layer, seqStart[s], seqStart[s + 1],
                    queryFrom == null ? 0 : queryFrom[s], g, dOut, dq, dk, dv);
        });
        applyRules(rules, dq, dk, dv, seqStart[seqs], sh);
    }

    /**
     * The attention rules of {@link LrpRules} at the attention inputs: AttnLRP's uniform rule at {@code q·kᵀ} and at
     * {@code p·v} scales the gradients into q and k (1/4) and v (1/2); under CP-LRP the score backward was skipped,
     * so q and k get no gradient.
     */
    static void applyRules(LrpRules rules, float[] dq, float[] dk, float[] dv, int n, Shape sh) {
        if (rules.stopGradientQK()) {
            java.util.Arrays.fill(dq, 0, n * sh.qDim(), 0f);
            java.util.Arrays.fill(dk, 0, n * sh.kvDim(), 0f);
        } else if (rules.qkGradientScale() != 1f) {
            scale(dq, n * sh.qDim(), rules.qkGradientScale());
            scale(dk, n * sh.kvDim(), rules.qkGradientScale());
        }
        if (rules.vGradientScale() != 1f) scale(dv, n * sh.kvDim(), rules.vGradientScale());
    }

    /** Query rows per block: each key's dk and dv are updated once per block (not once per query). */
    static final int BQ = 16;

    private static final ThreadLocal<float[][]> BACK = ThreadLocal.withInitial(() -> new float[5][0]);

    private static float[] scratch(float[][] buf, int slot, int size) {
        if (buf[slot].length < size) buf[slot] = new float[size];
        return buf[slot];
    }

    /**
     * Rows [t0, t1) of one sequence (queries from row t0 + from on), after the P cached positions of {@code pc} (null:
     * none), KV head g and the query heads that read it. Keys and values of the context (the prefix's, then the
     * rows') are transposed once ({@code [dim][keys]}) so that a query's scores and {@code dp_j = dO·v_j} are vector
     * FMAs over keys; per block of {@link #BQ} queries the probabilities and score gradients are kept as rows, dq is
     * a register sum over keys, and dk, dv are register sums over the block's queries (new keys only: the prefix's
     * are constants). Indices j are context positions, query row i sits at position P + i.
     */
    private static void backwardGroup(Shape sh, boolean throughScores, float[] q, float[] k, float[] v, CpuKvCache pc, int layer,
                                      int t0, int t1, int from, int g, float[] dOut, float[] dq, float[] dk, float[] dv) {
        int hd = sh.headDim, n = t1 - t0, Q = sh.qDim(), K = sh.kvDim(), group = sh.heads / sh.kvHeads, W = sh.slidingWindow;
        int past = pc == null ? 0 : pc.length(), ctx = past + n;
        int np = (ctx + L - 1) / L * L;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[][] buf = BACK.get();
        float[] kt = scratch(buf, 0, hd * np), vt = scratch(buf, 1, hd * np);
        float[] P = scratch(buf, 2, BQ * np), D = scratch(buf, 3, BQ * np), kr = scratch(buf, 4, ctx * hd);
        for (int d = 0; d < hd; d++) {
            java.util.Arrays.fill(kt, d * np + ctx, (d + 1) * np, 0f);
            java.util.Arrays.fill(vt, d * np + ctx, (d + 1) * np, 0f);
        }
        for (int b0 = 0; b0 < past; b0 += CpuKvCache.BLOCK) {        // the prefix's keys and values, from its cache blocks
            int len = Math.min(CpuKvCache.BLOCK, past - b0);
            float[] kb = pc.keyBlock(layer, b0 / CpuKvCache.BLOCK), vb = pc.valueBlock(layer, b0 / CpuKvCache.BLOCK);
            for (int d = 0; d < hd; d++) System.arraycopy(kb, pc.keyIndex(b0, g, d), kt, d * np + b0, len);
            for (int j = b0; j < b0 + len; j++) {
                int vo = pc.valueIndex(j, g, 0);
                for (int d = 0; d < hd; d++) {
                    vt[d * np + j] = vb[vo + d];
                    kr[j * hd + d] = kt[d * np + j];
                }
            }
        }
        for (int j = 0; j < n; j++) {
            int ko = (t0 + j) * K + g * hd, c = past + j;
            for (int d = 0; d < hd; d++) {
                kt[d * np + c] = k[ko + d];
                vt[d * np + c] = v[ko + d];
            }
            System.arraycopy(k, ko, kr, c * hd, hd);
            java.util.Arrays.fill(dk, ko, ko + hd, 0f);
            java.util.Arrays.fill(dv, ko, ko + hd, 0f);
            java.util.Arrays.fill(dq, (t0 + j) * Q + g * group * hd, (t0 + j) * Q + (g + 1) * group * hd, 0f);
        }
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int i0 = from; i0 < n; i0 += BQ) {
                int i1 = Math.min(n, i0 + BQ), rows = i1 - i0, c0 = past + i0, c1 = past + i1;   // context positions of the block
                int jLo = W > 0 ? Math.max(0, c0 - W + 1) : 0;
                int jStart = jLo / L * L, jEnd = Math.min(np, (c1 - 1) / L * L + L);
                for (int r = 0; r < rows; r++) {
                    int c = c0 + r, lo = W > 0 ? Math.max(0, c - W + 1) : 0;
                    int qo = (t0 + i0 + r) * Q + h * hd, po = r * np;
                    scoresAndDp(q, dOut, qo, kt, vt, np, hd, scale, Math.max(jStart, lo / L * L), Math.min(jEnd, c / L * L + L), P, D, po);
                    softmax(P, po + lo, po + c + 1);
                    if (!throughScores) continue;
                    softmaxBackward(P, D, po + lo, po + c + 1);            // D: d scores
                    for (int j = lo; j <= c; j++) D[po + j] *= scale;       // through the 1/√dim scaling
                    weightedRows(D, po, lo, c + 1, kr, 0, hd, dq, qo, hd);  // dq_i = Σ_j ds_j·k_j
                }
                for (int j = Math.max(jLo, past); j < c1; j++) {          // dk_j += Σ_i ds_ij·q_i, dv_j += Σ_i p_ij·dO_i (new keys)
                    int r0 = Math.max(0, j - c0), r1 = W > 0 ? Math.min(rows, j + W - c0) : rows;
                    if (r0 >= r1) continue;
                    int ko = (t0 + j - past) * K + g * hd, mo = (t0 + i0) * Q + h * hd;
                    weightedRowsAdd(P, r0 * np + j, np, r1 - r0, dOut, mo + r0 * Q, Q, dv, ko, hd);
                    if (throughScores) weightedRowsAdd(D, r0 * np + j, np, r1 - r0, q, mo + r0 * Q, Q, dk, ko, hd);
                }
            }
        }
    }

    /**
     * For keys j in [from, to) (a superset of the visible ones, whole vectors): {@code S[off+j] = (q·k_j)·scale} and
     * {@code D[off+j] = dO·v_j}, from the transposed keys and values {@code kt, vt [dim][np]}.
     */
    private static void scoresAndDp(float[] q, float[] dO, int qo, float[] kt, float[] vt, int np, int hd, float scale,
                                    int from, int to, float[] S, float[] D, int off) {
        int j = from;
        for (; j + 2 * L <= to; j += 2 * L) {
            FloatVector s0 = FloatVector.zero(F), s1 = s0, d0 = s0, d1 = s0;
            for (int d = 0; d < hd; d++) {
                FloatVector qd = FloatVector.broadcast(F, q[qo + d]), od = FloatVector.broadcast(F, dO[qo + d]);
                int o = d * np + j;
                s0 = FloatVector.fromArray(F, kt, o).fma(qd, s0);
                s1 = FloatVector.fromArray(F, kt, o + L).fma(qd, s1);
                d0 = FloatVector.fromArray(F, vt, o).fma(od, d0);
                d1 = FloatVector.fromArray(F, vt, o + L).fma(od, d1);
            }
            s0.mul(scale).intoArray(S, off + j);
            s1.mul(scale).intoArray(S, off + j + L);
            d0.intoArray(D, off + j);
            d1.intoArray(D, off + j + L);
        }
        for (; j < to; j += L) {
            FloatVector s0 = FloatVector.zero(F), d0 = s0;
            for (int d = 0; d < hd; d++) {
                int o = d * np + j;
                s0 = FloatVector.fromArray(F, kt, o).fma(FloatVector.broadcast(F, q[qo + d]), s0);
                d0 = FloatVector.fromArray(F, vt, o).fma(FloatVector.broadcast(F, dO[qo + d]), d0);
            }
            s0.mul(scale).intoArray(S, off + j);
            d0.intoArray(D, off + j);
        }
    }

    /** {@code y[yo..yo+hd) = Σ_{j∈[from,to)} w[wo+j]·m[mBase + j·ld ..]}: a weighted sum of rows, in registers. */
    private static void weightedRows(float[] w, int wo, int from, int to, float[] m, int mBase, int ld, float[] y, int yo, int hd) {
        int d0 = 0;
        for (; d0 + 4 * L <= hd; d0 += 4 * L) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int j = from; j < to; j++) {
                FloatVector b = FloatVector.broadcast(F, w[wo + j]);
                int mo = mBase + j * ld + d0;
                a0 = FloatVector.fromArray(F, m, mo).fma(b, a0);
                a1 = FloatVector.fromArray(F, m, mo + L).fma(b, a1);
                a2 = FloatVector.fromArray(F, m, mo + 2 * L).fma(b, a2);
                a3 = FloatVector.fromArray(F, m, mo + 3 * L).fma(b, a3);
            }
            a0.intoArray(y, yo + d0);
            a1.intoArray(y, yo + d0 + L);
            a2.intoArray(y, yo + d0 + 2 * L);
            a3.intoArray(y, yo + d0 + 3 * L);
        }
        for (; d0 + L <= hd; d0 += L) {
            FloatVector a0 = FloatVector.zero(F);
            for (int j = from; j < to; j++) a0 = FloatVector.fromArray(F, m, mBase + j * ld + d0).fma(FloatVector.broadcast(F, w[wo + j]), a0);
            a0.intoArray(y, yo + d0);
        }
        for (; d0 < hd; d0++) {
            float a = 0;
            for (int j = from; j < to; j++) a = Math.fma(w[wo + j], m[mBase + j * ld + d0], a);
            y[yo + d0] = a;
        }
    }

    /** {@code y[yo..yo+hd) += Σ_{r<rows} w[wo + r·ws]·m[mo + r·ld ..]}: a strided column of weights times rows. */
    private static void weightedRowsAdd(float[] w, int wo, int ws, int rows, float[] m, int mo, int ld, float[] y, int yo, int hd) {
        int d0 = 0;
        for (; d0 + 4 * L <= hd; d0 += 4 * L) {
            FloatVector a0 = FloatVector.fromArray(F, y, yo + d0), a1 = FloatVector.fromArray(F, y, yo + d0 + L);
            FloatVector a2 = FloatVector.fromArray(F, y, yo + d0 + 2 * L), a3 = FloatVector.fromArray(F, y, yo + d0 + 3 * L);
            for (int r = 0; r < rows; r++) {
                FloatVector b = FloatVector.broadcast(F, w[wo + r * ws]);
                int o = mo + r * ld + d0;
                a0 = FloatVector.fromArray(F, m, o).fma(b, a0);
                a1 = FloatVector.fromArray(F, m, o + L).fma(b, a1);
                a2 = FloatVector.fromArray(F, m, o + 2 * L).fma(b, a2);
                a3 = FloatVector.fromArray(F, m, o + 3 * L).fma(b, a3);
            }
            a0.intoArray(y, yo + d0);
            a1.intoArray(y, yo + d0 + L);
            a2.intoArray(y, yo + d0 + 2 * L);
            a3.intoArray(y, yo + d0 + 3 * L);
        }
        for (; d0 + L <= hd; d0 += L) {
            FloatVector a0 = FloatVector.fromArray(F, y, yo + d0);
            for (int r = 0; r < rows; r++) a0 = FloatVector.fromArray(F, m, mo + r * ld + d0).fma(FloatVector.broadcast(F, w[wo + r * ws]), a0);
            a0.intoArray(y, yo + d0);
        }
        for (; d0 < hd; d0++) {
            float a = y[yo + d0];
            for (int r = 0; r < rows; r++) a = Math.fma(w[wo + r * ws], m[mo + r * ld + d0], a);
            y[yo + d0] = a;
        }
    }

    /**
     * Softmax backward over [from, to), in place: {@code d[j] ← p[j]·(d[j] − Σ_i p[i]·d[i])} (p the probabilities,
     * d the gradient of p on entry, of the scores on return). The same in every rule mode: input × this gradient is
     * the deep-Taylor rule {@code R_in = x ⊙ (R − p·ΣR)} with {@code R = p ⊙ d}.
     */
    static void softmaxBackward(float[] p, float[] d, int from, int to) {
        float sum = 0;
        for (int j = from; j < to; j++) sum += p[j] * d[j];
        for (int j = from; j < to; j++) d[j] = p[j] * (d[j] - sum);
    }

    private static void scale(float[] x, int n, float f) {
        for (int i = 0; i < n; i++) x[i] *= f;
    }
}
