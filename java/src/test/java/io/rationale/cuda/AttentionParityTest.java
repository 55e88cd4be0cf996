package io.rationale.cuda;

import io.rationale.cpu.Attention;
import io.rationale.cpu.CpuKvCache;
import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.AttentionIntervention.KeyBias;
import io.rationale.engine.AttentionIntervention.Site;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * {@code kvcache.cu} and {@code attention.cu} against {@link Attention} on the same keys, values and queries:
 * {@code kv_append} into device blocks against {@link Attention#append} into a {@link CpuKvCache}, then
 * {@code attn_prefill_d*} and {@code attn_decode_d*} (each on every case: the decode kernel is correct for any
 * batch), with flash-decoding splits and {@code attn_combine_*}, output in f32, bf16 and f16, and
 * {@code attn_probs} against the CPU's probabilities, against {@link Attention#forward}. Cases: MHA and GQA
 * (G up to 24, more heads than a block's 16 rows), head dims 18 (scalar loads), 32, 40, 64, 128 and 256 (V reusing
 * the K buffer), sliding windows, cached prefixes (at and off a 64-position block boundary), several sequences per
 * batch (blocks of query rows spanning sequences), and the attention intervention through
 * {@link Attention.Steering}: pre-softmax, post-softmax causal and non-causal, per-sequence and shared biases,
 * a head subset and all heads, a query threshold, listed keys outside the window and beyond the context. (The
 * kernels also take a non-causal pre-softmax bias, which {@link AttentionIntervention} refuses and the CPU layer
 * therefore lacks; only {@code kernels_test.cpp} checks that mode, against its double reference.)
 *
 * <p>Caches: the CPU's holds transposed key blocks; the device's are blocks laid out as {@link BlockPool} documents
 * ({@code [kvHead][64][hd]} per layer, keys then values per layer, here layer 1 of 2 so that the offsets are not
 * zero), allocated separately, filled with NaN first and handed to the sequences in a shuffled order through the
 * block table. Both are filled in two appends, the cached prefix then the new tokens, from the same k and v rows
 * (on the device, slices of a fused {@code [n, q|k|v]} buffer, as the backend has them).
 *
 * <p>Tolerances (u = 2⁻²⁴):
 * <ul>
 * <li>cache writes: exact, and the other layer of every block stays untouched (NaN);</li>
 * <li>f32 output: both compute the same scores (the same FMA chain over the head dim, then the scale, and the
 *     pre-softmax bias added once), so they differ only in the softmax and the weighted sum: the CPU normalises
 *     and sums along chains of at most ctx roundings; the kernel sums online (per-lane chains of at most ctx
 *     keys, two rescalings per 32-key tile, a 5-step warp sum); exp differs by a few ulp. Per element
 *     {@code |Δ| ≤ (2·ctx + ctx/8 + 32)·u·S}, S = max |v| of the row's KV head over the context, times
 *     (1 + Σ|b|) for rows with a post-softmax bias (which adds Σ b_j·v_j);</li>
 * <li>bf16/f16 output: the kernel's f32 value within that bound, rounded (see {@link Parity.Errors#rounded});</li>
 * <li>probabilities: {@code |Δp| ≤ (2·ctx + ctx/8 + 32)·u·p} per entry (relative: the same exponentials over
 *     sums in different orders), and exactly 0 wherever the key is masked.</li>
 * </ul>
 * Measured: cache writes exact; f32 outputs within 0.062 of the bound (worst |Δ| 9.8e-7), probabilities within
 * 0.068 of theirs (worst |Δ| 1.8e-7); bf16 and f16 outputs the CPU value rounded except 40 of 237,696 (bf16) and
 * 100 of 183,936 (f16), rounded to its other neighbour.
 */
class AttentionParityTest extends ParityFixture {
    static final int LAYERS = 2, LAYER = 1, BLOCK = 64;
    static final int[] MODES = {0, 7};

    /** One sequence of a batch: positions [0, past) cached, [past, past + added) new. */
    record Seq(int past, int added) {
        int ctx() { return past + added; }
    }

    /** One attention problem; splits 0 means the backend's heuristic ({@link Kernels#decodeSplits}). */
    record Case(String name, int heads, int kvHeads, int hd, int window, List<Seq> seqs, int[] splits, DataType[] outs,
                boolean probs, int ldoPad, AttentionIntervention iv) {}

    // ---- the cases ------------------------------------------------------------------------------------------------

    static final DataType[] F32 = {DataType.F32};

    @Test
    void prefillMhaFreshAndCachedSequencesInEveryOutputType() {
        run(new Case("MHA hd32", 4, 4, 32, 0, List.of(new Seq(0, 37), new Seq(70, 5), new Seq(3, 1), new Seq(64, 20)),
                new int[] {1, 2}, DataType.values(), true, 8, null));
    }

    @Test
    void prefillGqaWithPrefixesAtAndOffABlockBoundary() {
        run(new Case("GQA 8/2 hd64", 8, 2, 64, 0, List.of(new Seq(64, 33), new Seq(100, 20)), new int[] {1, 3}, F32, true, 0, null));
    }

    @Test
    void slidingWindowWithAHeadDimBelowTheVariant() {
        run(new Case("window 24 hd40", 6, 2, 40, 24, List.of(new Seq(50, 30), new Seq(0, 9)), new int[] {1, 2},
                new DataType[] {DataType.F32, DataType.BF16}, true, 0, null));
    }

    @Test
    void headDimNotAMultipleOfFourTakesScalarLoads() {
        run(new Case("hd18", 2, 1, 18, 0, List.of(new Seq(5, 40)), new int[] {1}, new DataType[] {DataType.F32, DataType.F16}, true, 0, null));
    }

    @Test
    void headDims128And256() {
        run(new Case("hd128", 4, 2, 128, 0, List.of(new Seq(10, 20)), new int[] {1, 2}, F32, true, 0, null));
        run(new Case("hd256", 2, 1, 256, 0, List.of(new Seq(40, 9)), new int[] {1, 2}, new DataType[] {DataType.F32, DataType.BF16}, true, 0, null));
    }

    @Test
    void decodeLongContextsWithSplitsAndMoreHeadsThanABlocksRows() {
        run(new Case("decode 24/1 hd32", 24, 1, 32, 0, List.of(new Seq(699, 1), new Seq(299, 1), new Seq(64, 1)),
                new int[] {1, 2, 3, 0}, new DataType[] {DataType.F32, DataType.BF16}, true, 0, null));
        run(new Case("decode 8/2 hd64 window 100", 8, 2, 64, 100, List.of(new Seq(499, 1), new Seq(120, 1)),
                new int[] {1, 3}, F32, true, 0, null));
    }

    /** Two sequences: the first with its own list (keys around and beyond the context), the second a uniform span. */
    static List<KeyBias> biases(Site site, int ctx0) {
        boolean pre = site == Site.PRE_SOFTMAX;
        float big = pre ? 2.5f : 0.4f;
        KeyBias first = new KeyBias(new int[] {0, 3, 21, 30, ctx0 - 1, ctx0 + 15}, new float[] {big, -big, big / 2, -big / 3, big, big}, 22);
        KeyBias second = KeyBias.uniform(2, 6, pre ? 1.5f : 0.25f, 0);
        return List.of(first, second);
    }

    @Test
    void interventionInEveryModeOnPrefillBatches() {
        for (Site site : Site.values())
            for (boolean causal : site == Site.PRE_SOFTMAX ? new boolean[] {true} : new boolean[] {true, false})
                for (int window : new int[] {0, 16}) {
                    List<Seq> seqs = List.of(new Seq(20, 25), new Seq(0, 12));
                    String mode = site + (causal ? " causal" : " non-causal") + " window " + window;
                    // per-sequence biases on heads 1 and 3
                    run(new Case("iv " + mode + " heads {1,3}", 4, 2, 32, window, seqs, new int[] {1, 2}, F32, true, 0,
                            new AttentionIntervention(site, new int[] {LAYER}, new int[] {1, 3}, causal, biases(site, 45))));
                    // one bias for every sequence, every head
                    run(new Case("iv " + mode + " all heads", 4, 2, 32, window, seqs, new int[] {1}, new DataType[] {DataType.F16}, true, 0,
                            new AttentionIntervention(site, new int[] {LAYER}, null, causal, List.of(biases(site, 45).get(0)))));
                }
    }

    @Test
    void interventionInEveryModeOnDecodeWithSplits() {
        for (Site site : Site.values())
            for (boolean causal : site == Site.PRE_SOFTMAX ? new boolean[] {true} : new boolean[] {true, false}) {
                float b = site == Site.PRE_SOFTMAX ? 3f : 0.3f;
                AttentionIntervention iv = new AttentionIntervention(site, new int[] {LAYER}, new int[] {0, 5, 6}, causal, List.of(
                        new KeyBias(new int[] {1, 250, 399, 380, 500}, new float[] {b, -b, b, b / 2, b}, 0),
                        new KeyBias(new int[] {79, 10, 11}, new float[] {-b, b, b}, 50)));
                run(new Case("iv decode " + site + (causal ? " causal" : " non-causal"), 8, 2, 64, 200,
                        List.of(new Seq(399, 1), new Seq(80, 1)), new int[] {1, 3}, new DataType[] {DataType.F32, DataType.BF16}, true, 0, iv));
            }
    }

    // ---- one case -------------------------------------------------------------------------------------------------

    /** The CPU side of a case: caches, output, probabilities, and per output element its tolerance. */
    static final class Reference {
        int n, Q, K, ld;
        int[] seqStart, past, ctx;
        float[][] k, v;                 // per sequence [ctx][K]
        float[] q;                      // [n][Q]
        CpuKvCache[] caches;
        float[] out;                    // [n][Q]
        float[][] probs;                // per sequence [heads][added][ctx]
        double[] tol;                   // per output element, f32
        double[] probTol;               // per sequence, relative
    }

    static Reference reference(Case c, Random r) {
        Reference ref = new Reference();
        int seqs = c.seqs().size(), hd = c.hd();
        ref.Q = c.heads() * hd;
        ref.K = c.kvHeads() * hd;
        ref.ld = ref.Q + 2 * ref.K;
        ref.seqStart = new int[seqs + 1];
        ref.past = new int[seqs];
        ref.ctx = new int[seqs];
        for (int s = 0; s < seqs; s++) {
            ref.past[s] = c.seqs().get(s).past();
            ref.ctx[s] = c.seqs().get(s).ctx();
            ref.seqStart[s + 1] = ref.seqStart[s] + c.seqs().get(s).added();
        }
        ref.n = ref.seqStart[seqs];
        ref.k = new float[seqs][];
        ref.v = new float[seqs][];
        for (int s = 0; s < seqs; s++) {
            ref.k[s] = Parity.gaussian(r, ref.ctx[s] * ref.K, 1.0);
            ref.v[s] = Parity.gaussian(r, ref.ctx[s] * ref.K, 1.0);
        }
        ref.q = Parity.gaussian(r, ref.n * ref.Q, 1.5);

        Attention.Shape shape = new Attention.Shape(c.heads(), c.kvHeads(), hd, c.window());
        ref.caches = new CpuKvCache[seqs];
        for (int s = 0; s < seqs; s++) {
            ref.caches[s] = new CpuKvCache(LAYERS, c.kvHeads(), hd);
            ref.caches[s].reserve(ref.ctx[s]);
        }
        // the cached prefixes, then the new tokens (as two forwards would)
        int[] prefixStart = new int[seqs + 1];
        for (int s = 0; s < seqs; s++) prefixStart[s + 1] = prefixStart[s] + ref.past[s];
        Attention.append(LAYER, shape, rows(ref, 0, ref.past, true), rows(ref, 0, ref.past, false), prefixStart, ref.caches, new int[seqs]);
        Attention.append(LAYER, shape, rows(ref, 1, ref.past, true), rows(ref, 1, ref.past, false), ref.seqStart, ref.caches, ref.past);
        for (int s = 0; s < seqs; s++) ref.caches[s].setLength(ref.ctx[s]);

        ref.out = new float[ref.n * ref.Q];
        ref.probs = new float[seqs][];
        for (int s = 0; s < seqs; s++) ref.probs[s] = new float[c.heads() * (ref.seqStart[s + 1] - ref.seqStart[s]) * ref.ctx[s]];
        Attention.Steering steer = c.iv() == null ? null : Attention.Steering.of(c.iv(), c.heads(), ref.ctx);
        Attention.forward(par, LAYER, shape, ref.q, ref.seqStart, ref.caches, ref.past, ref.out, ref.probs, steer);

        // tolerances: (2·ctx + ctx/8 + 32)·u · max|v| of the KV head · (1 + Σ|b|) for post-softmax-steered rows
        ref.tol = new double[ref.out.length];
        ref.probTol = new double[seqs];
        int group = c.heads() / c.kvHeads();
        for (int s = 0; s < seqs; s++) {
            int ctx = ref.ctx[s];
            double chain = (2.0 * ctx + ctx / 8.0 + 32) * Parity.U;
            ref.probTol[s] = chain;
            double[] vmax = new double[c.kvHeads()];
            for (int j = 0; j < ctx; j++)
                for (int g = 0; g < c.kvHeads(); g++)
                    for (int d = 0; d < hd; d++) vmax[g] = Math.max(vmax[g], Math.abs(ref.v[s][j * ref.K + g * hd + d]));
            double sumB = 0;
            if (steer != null && steer.bias()[s] != null) for (float b : steer.bias()[s]) sumB += Math.abs(b);
            for (int t = ref.seqStart[s]; t < ref.seqStart[s + 1]; t++) {
                int pos = ref.past[s] + t - ref.seqStart[s];
                for (int h = 0; h < c.heads(); h++) {
                    boolean post = steer != null && steer.post() && steer.bias()[s] != null && steer.heads()[h] && pos >= steer.fromQuery()[s];
                    double tol = chain * vmax[h / group] * (post ? 1 + sumB : 1);
                    Arrays.fill(ref.tol, t * ref.Q + h * hd, t * ref.Q + (h + 1) * hd, tol);
                }
            }
        }
        return ref;
    }

    /** The k (or v) rows of every sequence's prefix (part 0) or new tokens (part 1), concatenated. */
    static float[] rows(Reference ref, int part, int[] past, boolean keys) {
        int seqs = past.length, total = 0;
        for (int s = 0; s < seqs; s++) total += part == 0 ? past[s] : ref.ctx[s] - past[s];
        float[] out = new float[total * ref.K];
        int o = 0;
        for (int s = 0; s < seqs; s++) {
            int from = part == 0 ? 0 : past[s], to = part == 0 ? past[s] : ref.ctx[s];
            float[] src = keys ? ref.k[s] : ref.v[s];
            System.arraycopy(src, from * ref.K, out, o, (to - from) * ref.K);
            o += (to - from) * ref.K;
        }
        return out;
    }

    /** Device arguments of the intervention: mode, causal, start, pos, bias, heads, from (the kernel contract). */
    record Iv(int mode, int causal, DevicePointer start, DevicePointer pos, DevicePointer bias, DevicePointer heads, DevicePointer from) {
        static final Iv NONE = new Iv(0, 1, DevicePointer.NULL, DevicePointer.NULL, DevicePointer.NULL, DevicePointer.NULL, DevicePointer.NULL);
    }

    /** Packs the intervention as the kernels read it; positions beyond a sequence's context stay in (the kernel ignores them). */
    static Iv pack(AttentionIntervention iv, int seqs, int heads, Parity.Buffers b) {
        if (iv == null) return Iv.NONE;
        int[] start = new int[seqs + 1], from = new int[seqs];
        List<Integer> pos = new ArrayList<>();
        List<Float> val = new ArrayList<>();
        for (int s = 0; s < seqs; s++) {
            KeyBias kb = iv.bias(s, seqs);
            start[s] = pos.size();
            if (kb == null) continue;
            for (int i = 0; i < kb.positions().length; i++) {
                pos.add(kb.positions()[i]);
                val.add(kb.values()[i]);
            }
            from[s] = kb.fromQuery();
        }
        start[seqs] = pos.size();
        int[] p = new int[Math.max(1, pos.size())];
        float[] v = new float[Math.max(1, pos.size())];
        for (int i = 0; i < pos.size(); i++) {
            p[i] = pos.get(i);
            v[i] = val.get(i);
        }
        DevicePointer mask = DevicePointer.NULL;
        if (iv.heads() != null) {
            int[] m = new int[heads];
            for (int h = 0; h < heads; h++) m[h] = iv.atHead(h) ? 1 : 0;
            mask = b.of(m);
        }
        return new Iv(Kernels.interventionMode(iv.site()), iv.causal() ? 1 : 0, b.of(start), b.of(p), b.of(v), mask, b.of(from));
    }

    static void run(Case c) {
        Random r = new Random(c.name().hashCode());
        Reference ref = reference(c, r);
        int seqs = c.seqs().size(), hd = c.hd(), n = ref.n, Q = ref.Q, K = ref.K, ld = ref.ld;
        long layerFloats = (long) c.kvHeads() * BLOCK * hd;
        long kOff = 2L * LAYER * layerFloats, vOff = kOff + layerFloats, blockBytes = 4L * 2 * LAYERS * layerFloats;
        float scale = (float) (1.0 / Math.sqrt(hd));

        // the rows the two appends write: prefix tokens, then the new tokens with their q (fused [q|k|v] rows)
        int nPrefix = Arrays.stream(ref.past).sum();
        float[] prefixK = rows(ref, 0, ref.past, true), prefixV = rows(ref, 0, ref.past, false);
        float[] newK = rows(ref, 1, ref.past, true), newV = rows(ref, 1, ref.past, false);
        float[] fusedPrefix = Parity.gaussian(r, nPrefix * ld, 1.0), fusedNew = new float[n * ld];
        for (int t = 0; t < nPrefix; t++) {
            System.arraycopy(prefixK, t * K, fusedPrefix, t * ld + Q, K);
            System.arraycopy(prefixV, t * K, fusedPrefix, t * ld + Q + K, K);
        }
        for (int t = 0; t < n; t++) {
            System.arraycopy(ref.q, t * Q, fusedNew, t * ld, Q);
            System.arraycopy(newK, t * K, fusedNew, t * ld + Q, K);
            System.arraycopy(newV, t * K, fusedNew, t * ld + Q + K, K);
        }
        int[] preSeq = new int[nPrefix], prePos = new int[nPrefix], tokSeq = new int[n], tokPos = new int[n];
        for (int s = 0, o = 0; s < seqs; s++)
            for (int j = 0; j < ref.past[s]; j++, o++) {
                preSeq[o] = s;
                prePos[o] = j;
            }
        for (int s = 0; s < seqs; s++)
            for (int t = ref.seqStart[s]; t < ref.seqStart[s + 1]; t++) {
                tokSeq[t] = s;
                tokPos[t] = ref.past[s] + t - ref.seqStart[s];
            }
        // block tables: every sequence's blocks, handed out in a shuffled order
        int[] seqTable = new int[seqs];
        for (int s = 1; s < seqs; s++) seqTable[s] = seqTable[s - 1] + (ref.ctx[s - 1] + BLOCK - 1) / BLOCK;
        int nBlocks = seqTable[seqs - 1] + (ref.ctx[seqs - 1] + BLOCK - 1) / BLOCK;
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < nBlocks; i++) order.add(i);
        Collections.shuffle(order, r);
        int maxCtx = Arrays.stream(ref.ctx).max().orElse(0);
        long[] probsOff = new long[seqs];
        for (int s = 1; s < seqs; s++) probsOff[s] = probsOff[s - 1] + ref.probs[s - 1].length;
        long probsFloats = probsOff[seqs - 1] + ref.probs[seqs - 1].length;
        int ldo = Q + c.ldoPad();

        Parity.Errors cacheErr = report.errors("kv_append");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer dTokSeq = b.of(tokSeq), dTokPos = b.of(tokPos), dSeqTable = b.of(seqTable), dCtx = b.of(ref.ctx);
            DevicePointer dPreSeq = b.of(nPrefix == 0 ? new int[1] : preSeq), dPrePos = b.of(nPrefix == 0 ? new int[1] : prePos);
            DevicePointer dSeqStart = b.of(ref.seqStart), dProbsOff = b.of(probsOff);
            Iv iv = pack(c.iv(), seqs, c.heads(), b);
            Parity.acrossSchedules(dev, MODES, c.name(), mode -> {
                List<Object> results = new ArrayList<>();
                DevicePointer[] blocks = new DevicePointer[nBlocks];
                for (int i = 0; i < nBlocks; i++) blocks[i] = b.nan(blockBytes);
                long[] table = new long[nBlocks];
                for (int i = 0; i < nBlocks; i++) table[i] = blocks[order.get(i)].address();
                DevicePointer dTable = b.of(table);
                DevicePointer qkv = b.of(fusedNew);
                if (nPrefix > 0) {
                    DevicePointer pre = b.of(fusedPrefix);
                    kernels.kvAppend(pre.plus(4L * Q), pre.plus(4L * (Q + K)), ld, dPreSeq, dPrePos, dTable, dSeqTable, kOff, vOff, nPrefix, c.kvHeads(), hd);
                }
                kernels.kvAppend(qkv.plus(4L * Q), qkv.plus(4L * (Q + K)), ld, dTokSeq, dTokPos, dTable, dSeqTable, kOff, vOff, n, c.kvHeads(), hd);
                checkBlocks(c, ref, b, table, seqTable, kOff, vOff, blockBytes, cacheErr, mode);

                for (boolean decode : new boolean[] {false, true}) {
                    for (int splitsAsked : c.splits()) {
                        int splits = splitsAsked > 0 ? splitsAsked
                                : Kernels.decodeSplits(Kernels.decodeBlocks(n, c.heads(), c.kvHeads(), hd), dev.attribute(16), maxCtx);
                        DevicePointer partO = splits > 1 ? b.nan(4L * splits * n * c.heads() * hd) : DevicePointer.NULL;
                        DevicePointer partMl = splits > 1 ? b.nan(8L * splits * n * c.heads()) : DevicePointer.NULL;
                        for (DataType t : c.outs()) {
                            String what = c.name() + ": " + (decode ? "attn_decode" : "attn_prefill") + "_" + Kernels.suffix(t) + " splits " + splits
                                    + (splitsAsked == 0 ? " (heuristic)" : "");
                            boolean probs = c.probs() && t == DataType.F32;
                            DevicePointer out = b.nan((long) n * ldo * t.bytes), stats = probs ? b.nan(8L * n * c.heads()) : DevicePointer.NULL;
                            Kernels.Attention a = new Kernels.Attention(out, ldo, qkv, ld, dTable, dSeqTable, kOff, vOff, dTokSeq, dTokPos, dCtx,
                                    n, c.heads(), c.kvHeads(), hd, c.window(), scale, stats,
                                    iv.mode(), iv.causal(), iv.start(), iv.pos(), iv.bias(), iv.heads(), iv.from());
                            kernels.attention(t, decode, splits, partO, partMl, a);
                            float[] got = b.read(out, n * ldo, t);
                            Parity.Errors err = report.errors("attention output " + Kernels.suffix(t));
                            for (int row = 0; row < n; row++) {
                                for (int i = 0; i < Q; i++) {
                                    int o = row * Q + i;
                                    String where = what + " schedule " + mode + " token " + row + " head " + i / hd + " dim " + i % hd;
                                    if (t == DataType.F32) err.check(got[row * ldo + i], ref.out[o], ref.tol[o], where);
                                    else err.rounded(got[row * ldo + i], ref.out[o], ref.tol[o], t, where);
                                }
                                for (int i = Q; i < ldo; i++)
                                    if (!Float.isNaN(got[row * ldo + i])) throw new AssertionError(what + ": padding column " + i + " of row " + row + " written");
                            }
                            results.add(got);
                            if (probs) results.add(checkProbs(c, ref, b, a, dProbsOff, dSeqStart, probsOff, probsFloats, what, mode));
                        }
                    }
                }
                return results.toArray();
            });
        }
    }

    /** The blocks against the CPU cache: layer LAYER's keys and values exact, the other layer untouched (NaN). */
    static void checkBlocks(Case c, Reference ref, Parity.Buffers b, long[] table, int[] seqTable, long kOff, long vOff, long blockBytes,
                            Parity.Errors err, int mode) {
        int hd = c.hd();
        for (int s = 0; s < ref.ctx.length; s++) {
            int nb = (ref.ctx[s] + BLOCK - 1) / BLOCK;
            for (int blk = 0; blk < nb; blk++) {
                float[] got = b.floats(DevicePointer.of(table[seqTable[s] + blk]), (int) (blockBytes / 4));
                for (int p = blk * BLOCK; p < Math.min(ref.ctx[s], (blk + 1) * BLOCK); p++)
                    for (int g = 0; g < c.kvHeads(); g++)
                        for (int d = 0; d < hd; d++) {
                            long o = ((long) g * BLOCK + p % BLOCK) * hd + d;
                            String where = c.name() + " schedule " + mode + " sequence " + s + " position " + p + " head " + g + " dim " + d;
                            err.exact(got[(int) (kOff + o)], ref.caches[s].key(LAYER, p, g, d), where + " (key)");
                            err.exact(got[(int) (vOff + o)], ref.caches[s].value(LAYER, p, g, d), where + " (value)");
                        }
                for (int i = 0; i < kOff; i++)
                    if (!Float.isNaN(got[i])) throw new AssertionError("kv_append wrote layer 0 of block " + blk + " of sequence " + s + " at float " + i);
            }
        }
    }

    /** attn_probs after an attention call that wrote stats, against the CPU's probabilities; returns them. */
    static float[] checkProbs(Case c, Reference ref, Parity.Buffers b, Kernels.Attention a, DevicePointer dProbsOff, DevicePointer dSeqStart,
                              long[] probsOff, long probsFloats, String what, int mode) {
        DevicePointer probs = b.nan(4 * probsFloats);
        kernels.attentionProbs(probs, dProbsOff, dSeqStart, a);
        float[] got = b.floats(probs, (int) probsFloats);
        Parity.Errors pe = report.errors("attn_probs");
        for (int s = 0; s < ref.ctx.length; s++) {
            int added = ref.seqStart[s + 1] - ref.seqStart[s], ctx = ref.ctx[s];
            for (int h = 0; h < c.heads(); h++)
                for (int i = 0; i < added; i++) {
                    int P = ref.past[s] + i;
                    for (int j = 0; j < ctx; j++) {
                        int o = (h * added + i) * ctx + j;
                        float g = got[(int) (probsOff[s] + o)], want = ref.probs[s][o];
                        String where = "after " + what + " schedule " + mode + " sequence " + s + " head " + h + " row " + i + " key " + j;
                        boolean masked = j > P || (c.window() > 0 && j <= P - c.window());
                        if (masked) {
                            pe.exact(g, 0f, where + " (masked)");
                            pe.exact(want, 0f, where + " (masked, CPU)");
                        } else {
                            pe.check(g, want, ref.probTol[s] * want, where);
                        }
                    }
                }
        }
        return got;
    }
}
