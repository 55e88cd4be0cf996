package io.rationale.cuda;

import io.rationale.cpu.Attention;
import io.rationale.cpu.CpuKvCache;
import io.rationale.engine.LrpRules;
import io.rationale.engine.RuleMode;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * The backward half of {@code attention.cu} ({@code attn_bwd_delta}, {@code attn_bwd_dkdv_d*}, {@code attn_bwd_dq_d*})
 * against {@link Attention#backward} on the same q, k, v (after RoPE) and dO, in every rule mode. Cases: MHA, GQA
 * and MQA, head dims 8, 12 (not a multiple of 8), 64, 100, 128 and 256 (each kernel variant; tiles of 32 keys, 16
 * for 256), sliding windows inside and across tiles, packed batches of sequences of different lengths (tiles that
 * end inside a sequence, a one-token sequence). The kernels also read the forward's row statistics (max, sum) and
 * its output O; here both are computed on the host in double and rounded to f32 (the backend passes the forward
 * kernel's own, which differ from these by f32 rounding).
 *
 * <p>Tolerance. Both compute the scores and {@code dp = dO·v} with the same FMA chains over the head dimension, so
 * those agree bit for bit; they differ in p (the CPU's own softmax against {@code exp(s − M)/L}: a few u relative), in
 * Delta ({@code Σ_j p·dp} on the CPU, {@code rowsum(O∘dO)} here: chains of ctx and hd roundings) and in the order of
 * the sums over keys (dq) or queries of the group (dk, dv). With, per row, {@code A = Σ_j p_j·|dp_j| + Σ_d |O·dO|} and
 * per pair the magnitude {@code ds⁺ = p·(|dp| + A)·scale}, the tolerance of an element is
 * {@code (2·ctx + hd + 64)·u·Σ ds⁺·|q or k|} (dq, dk) and {@code (2·ctx + 64)·u·Σ p·|dO|} (dv), times the rule's
 * scale; CP-LRP's dq and dk exactly 0. Measured on the emulated device: worst |Δ|/tolerance 0.020 (dq), 0.014 (dk),
 * 0.092 (dv); worst |Δ| 3.2e-6.
 *
 * <p>After a cached prefix ({@link #afterACachedPrefixMatchesTheCpu}): the same comparison with the prefix's keys and
 * values in a paged one-layer cache on both sides (measured, both tests together: worst |Δ|/tolerance 0.134, dv).
 */
class AttentionBackwardParityTest extends ParityFixture {
    static final int[] MODES = {0, 1, 7};

    record Case(int heads, int kvHeads, int hd, int window, int[] lens) {}

    @Test
    void everyVariantAndRuleModeMatchesTheCpu() {
        Case[] cases = {
                new Case(6, 2, 8, 0, new int[] {5, 40}),
                new Case(4, 1, 12, 3, new int[] {70, 1}),
                new Case(2, 2, 64, 0, new int[] {33, 9}),
                new Case(3, 3, 100, 20, new int[] {45}),
                new Case(4, 2, 128, 0, new int[] {34}),
                new Case(2, 1, 256, 0, new int[] {20, 3}),
        };
        Random r = new Random(21);
        for (Case c : cases)
            for (RuleMode mode : RuleMode.values()) run(c, mode, new int[c.lens().length], r);
    }

    /**
     * Sequences recorded after a cached prefix ({@code past} per sequence, the kernels' paged prefix cache against
     * {@link Attention#backward} with a {@link CpuKvCache} prefix): dq over the prefix's and the new keys, dk and dv
     * for the new keys only, in every variant and rule mode; prefixes inside the first cache block, at a block
     * boundary, off one across blocks, mixed with a sequence from position 0; sliding windows that reach into the
     * prefix or not. Same tolerances (ctx counts the prefix).
     */
    @Test
    void afterACachedPrefixMatchesTheCpu() {
        record PCase(Case c, int[] past) {}
        PCase[] cases = {
                new PCase(new Case(6, 2, 8, 0, new int[] {5, 40}), new int[] {70, 0}),
                new PCase(new Case(4, 1, 12, 3, new int[] {70, 1}), new int[] {9, 64}),
                new PCase(new Case(2, 2, 64, 0, new int[] {33, 9}), new int[] {128, 31}),
                new PCase(new Case(3, 3, 100, 20, new int[] {45}), new int[] {77}),
                new PCase(new Case(4, 2, 128, 0, new int[] {34}), new int[] {65}),
                new PCase(new Case(2, 1, 256, 0, new int[] {20, 3}), new int[] {17, 0}),
        };
        Random r = new Random(22);
        for (PCase c : cases)
            for (RuleMode mode : RuleMode.values()) run(c.c(), mode, c.past(), r);
    }

    private void run(Case c, RuleMode mode, int[] past, Random r) {
        int H = c.heads(), KV = c.kvHeads(), hd = c.hd(), G = H / KV, Q = H * hd, K = KV * hd, QKV = Q + 2 * K, S = c.lens().length;
        int[] seqStart = new int[S + 1];
        for (int s = 0; s < S; s++) seqStart[s + 1] = seqStart[s] + c.lens()[s];
        int n = seqStart[S];
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] q = Parity.gaussian(r, n * Q, 1.0), k = Parity.gaussian(r, n * K, 1.0), v = Parity.gaussian(r, n * K, 1.0);
        float[] dO = Parity.gaussian(r, n * Q, 1.0);
        // each sequence's context: its prefix's keys and values (constants, in a one-layer paged cache), then its rows
        float[][] kc = new float[S][], vc = new float[S][];
        CpuKvCache[] prefix = new CpuKvCache[S];
        boolean prefixed = false;
        for (int s = 0; s < S; s++) {
            int len = c.lens()[s], ctx = past[s] + len;
            kc[s] = new float[ctx * K];
            vc[s] = new float[ctx * K];
            float[] pk = Parity.gaussian(r, past[s] * K, 1.0), pv = Parity.gaussian(r, past[s] * K, 1.0);
            System.arraycopy(pk, 0, kc[s], 0, pk.length);
            System.arraycopy(pv, 0, vc[s], 0, pv.length);
            System.arraycopy(k, seqStart[s] * K, kc[s], past[s] * K, len * K);
            System.arraycopy(v, seqStart[s] * K, vc[s], past[s] * K, len * K);
            if (past[s] == 0) continue;
            prefixed = true;
            prefix[s] = new CpuKvCache(1, KV, hd);
            prefix[s].reserve(past[s]);
            for (int j = 0; j < past[s]; j++)
                for (int g = 0; g < KV; g++)
                    for (int d = 0; d < hd; d++) {
                        prefix[s].keyBlock(0, j / CpuKvCache.BLOCK)[prefix[s].keyIndex(j, g, d)] = pk[j * K + g * hd + d];
                        prefix[s].valueBlock(0, j / CpuKvCache.BLOCK)[prefix[s].valueIndex(j, g, d)] = pv[j * K + g * hd + d];
                    }
            prefix[s].setLength(past[s]);
        }
        float[] dq = new float[n * Q], dk = new float[n * K], dv = new float[n * K];
        Attention.backward(par, new Attention.Shape(H, KV, hd, c.window()), mode, q, k, v, seqStart, prefixed ? prefix : null, 0, null,
                dO, dq, dk, dv);

        // the forward's statistics and output in double, and the magnitudes of the tolerances
        float[] stats = new float[n * H * 2], o = new float[n * Q];
        double[] magQ = new double[n * Q], magK = new double[n * K], magV = new double[n * K];
        for (int s = 0; s < S; s++)
            for (int h = 0; h < H; h++) {
                int g = h / G;
                for (int i = seqStart[s]; i < seqStart[s + 1]; i++) {
                    int P = past[s] + i - seqStart[s];
                    double[] sc = new double[P + 1], dp = new double[P + 1];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= P; j++) {
                        if (c.window() > 0 && j <= P - c.window()) { sc[j] = Double.NEGATIVE_INFINITY; continue; }
                        double a = 0, b = 0;
                        for (int d = 0; d < hd; d++) {
                            a += (double) q[i * Q + h * hd + d] * kc[s][j * K + g * hd + d];
                            b += (double) dO[i * Q + h * hd + d] * vc[s][j * K + g * hd + d];
                        }
                        sc[j] = a * scale;
                        dp[j] = b;
                        mx = Math.max(mx, sc[j]);
                    }
                    double sum = 0;
                    for (double x : sc) if (x != Double.NEGATIVE_INFINITY) sum += Math.exp(x - mx);
                    stats[(i * H + h) * 2] = (float) mx;
                    stats[(i * H + h) * 2 + 1] = (float) sum;
                    double A = 0;
                    for (int d = 0; d < hd; d++) {
                        double od = 0;
                        for (int j = 0; j <= P; j++)
                            if (sc[j] != Double.NEGATIVE_INFINITY) od += Math.exp(sc[j] - mx) / sum * vc[s][j * K + g * hd + d];
                        o[i * Q + h * hd + d] = (float) od;
                        A += Math.abs(od * dO[i * Q + h * hd + d]);
                    }
                    for (int j = 0; j <= P; j++) if (sc[j] != Double.NEGATIVE_INFINITY) A += Math.exp(sc[j] - mx) / sum * Math.abs(dp[j]);
                    for (int j = 0; j <= P; j++) {
                        if (sc[j] == Double.NEGATIVE_INFINITY) continue;
                        double p = Math.exp(sc[j] - mx) / sum, ds = p * (Math.abs(dp[j]) + A) * scale;
                        int kj = (seqStart[s] + j - past[s]) * K + g * hd;     // the new key's row (j >= past)
                        for (int d = 0; d < hd; d++) {
                            magQ[i * Q + h * hd + d] += ds * Math.abs(kc[s][j * K + g * hd + d]);
                            if (j < past[s]) continue;
                            magK[kj + d] += ds * Math.abs(q[i * Q + h * hd + d]);
                            magV[kj + d] += p * Math.abs(dO[i * Q + h * hd + d]);
                        }
                    }
                }
            }
        float[] qkv = new float[n * QKV];
        for (int t = 0; t < n; t++) {
            System.arraycopy(q, t * Q, qkv, t * QKV, Q);
            System.arraycopy(k, t * K, qkv, t * QKV + Q, K);
            System.arraycopy(v, t * K, qkv, t * QKV + Q + K, K);
        }
        int bt = Kernels.attentionBackwardTile(Kernels.attentionVariant(hd));
        java.util.List<Integer> tl = new java.util.ArrayList<>();
        for (int s = 0; s < S; s++) for (int t = seqStart[s]; t < seqStart[s + 1]; t += bt) { tl.add(t); tl.add(s); }
        int[] tiles = tl.stream().mapToInt(Integer::intValue).toArray();
        int ldd = QKV + 1, maxCtx = 0;
        for (int s = 0; s < S; s++) maxCtx = Math.max(maxCtx, past[s] + c.lens()[s]);
        // the prefixes on the device: one-layer blocks of 64 positions, keys [KV][64][hd] then values, and their table
        int blockFloats = 2 * KV * CpuKvCache.BLOCK * hd, blocks = 0;
        int[] seqTable = new int[S];
        for (int s = 0; s < S; s++) {
            seqTable[s] = blocks;
            blocks += (past[s] + CpuKvCache.BLOCK - 1) / CpuKvCache.BLOCK;
        }
        float[] cache = new float[Math.max(1, blocks) * blockFloats];
        for (int s = 0; s < S; s++)
            for (int j = 0; j < past[s]; j++)
                for (int g = 0; g < KV; g++)
                    for (int d = 0; d < hd; d++) {
                        int at = (seqTable[s] + j / CpuKvCache.BLOCK) * blockFloats + (g * CpuKvCache.BLOCK + j % CpuKvCache.BLOCK) * hd + d;
                        cache[at] = kc[s][j * K + g * hd + d];
                        cache[at + blockFloats / 2] = vc[s][j * K + g * hd + d];
                    }
        final boolean withPrefix = prefixed;
        LrpRules rules = mode.rules();
        String what = "attention backward " + H + "/" + KV + " hd " + hd + " window " + c.window() + " " + mode
                + (prefixed ? " past " + java.util.Arrays.toString(past) : "");
        Parity.Errors eq = report.errors("attn_bwd dq"), ek = report.errors("attn_bwd dk"), ev = report.errors("attn_bwd dv");
        double cq = (2.0 * maxCtx + hd + 64) * Parity.U, cv = (2.0 * maxCtx + 64) * Parity.U;
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer dQkv = b.of(qkv), dDo = b.of(dO), dO_ = b.of(o), dStats = b.of(stats), dTiles = b.of(tiles), dSeq = b.of(seqStart);
            DevicePointer delta = b.alloc(4L * n * H);
            DevicePointer dCache = b.of(cache), dSeqTable = b.of(seqTable), dPast = b.of(past);
            long[] blockPtrs = new long[Math.max(1, blocks)];
            for (int i = 0; i < blocks; i++) blockPtrs[i] = dCache.address() + 4L * i * blockFloats;
            DevicePointer dBlocks = b.of(blockPtrs);
            Parity.acrossSchedules(dev, MODES, what, m -> {
                DevicePointer out = b.nan(4L * n * ldd);
                kernels.attentionBackwardDelta(delta, dO_, Q, dDo, Q, n, H, hd);
                kernels.attentionBackward(new Kernels.AttentionBackward(out, out.plus(4L * Q), out.plus(4L * (Q + K)), ldd, dQkv,
                        dQkv.plus(4L * Q), dQkv.plus(4L * (Q + K)), QKV, dDo, Q, dStats, delta, dTiles, tiles.length / 2, dSeq, n, H, KV, hd,
                        c.window(), scale, rules.qkGradientScale(), rules.vGradientScale(), rules.stopGradientQK(),
                        withPrefix ? dBlocks : DevicePointer.NULL, withPrefix ? dSeqTable : DevicePointer.NULL, 0, blockFloats / 2,
                        withPrefix ? dPast : DevicePointer.NULL));
                float[] got = b.floats(out, n * ldd);
                for (int t = 0; t < n; t++) {
                    for (int e = 0; e < Q; e++) {
                        String where = what + " schedule " + m + " dq[" + t + "," + e + "]";
                        if (rules.stopGradientQK()) eq.exact(got[t * ldd + e], 0f, where);
                        else eq.check(got[t * ldd + e], dq[t * Q + e], cq * rules.qkGradientScale() * magQ[t * Q + e] + 1e-30, where);
                    }
                    for (int e = 0; e < K; e++) {
                        String where = what + " schedule " + m + " [" + t + "," + e + "]";
                        if (rules.stopGradientQK()) ek.exact(got[t * ldd + Q + e], 0f, where + " dk");
                        else ek.check(got[t * ldd + Q + e], dk[t * K + e], cq * rules.qkGradientScale() * magK[t * K + e] + 1e-30, where + " dk");
                        ev.check(got[t * ldd + Q + K + e], dv[t * K + e], cv * rules.vGradientScale() * magV[t * K + e] + 1e-30, where + " dv");
                    }
                    if (!Float.isNaN(got[t * ldd + QKV])) throw new AssertionError(what + ": padding written");
                }
                return got;
            });
        }
    }
}
