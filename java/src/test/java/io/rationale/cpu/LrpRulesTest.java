package io.rationale.cpu;

import io.rationale.engine.LrpRules;

import io.rationale.engine.RuleMode;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static io.rationale.cpu.Fd.assertClose;
import static io.rationale.cpu.Fd.random;
import static io.rationale.cpu.Fd.toDouble;
import static io.rationale.cpu.Fd.toFloat;

/**
 * The efficient AttnLRP form (input × modified gradient, as the backward pass computes it) against the explicit LRP
 * rules of notes/attribution.md, written out in double on random inputs, one layer at a time: ε-rule for a linear
 * layer, uniform rule for the gate product with the identity rule on SiLU, uniform (matmul) rule at {@code q·kᵀ} and
 * {@code p·v} with the deep-Taylor softmax rule between them, the softmax rule alone, and the identity rule for
 * RMSNorm. Relevance entering a layer is always {@code output ⊙ incoming gradient}. Tolerance: every relevance within
 * 1e-4·max|explicit relevance| (f32 kernels against double; ε = 1e-12·sign(z) in the explicit denominators).
 */
class LrpRulesTest {
    static final double REL = 1e-4, EPS = 1e-12;

    static double stab(double z) { return z + (z >= 0 ? EPS : -EPS); }

    @Test
    void linearEpsilonRuleIsInputTimesGradient() {
        Random r = new Random(11);
        int n = 4, in = 40, out = 24;
        Tensor w = LayerBackwardTest.tensor(DType.F32, out, in, r);
        double[] W = toDouble(w.toFloatArray()), bias = random(r, out, 0.3);
        float[] x = toFloat(random(r, n * in, 1));
        double[] R = random(r, n * out, 1);
        double[] z = new double[n * out];
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) {
                double s = bias[o];
                for (int i = 0; i < in; i++) s += W[o * in + i] * x[t * in + i];
                z[t * out + o] = s;
            }
        // explicit: R_in = x ⊙ Wᵀ(R / (z + ε))
        double[] explicit = new double[n * in];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++) s += W[o * in + i] * R[t * out + o] / stab(z[t * out + o]);
                explicit[t * in + i] = x[t * in + i] * s;
            }
        // efficient: the incoming gradient is R/z, the backward is the plain dy·W
        float[] dy = new float[n * out], dx = new float[n * in];
        for (int i = 0; i < dy.length; i++) dy[i] = (float) (R[i] / z[i]);
        try (Parallel par = new Parallel(2)) {
            LinearBackward.inputGrad(par, dx, n, in, false, new LinearBackward.Term(w, dy));
        }
        assertClose(explicit, times(x, dx), REL, 0, "linear ε-rule");
    }

    @Test
    void gateProductUniformRuleAndSiluIdentityRule() {
        Random r = new Random(12);
        int n = 45;
        float[] gate = toFloat(random(r, n, 2)), up = toFloat(random(r, n, 1)), dAct = toFloat(random(r, n, 1));
        // relevance of the product a = silu(g)·u: R = a ⊙ dAct; uniform rule: R_silu = R_u = R/2; identity rule: R_g = R_silu
        double[] half = new double[n];
        for (int i = 0; i < n; i++) half[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i] * dAct[i] / 2;
        float[] dG = new float[n], dU = new float[n];
        Mlp.swigluBackward(LrpRules.ATTNLRP, gate, up, dAct, dG, dU, 0, n);
        assertClose(half, times(up, dU), REL, 0, "R_up = R/2");
        assertClose(half, times(gate, dG), REL, 0, "R_gate = R_silu = R/2");
        // CP-LRP: silu(gate) is a constant weight, all of R goes to up
        double[] whole = new double[n];
        for (int i = 0; i < n; i++) whole[i] = 2 * half[i];
        Mlp.swigluBackward(LrpRules.CPLRP, gate, up, dAct, dG, dU, 0, n);
        assertClose(whole, times(up, dU), REL, 0, "CP-LRP R_up = R");
    }

    @Test
    void softmaxDeepTaylorRuleIsInputTimesPlainGradient() {
        Random r = new Random(13);
        int n = 9;
        float[] x = toFloat(random(r, n, 2));
        float[] p = x.clone();
        Attention.softmax(p, 0, n);
        double[] R = random(r, n, 1);
        double sumR = 0;
        for (double v : R) sumR += v;
        double[] explicit = new double[n];                    // R_in = x ⊙ (R − p·ΣR)
        for (int i = 0; i < n; i++) explicit[i] = x[i] * (R[i] - p[i] * sumR);
        float[] d = new float[n];                             // incoming gradient R/p, then the plain softmax backward
        for (int i = 0; i < n; i++) d[i] = (float) (R[i] / p[i]);
        Attention.softmaxBackward(p, d, 0, n);
        assertClose(explicit, times(x, d), REL, 0, "softmax deep-Taylor rule");
    }

    @ParameterizedTest(name = "sliding window {0}")
    @ValueSource(ints = {0, 3})
    void attentionMatmulUniformRulesAndSoftmaxRule(int window) {
        Random r = new Random(14 + window);
        int heads = 4, kvHeads = 2, hd = 8, n = 7, group = heads / kvHeads, Q = heads * hd, K = kvHeads * hd;
        float[] q = toFloat(random(r, n * Q, 1)), k = toFloat(random(r, n * K, 1)), v = toFloat(random(r, n * K, 1));
        float[] G = toFloat(random(r, n * Q, 1));             // incoming (modified) gradient at the attention output
        double[] Rq = new double[n * Q], Rk = new double[n * K], Rv = new double[n * K];
        double sc = 1 / Math.sqrt(hd);
        for (int h = 0; h < heads; h++) {
            int g = h / group;
            double[][] z = new double[n][n], P = new double[n][n], O = new double[n][hd];
            boolean[][] vis = new boolean[n][n];
            for (int i = 0; i < n; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    vis[i][j] = window == 0 || j > i - window;
                    if (!vis[i][j]) continue;
                    for (int e = 0; e < hd; e++) z[i][j] += q[i * Q + h * hd + e] * (double) k[j * K + g * hd + e];
                    max = Math.max(max, z[i][j] * sc);
                }
                for (int j = 0; j <= i; j++) if (vis[i][j]) sum += P[i][j] = Math.exp(z[i][j] * sc - max);
                for (int j = 0; j <= i; j++) {
                    if (!vis[i][j]) continue;
                    P[i][j] /= sum;
                    for (int e = 0; e < hd; e++) O[i][e] += P[i][j] * v[j * K + g * hd + e];
                }
            }
            // O = P·V, relevance R_O = O ⊙ G; matmul rule: R_norm = R_O/(2·O + ε), R_P = (R_norm·Vᵀ) ⊙ P, R_V = (Pᵀ·R_norm) ⊙ V
            double[][] Rn = new double[n][hd], RP = new double[n][n];
            for (int i = 0; i < n; i++)
                for (int e = 0; e < hd; e++) Rn[i][e] = O[i][e] * G[i * Q + h * hd + e] / stab(2 * O[i][e]);
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++) {
                    if (!vis[i][j]) continue;
                    double s = 0;
                    for (int e = 0; e < hd; e++) s += Rn[i][e] * v[j * K + g * hd + e];
                    RP[i][j] = s * P[i][j];
                }
            for (int j = 0; j < n; j++)
                for (int e = 0; e < hd; e++) {
                    double s = 0;
                    for (int i = j; i < n; i++) if (vis[i][j]) s += P[i][j] * Rn[i][e];
                    Rv[j * K + g * hd + e] += s * v[j * K + g * hd + e];
                }
            // softmax deep-Taylor rule on the scores S = z/√d: R_S = S ⊙ (R_P − P·ΣR_P); the constant scaling passes R_S to z
            double[][] Rz = new double[n][n];
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (int j = 0; j <= i; j++) if (vis[i][j]) sum += RP[i][j];
                for (int j = 0; j <= i; j++) if (vis[i][j]) Rz[i][j] = z[i][j] * sc * (RP[i][j] - P[i][j] * sum);
            }
            // z = q·kᵀ, matmul rule: R_norm = R_z/(2z + ε), R_q = (R_norm·K) ⊙ q, R_k = (R_normᵀ·Q) ⊙ k
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++) {
                    if (!vis[i][j]) continue;
                    double rn = Rz[i][j] / stab(2 * z[i][j]);
                    for (int e = 0; e < hd; e++) {
                        Rq[i * Q + h * hd + e] += rn * k[j * K + g * hd + e] * q[i * Q + h * hd + e];
                        Rk[j * K + g * hd + e] += rn * q[i * Q + h * hd + e] * k[j * K + g * hd + e];
                    }
                }
        }
        float[] dq = new float[n * Q], dk = new float[n * K], dv = new float[n * K];
        try (Parallel par = new Parallel(2)) {
            Attention.backward(par, new Attention.Shape(heads, kvHeads, hd, window), RuleMode.ATTNLRP, q, k, v, new int[]{0, n}, G, dq, dk, dv);
        }
        assertClose(Rq, times(q, dq), REL, 0, "R_q");
        assertClose(Rk, times(k, dk), REL, 0, "R_k (summed over the query heads of each KV head)");
        assertClose(Rv, times(v, dv), REL, 0, "R_v");
    }

    @Test
    void rmsNormIdentityRulePassesRelevanceThrough() {
        Random r = new Random(15);
        int rows = 2, dim = 35;
        float[] x = toFloat(random(r, rows * dim, 1)), w = toFloat(random(r, dim, 0.2)), dy = toFloat(random(r, rows * dim, 1));
        for (int i = 0; i < dim; i++) w[i] += 1;
        float[] y = new float[rows * dim], dx = new float[rows * dim];
        float[] inv = RmsNorm.forward(x, rows, dim, w, 1e-6f, y);
        RmsNorm.backward(RuleMode.ATTNLRP, x, inv, rows, dim, w, dy, dx, false);
        // identity rule: R_in = R_out element by element, R_out = y ⊙ dy
        assertClose(times(y, dy), times(x, dx), REL, 0, "RMSNorm identity rule");
    }

    /**
     * PE-LRP at RoPE on one layer: {@code x'[i] = x[i]·cos_i − x[i+h]·sin_i}, {@code x'[i+h] = x[i+h]·cos_i + x[i]·sin_i}.
     * Explicit rules: the sum takes the ε-rule ({@code R_z = z/(x' + ε)·R_{x'}} for each of its two products z), each
     * product the uniform rule (half to the token factor, half to the position factor), the negation in rot(x) passes
     * relevance unchanged. The kernel's input × halved gradient and its cos/sin relevance must equal it, and nothing
     * is lost: {@code Σ R_x + Σ R_cos + Σ R_sin = Σ R_{x'}}.
     */
    @Test
    void ropeUniformRuleSplitsEachProductBetweenTokenAndPosition() {
        Random r = new Random(16);
        int tokens = 5, heads = 3, hd = 8, half = hd / 2;
        float[] x = toFloat(random(r, tokens * heads * hd, 1)), dRot = toFloat(random(r, tokens * heads * hd, 1));
        float[] cos = new float[tokens * half], sin = new float[tokens * half];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < half; i++) {
                double a = (t + 1) * Math.pow(100, -2.0 * i / hd);
                cos[t * half + i] = (float) Math.cos(a);
                sin[t * half + i] = (float) Math.sin(a);
            }
        float[] rot = x.clone();
        Rope.apply(rot, tokens, heads, hd, cos, sin);
        double[] explicitX = new double[x.length], explicitCos = new double[tokens], explicitSin = new double[tokens];
        double total = 0;
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * hd;
                for (int i = 0; i < half; i++) {
                    double c = cos[t * half + i], s = sin[t * half + i];
                    // first half: products x[i]·cos and (−x[i+h])·sin; second half: x[i+h]·cos and x[i]·sin
                    double[] zc = {x[o + i] * c, x[o + i + half] * c}, zs = {-x[o + i + half] * s, x[o + i] * s};
                    int[] at = {o + i, o + i + half}, sinFrom = {o + i + half, o + i};
                    for (int k = 0; k < 2; k++) {
                        double out = zc[k] + zs[k], R = out * dRot[at[k]];
                        total += R;
                        double rc = zc[k] / stab(out) * R, rs = zs[k] / stab(out) * R;
                        explicitX[at[k]] += rc / 2;
                        explicitCos[t] += rc / 2;
                        explicitX[sinFrom[k]] += rs / 2;       // rot(x) is ±x of the other half: relevance passes unchanged
                        explicitSin[t] += rs / 2;
                    }
                }
            }
        float[] dx = dRot.clone();
        double[] rCos = new double[tokens], rSin = new double[tokens];
        Rope.positionalRelevance(LrpRules.PE_LRP.ropeProductShare(), rot, dRot, tokens, heads, hd, cos, sin, rCos, rSin);
        Rope.backward(LrpRules.PE_LRP.ropeProductShare(), dx, tokens, heads, hd, cos, sin);
        assertClose(explicitX, times(x, dx), REL, 0, "R_x (token factor)");
        assertClose(explicitCos, rCos, REL, 0, "R_cos per token");
        assertClose(explicitSin, rSin, REL, 0, "R_sin per token");
        double kept = 0;
        for (double v : times(x, dx)) kept += v;
        for (int t = 0; t < tokens; t++) kept += rCos[t] + rSin[t];
        org.junit.jupiter.api.Assertions.assertEquals(total, kept, 1e-5 * Math.abs(total) + 1e-9, "conservation at RoPE");
        // with cos and sin constants (AttnLRP) all of it reaches x
        float[] plain = dRot.clone();
        Rope.backward(LrpRules.ATTNLRP.ropeProductShare(), plain, tokens, heads, hd, cos, sin);
        double all = 0;
        for (double v : times(x, plain)) all += v;
        org.junit.jupiter.api.Assertions.assertEquals(total, all, 1e-5 * Math.abs(total) + 1e-9, "AttnLRP: RoPE passes everything to x");
    }

    static double[] times(float[] a, float[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = (double) a[i] * b[i];
        return d;
    }
}
