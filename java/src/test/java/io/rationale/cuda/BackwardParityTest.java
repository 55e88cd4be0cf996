package io.rationale.cuda;

import io.rationale.cpu.LinearBackward;
import io.rationale.cpu.Mlp;
import io.rationale.cpu.RmsNorm;
import io.rationale.cpu.Rope;
import io.rationale.engine.LrpRules;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * The backward kernels other than attention's (for that, {@link AttentionBackwardParityTest}) against the CPU's
 * backward layers on the same inputs, in every rule mode where the layer has rules, under schedules 0, 1 and 7 with
 * bit-identical results across schedules. u = 2⁻²⁴.
 * <ul>
 * <li>{@code rmsnorm_backward} against {@link RmsNorm#backward} (plain and 1/rms constant, overwrite and accumulate).
 *     Constant: {@code (w·dy)·inv} in the same two roundings: exact. Plain: the dot {@code Σ w·dy·x} is summed in
 *     another order (chains of dim/8 on the CPU, dim/256 plus a tree here): tolerance
 *     {@code (dim/8 + dim/256 + 16)·u·Σ|w·dy·x|·inv³/dim·|x| + 4u·(|w·dy·inv| + |x·c|)}, plus 2u of |dx| when
 *     accumulating.</li>
 * <li>{@code swiglu_backward} against {@link Mlp#swigluBackward} (GRADIENT, ATTNLRP, CPLRP, with the MLP biases
 *     added first as the forward does): the same operations but exp (a few ulp): {@code 16u·|value|}; CP-LRP's gate
 *     gradient exactly 0.</li>
 * <li>RoPE backward, {@code rope} with the table −sin, against {@link Rope#applyInverse}: exact.</li>
 * <li>{@code gemv_t_*} (m ≤ 8, f32 activations) and {@link Cublas#matmulBackward} (more rows; dy rounded to the
 *     weights' dtype, as the backend does) against {@link LinearBackward#inputGrad} (on dy rounded the same way):
 *     both sum {@code Σ_o dy·w} in f32 in different orders: {@code (out + 16)·u·Σ|dy·w|}.</li>
 * <li>{@code target_grad} against {@link Target#gradient}: one-hot seeds exact; the log-probability's
 *     {@code (float)(±exp(l − lse))} within one float ulp (the device's Σ exp is a tree sum in double).</li>
 * </ul>
 * Measured on the emulated device (worst |Δ|/tolerance): rmsnorm_backward 0.32 (constant: exact), swiglu_backward
 * 0.39, gemv_t 0 (the same order of sums here), cuBLAS dy·W 0.033, RoPE inverse and target_grad exact.
 */
class BackwardParityTest extends ParityFixture {
    static Cublas blas;

    @BeforeAll
    static void openBlas() { blas = Cublas.open(dev); }

    @AfterAll
    static void closeBlas() {
        if (blas != null) blas.close();
        blas = null;
    }

    static final int[] MODES = {0, 1, 7};

    @Test
    void rmsnormBackwardMatchesTheCpuInEveryMode() {
        Random r = new Random(11);
        for (int dim : new int[] {64, 1000, 7}) {
            int n = 5;
            float[] x = Parity.gaussian(r, n * dim, 1.5), w = Parity.gaussian(r, dim, 1.0), dy = Parity.gaussian(r, n * dim, 1.0);
            float[] dx0 = Parity.gaussian(r, n * dim, 1.0), inv = RmsNorm.forward(x, n, dim, w, 1e-5f, new float[n * dim]);
            for (RuleMode mode : new RuleMode[] {RuleMode.GRADIENT, RuleMode.ATTNLRP})
                for (boolean acc : new boolean[] {false, true}) {
                    boolean constant = mode.rules().constantRms();
                    float[] want = dx0.clone();
                    RmsNorm.backward(mode, x, inv, n, dim, w, dy, want, acc);
                    String what = "rmsnorm_backward dim " + dim + (constant ? " constant" : " plain") + (acc ? " accumulate" : "");
                    Parity.Errors err = report.errors("rmsnorm_backward" + (constant ? " (1/rms constant)" : ""));
                    try (Parity.Buffers b = new Parity.Buffers(dev)) {
                        DevicePointer dX = b.of(x), dW = b.of(w), dDy = b.of(dy), dInv = b.of(inv);
                        Parity.acrossSchedules(dev, MODES, what, m -> {
                            DevicePointer out = b.of(dx0);
                            kernels.rmsnormBackward(out, dDy, dX, dW, dInv, n, dim, constant, acc);
                            float[] got = b.floats(out, n * dim);
                            for (int row = 0; row < n; row++) {
                                double iv = inv[row], mag = 0;
                                for (int i = 0; i < dim; i++) mag += Math.abs((double) w[i] * dy[row * dim + i] * x[row * dim + i]);
                                double cMag = mag * iv * iv * iv / dim;
                                for (int i = 0; i < dim; i++) {
                                    int e = row * dim + i;
                                    double g = Math.abs((double) w[i] * dy[e] * iv);
                                    double tol = constant ? 0 : (dim / 8.0 + dim / 256.0 + 16) * Parity.U * cMag * Math.abs(x[e])
                                            + 4 * Parity.U * (g + cMag * Math.abs(x[e]));
                                    if (acc) tol += 2 * Parity.U * (Math.abs(want[e]) + Math.abs(dx0[e]));
                                    if (constant && !acc) err.exact(got[e], want[e], what + " [" + row + "," + i + "]");
                                    else err.check(got[e], want[e], tol, what + " schedule " + m + " [" + row + "," + i + "]");
                                }
                            }
                            return got;
                        });
                    }
                }
        }
    }

    @Test
    void swigluBackwardMatchesTheCpuInEveryRuleMode() {
        Random r = new Random(12);
        int n = 6, inter = 500, ldg = 2 * inter + 4, lda = inter + 2, ldd = 2 * inter + 6;
        float[] gu = Parity.gaussian(r, n * ldg, 3.0), dact = Parity.gaussian(r, n * lda, 1.0);
        gu[0] = 0f;
        gu[1] = -60f;
        float[] bGate = Parity.gaussian(r, inter, 0.5), bUp = Parity.gaussian(r, inter, 0.5);
        for (RuleMode mode : RuleMode.values())
            for (boolean biased : new boolean[] {false, true}) {
                LrpRules rules = mode.rules();
                float[] gate = new float[n * inter], up = new float[n * inter], da = new float[n * inter];
                for (int t = 0; t < n; t++)
                    for (int c = 0; c < inter; c++) {
                        gate[t * inter + c] = gu[t * ldg + c] + (biased ? bGate[c] : 0f);
                        up[t * inter + c] = gu[t * ldg + inter + c] + (biased ? bUp[c] : 0f);
                        da[t * inter + c] = dact[t * lda + c];
                    }
                float[] wantG = new float[n * inter], wantU = new float[n * inter];
                Mlp.swigluBackward(rules, gate, up, da, wantG, wantU, 0, n * inter);
                String what = "swiglu_backward " + mode + (biased ? " (biases)" : "");
                Parity.Errors err = report.errors("swiglu_backward");
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dGu = b.of(gu), dDa = b.of(dact);
                    DevicePointer bg = biased ? b.of(bGate) : DevicePointer.NULL, bu = biased ? b.of(bUp) : DevicePointer.NULL;
                    Parity.acrossSchedules(dev, MODES, what, m -> {
                        DevicePointer out = b.nan(4L * n * ldd);
                        kernels.swigluBackward(out, ldd, dDa, lda, dGu, ldg, bg, bu, n, inter, rules.gateProductShare(), rules.siluIdentity(),
                                rules.stopGradientGate());
                        float[] got = b.floats(out, n * ldd);
                        for (int t = 0; t < n; t++) {
                            for (int c = 0; c < inter; c++) {
                                String where = what + " schedule " + m + " [" + t + "," + c + "]";
                                float g = got[t * ldd + c], u = got[t * ldd + inter + c];
                                if (rules.stopGradientGate()) err.exact(g, 0f, where + " d gate");
                                else err.check(g, wantG[t * inter + c], 16 * Parity.U * Math.abs(wantG[t * inter + c]) + 1e-30, where + " d gate");
                                err.check(u, wantU[t * inter + c], 16 * Parity.U * Math.abs(wantU[t * inter + c]) + 1e-30, where + " d up");
                            }
                            for (int c = 2 * inter; c < ldd; c++)
                                if (!Float.isNaN(got[t * ldd + c])) throw new AssertionError(what + ": padding column " + c + " written");
                        }
                        return got;
                    });
                }
            }
    }

    @Test
    void ropeWithNegatedSinIsTheCpuInverseRotation() {
        Random r = new Random(13);
        int n = 7, heads = 6, kvHeads = 2, hd = 12, half = hd / 2, Q = heads * hd, K = kvHeads * hd, ld = Q + 2 * K + 3;
        float[] d = Parity.gaussian(r, n * ld, 1.0), cos = new float[n * half], sin = new float[n * half], negSin = new float[n * half];
        for (int i = 0; i < n * half; i++) {
            double a = r.nextDouble() * 20;
            cos[i] = (float) Math.cos(a);
            sin[i] = (float) Math.sin(a);
            negSin[i] = -sin[i];
        }
        float[] dq = new float[n * Q], dk = new float[n * K];
        for (int t = 0; t < n; t++) {
            System.arraycopy(d, t * ld, dq, t * Q, Q);
            System.arraycopy(d, t * ld + Q, dk, t * K, K);
        }
        Rope.applyInverse(dq, n, heads, hd, cos, sin);
        Rope.applyInverse(dk, n, kvHeads, hd, cos, sin);
        Parity.Errors err = report.errors("rope (inverse)");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer dCos = b.of(cos), dNeg = b.of(negSin);
            Parity.acrossSchedules(dev, MODES, "rope inverse", m -> {
                DevicePointer buf = b.of(d);
                kernels.ropeInverse(buf, buf.plus(4L * Q), dCos, dNeg, n, heads, kvHeads, hd, ld);
                float[] got = b.floats(buf, n * ld);
                for (int t = 0; t < n; t++)
                    for (int c = 0; c < ld; c++) {
                        float want = c < Q ? dq[t * Q + c] : c < Q + K ? dk[t * K + c - Q] : d[t * ld + c];
                        err.exact(got[t * ld + c], want, "rope inverse token " + t + " column " + c);
                    }
                return got;
            });
        }
    }

    @Test
    void linearBackwardMatchesTheCpuForFewAndManyRows() {
        Random r = new Random(14);
        for (int[] shape : new int[][] {{1, 300, 64}, {5, 129, 200}, {8, 64, 130}, {9, 300, 96}, {40, 77, 64}})
            for (DataType t : DataType.values()) {
                int m = shape[0], out = shape[1], in = shape[2];
                float[] w = Parity.gaussian(r, out * in, 0.5), dy = Parity.gaussian(r, m * out, 1.0);
                Tensor weight = Parity.tensor(w, out, in, t);
                boolean few = m <= Kernels.GEMV_MAX_ROWS;
                float[] dyIn = dy.clone();                 // what the kernel reads: more rows round dy to the weights' type
                if (!few) for (int i = 0; i < dyIn.length; i++) dyIn[i] = Parity.round(dy[i], t);
                float[] want = new float[m * in];
                LinearBackward.inputGrad(par, want, m, in, false, new LinearBackward.Term(weight, dyIn));
                float[] wr = new float[out * in];
                for (int i = 0; i < wr.length; i++) wr[i] = Parity.round(w[i], t);
                String what = (few ? "gemv_t_" + Kernels.suffix(t) : "cublas dy·W " + t) + " m " + m + " out " + out + " in " + in;
                Parity.Errors err = report.errors(few ? "gemv_t" : "cublas matmulBackward");
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dW = b.of(w, t), dDy = few ? b.of(dy) : b.of(dy, t);
                    Parity.acrossSchedules(dev, MODES, what, mode -> {
                        DevicePointer dx = b.nan(4L * m * in);
                        if (few) kernels.gemvTransposed(t, dx, in, dDy, out, dW, m, out, in, false);
                        else blas.matmulBackward(dx, dDy, dW, t, m, in, out, false);
                        float[] got = b.floats(dx, m * in);
                        for (int i = 0; i < m; i++)
                            for (int c = 0; c < in; c++) {
                                double mag = 0;
                                for (int o = 0; o < out; o++) mag += Math.abs((double) dyIn[i * out + o] * wr[o * in + c]);
                                err.check(got[i * in + c], want[i * in + c], (out + 16) * Parity.U * mag, what + " schedule " + mode + " [" + i + "," + c + "]");
                            }
                        return got;
                    });
                }
            }
    }

    @Test
    void targetSeedsMatchTheHost() {
        Random r = new Random(15);
        int V = 3000, rows = 4;
        float[] logits = Parity.gaussian(r, rows * V, 4.0);
        Target[] targets = {new Target.Logit(17), new Target.LogProb(2999), new Target.Contrast(5, 9), new Target.Contrast(4, 4)};
        int[] kind = new int[rows], token = new int[rows], foil = new int[rows];
        for (int i = 0; i < rows; i++) {
            switch (targets[i]) {
                case Target.Logit x -> { kind[i] = Kernels.TARGET_LOGIT; token[i] = x.tokenId(); }
                case Target.LogProb x -> { kind[i] = Kernels.TARGET_LOGPROB; token[i] = x.tokenId(); }
                case Target.Contrast x -> { kind[i] = Kernels.TARGET_CONTRAST; token[i] = x.tokenId(); foil[i] = x.foilId(); }
            }
        }
        Parity.Errors err = report.errors("target_grad");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer dL = b.of(logits), dK = b.of(kind), dT = b.of(token), dF = b.of(foil);
            Parity.acrossSchedules(dev, MODES, "target_grad", m -> {
                DevicePointer g = b.nan(4L * rows * V);
                kernels.targetGradient(g, V, dL, V, dK, dT, dF, rows, V);
                float[] got = b.floats(g, rows * V);
                for (int i = 0; i < rows; i++) {
                    float[] want = targets[i].gradient(java.util.Arrays.copyOfRange(logits, i * V, (i + 1) * V));
                    for (int j = 0; j < V; j++) {
                        String where = targets[i] + " [" + j + "]";
                        if (kind[i] == Kernels.TARGET_LOGPROB) err.check(got[i * V + j], want[j], Math.ulp(want[j]), where);
                        else err.exact(got[i * V + j], want[j], where);
                    }
                }
                return got;
            });
        }
    }
}
