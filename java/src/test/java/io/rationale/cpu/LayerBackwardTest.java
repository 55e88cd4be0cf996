package io.rationale.cpu;

import io.rationale.engine.LrpRules;

import io.rationale.engine.RuleMode;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static io.rationale.cpu.Fd.assertClose;
import static io.rationale.cpu.Fd.random;
import static io.rationale.cpu.Fd.toDouble;
import static io.rationale.cpu.Fd.toFloat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every backward step on its own against central finite differences (step 1e-5) of a double-precision version of
 * its forward, on random f32-representable inputs, through a scalar {@code Σ dy·y} with a random output gradient dy.
 * Tolerance unless stated: every element within 1e-4·max|FD gradient| + 1e-6 (f32 rounding in the kernels; FD
 * error in double is below 1e-9). Sizes include vector tails (16 and 8 lane CPUs alike).
 */
class LayerBackwardTest {
    static final double H = 1e-5, REL = 1e-4, ABS = 1e-6;

    // ---------------------------------------------------------------- RMSNorm

    @Test
    void rmsNormGradientAndConstantRmsRuleMatchFiniteDifferences() {
        Random r = new Random(1);
        int rows = 3, dim = 37;
        float eps = 1e-5f;
        float[] x = toFloat(random(r, rows * dim, 1.5)), w = toFloat(random(r, dim, 0.2)), dy = toFloat(random(r, rows * dim, 1));
        for (int i = 0; i < dim; i++) w[i] += 1;
        float[] y = new float[rows * dim];
        float[] inv = RmsNorm.forward(x, rows, dim, w, eps, y);
        double[] base = toDouble(x);
        double[] invD = new double[rows];
        for (int t = 0; t < rows; t++) invD[t] = rmsInv(base, t, dim, eps);

        double[] plain = Fd.gradient(xx -> {
            double s = 0;
            for (int t = 0; t < rows; t++) {
                double iv = rmsInv(xx, t, dim, eps);
                for (int i = 0; i < dim; i++) s += dy[t * dim + i] * w[i] * xx[t * dim + i] * iv;
            }
            return s;
        }, base.clone(), H);
        float[] dx = new float[rows * dim];
        RmsNorm.backward(RuleMode.GRADIENT, x, inv, rows, dim, w, dy, dx, false);
        assertClose(plain, dx, REL, ABS, "RMSNorm gradient");

        // accumulate adds to what is there
        float[] acc = new float[rows * dim];
        java.util.Arrays.fill(acc, 2f);
        RmsNorm.backward(RuleMode.GRADIENT, x, inv, rows, dim, w, dy, acc, true);
        for (int i = 0; i < acc.length; i++) assertEquals(dx[i] + 2f, acc[i], 1e-5f);

        // the LRP modes hold 1/rms constant: FD of the same function with inv frozen at the base point
        double[] frozen = Fd.gradient(xx -> {
            double s = 0;
            for (int t = 0; t < rows; t++)
                for (int i = 0; i < dim; i++) s += dy[t * dim + i] * w[i] * xx[t * dim + i] * invD[t];
            return s;
        }, base.clone(), H);
        for (RuleMode m : new RuleMode[]{RuleMode.ATTNLRP, RuleMode.CPLRP}) {
            RmsNorm.backward(m, x, inv, rows, dim, w, dy, dx, false);
            assertClose(frozen, dx, REL, ABS, "RMSNorm " + m);
        }
    }

    static double rmsInv(double[] x, int row, int dim, float eps) {
        double ms = 0;
        for (int i = 0; i < dim; i++) ms += x[row * dim + i] * x[row * dim + i];
        return 1 / Math.sqrt(ms / dim + eps);
    }

    // ---------------------------------------------------------------- RoPE

    @Test
    void ropeBackwardIsTheInverseRotationAndMatchesFiniteDifferences() {
        Random r = new Random(2);
        int tokens = 3, heads = 2, hd = 10, half = hd / 2;
        float[] cos = new float[tokens * half], sin = new float[tokens * half];
        for (int i = 0; i < cos.length; i++) {
            double a = r.nextDouble() * 7;
            cos[i] = (float) Math.cos(a);
            sin[i] = (float) Math.sin(a);
        }
        float[] x = toFloat(random(r, tokens * heads * hd, 1)), dy = toFloat(random(r, x.length, 1));
        double[] want = Fd.gradient(xx -> {
            double s = 0;
            for (int t = 0; t < tokens; t++)
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < half; i++) {
                        int o = (t * heads + h) * hd;
                        double c = cos[t * half + i], sn = sin[t * half + i], x1 = xx[o + i], x2 = xx[o + i + half];
                        s += dy[o + i] * (x1 * c - x2 * sn) + dy[o + i + half] * (x2 * c + x1 * sn);
                    }
            return s;
        }, toDouble(x), H);
        float[] dx = dy.clone();
        Rope.applyInverse(dx, tokens, heads, hd, cos, sin);
        assertClose(want, dx, REL, ABS, "RoPE backward");
        float[] round = x.clone();
        Rope.apply(round, tokens, heads, hd, cos, sin);
        Rope.applyInverse(round, tokens, heads, hd, cos, sin);
        assertArrayEquals(x, round, 1e-5f, "inverse rotation undoes the rotation");
    }

    // ---------------------------------------------------------------- attention

    @ParameterizedTest(name = "heads {0}/{1}, dim {2}, window {3}, sequences of 5 and {4}")
    @CsvSource({"4, 2, 8, 0, 7", "4, 2, 20, 0, 7", "6, 3, 16, 3, 7", "3, 1, 12, 4, 7", "4, 2, 8, 0, 37", "2, 1, 20, 21, 37"})
    void attentionBackwardMatchesFiniteDifferences(int heads, int kvHeads, int hd, int window, int len) {
        Random r = new Random(3 + hd);
        int[] seqStart = {0, 5, 5 + len};                   // two sequences, each from position 0 (37: several query blocks)
        int n = 5 + len, Q = heads * hd, K = kvHeads * hd;
        float[] q = toFloat(random(r, n * Q, 1)), k = toFloat(random(r, n * K, 1)), v = toFloat(random(r, n * K, 1));
        float[] dOut = toFloat(random(r, n * Q, 1));
        double[] all = new double[n * (Q + 2 * K)];
        System.arraycopy(toDouble(q), 0, all, 0, n * Q);
        System.arraycopy(toDouble(k), 0, all, n * Q, n * K);
        System.arraycopy(toDouble(v), 0, all, n * Q + n * K, n * K);
        double[] want = Fd.gradient(a -> attentionObjective(a, n, heads, kvHeads, hd, window, seqStart, dOut), all, H);

        Attention.Shape sh = new Attention.Shape(heads, kvHeads, hd, window);
        float[] dq = new float[n * Q], dk = new float[n * K], dv = new float[n * K];
        try (Parallel par = new Parallel(2)) {
            java.util.Arrays.fill(dk, 9f);                  // the backward overwrites, it does not add
            Attention.backward(par, sh, RuleMode.GRADIENT, q, k, v, seqStart, dOut, dq, dk, dv);
            assertClose(java.util.Arrays.copyOfRange(want, 0, n * Q), dq, REL, ABS, "dq");
            assertClose(java.util.Arrays.copyOfRange(want, n * Q, n * Q + n * K), dk, REL, ABS, "dk (summed over the heads of each KV head)");
            assertClose(java.util.Arrays.copyOfRange(want, n * Q + n * K, all.length), dv, REL, ABS, "dv");

            // the rules scale the plain gradients: AttnLRP q,k /4 and v /2 (exact in f32), CP-LRP nothing into q,k
            float[] aq = new float[n * Q], ak = new float[n * K], av = new float[n * K];
            Attention.backward(par, sh, RuleMode.ATTNLRP, q, k, v, seqStart, dOut, aq, ak, av);
            for (int i = 0; i < aq.length; i++) assertEquals(dq[i] / 4, aq[i], 0f);
            for (int i = 0; i < ak.length; i++) assertEquals(dk[i] / 4, ak[i], 0f);
            for (int i = 0; i < av.length; i++) assertEquals(dv[i] / 2, av[i], 0f);
            Attention.backward(par, sh, RuleMode.CPLRP, q, k, v, seqStart, dOut, aq, ak, av);
            for (float f : aq) assertEquals(0f, f);
            for (float f : ak) assertEquals(0f, f);
            assertArrayEquals(dv, av, "CP-LRP keeps the plain gradient into v");
        }
    }

    /** Σ dOut·attention(q, k, v) in double; a = [q | k | v] packed. */
    static double attentionObjective(double[] a, int n, int heads, int kvHeads, int hd, int window, int[] seqStart, float[] dOut) {
        int Q = heads * hd, K = kvHeads * hd, kOff = n * Q, vOff = n * Q + n * K;
        double total = 0;
        for (int s = 0; s + 1 < seqStart.length; s++) {
            int t0 = seqStart[s], len = seqStart[s + 1] - t0;
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                for (int i = 0; i < len; i++) {
                    int lo = window > 0 ? Math.max(0, i - window + 1) : 0;
                    double[] p = new double[len];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = lo; j <= i; j++) {
                        double d = 0;
                        for (int e = 0; e < hd; e++) d += a[(t0 + i) * Q + h * hd + e] * a[kOff + (t0 + j) * K + g * hd + e];
                        p[j] = d / Math.sqrt(hd);
                        max = Math.max(max, p[j]);
                    }
                    for (int j = lo; j <= i; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int e = 0; e < hd; e++) {
                        double o = 0;
                        for (int j = lo; j <= i; j++) o += p[j] / sum * a[vOff + (t0 + j) * K + g * hd + e];
                        total += dOut[(t0 + i) * Q + h * hd + e] * o;
                    }
                }
            }
        }
        return total;
    }

    // ---------------------------------------------------------------- SwiGLU

    @Test
    void swigluBackwardMatchesFiniteDifferencesAndTheRulesTheirFormulas() {
        Random r = new Random(4);
        int n = 53;
        float[] gate = toFloat(random(r, n, 3)), up = toFloat(random(r, n, 1)), dAct = toFloat(random(r, n, 1));
        gate[0] = 0f;
        gate[1] = -30f;
        gate[2] = 25f;
        double[] gu = new double[2 * n];
        System.arraycopy(toDouble(gate), 0, gu, 0, n);
        System.arraycopy(toDouble(up), 0, gu, n, n);
        double[] want = Fd.gradient(a -> {
            double s = 0;
            for (int i = 0; i < n; i++) s += dAct[i] * a[i] / (1 + Math.exp(-a[i])) * a[n + i];
            return s;
        }, gu, H);
        float[] dG = new float[n], dU = new float[n];
        Mlp.swigluBackward(LrpRules.GRADIENT, gate, up, dAct, dG, dU, 0, n);
        assertClose(java.util.Arrays.copyOfRange(want, 0, n), dG, REL, ABS, "d gate");
        assertClose(java.util.Arrays.copyOfRange(want, n, 2 * n), dU, REL, ABS, "d up");
        float[] inPlace = dAct.clone();
        Mlp.swigluBackward(LrpRules.GRADIENT, gate, up, inPlace, new float[n], inPlace, 0, n);
        assertArrayEquals(dU, inPlace, "dU written over dAct");

        Mlp.swigluBackward(LrpRules.ATTNLRP, gate, up, dAct, dG, dU, 0, n);
        for (int i = 0; i < n; i++) {
            double silu = gate[i] / (1 + Math.exp(-gate[i]));
            assertEquals(dAct[i] / 2.0 * silu, dU[i], 1e-6 * (1 + Math.abs(dU[i])), "AttnLRP d up " + i);
            assertEquals(dAct[i] / 2.0 * up[i] * silu / (gate[i] + 1e-10), dG[i], 1e-5 * (1 + Math.abs(dG[i])), "AttnLRP d gate " + i);
        }
        Mlp.swigluBackward(LrpRules.CPLRP, gate, up, dAct, dG, dU, 0, n);
        for (int i = 0; i < n; i++)
            assertEquals(dAct[i] * gate[i] / (1 + Math.exp(-gate[i])), dU[i], 1e-6 * (1 + Math.abs(dU[i])), "CP-LRP d up " + i);
    }

    // ---------------------------------------------------------------- linear: dx = dy·W

    /** Stripes follow the thread count; every dx element still adds its rows in the same order, so bit for bit equal. */
    @Test
    void linearInputGradientDoesNotDependOnThreads() {
        Random r = new Random(9);
        int in = 2100, out = 700, n = 11;
        Tensor w = tensor(DType.BF16, out, in, r);
        float[] dy = toFloat(random(r, n * out, 1));
        float[][] got = new float[3][];
        for (int threads = 1; threads <= 3; threads++) {
            assertTrue(LinearBackward.stripe(in, threads) != LinearBackward.stripe(in, 1) || threads == 1);
            try (Parallel par = new Parallel(threads)) {
                got[threads - 1] = new float[n * in];
                LinearBackward.inputGrad(par, got[threads - 1], n, in, false, new LinearBackward.Term(w, dy));
            }
        }
        assertArrayEquals(got[0], got[1]);
        assertArrayEquals(got[0], got[2]);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void linearInputGradientMatchesFiniteDifferences(DType dt) {
        Random r = new Random(5);
        try (Parallel par = new Parallel(2)) {
            // {1100, 300}: stripes of 256 columns (2 threads) with a 76-column last one, two blocks of widened rows
            for (int[] shape : new int[][]{{37, 5}, {48, 300}, {64, 70}, {130, 33}, {200, 260}, {1100, 300}}) {
                int in = shape[0], out = shape[1];
                Tensor w1 = tensor(dt, out, in, r), w2 = tensor(dt, out / 2 + 1, in, r);
                double[] W1 = toDouble(w1.toFloatArray()), W2 = toDouble(w2.toFloatArray());
                // up to 12 tokens chunks of whole rows (LinearBackward.chunked), above stripes; the token tiles: 1, 2,
                // 4+3 (7), 6+2, 6+3+2, 6+6, 6+4+3 (13), 6+6+2, 6+6+4, 6+6+4+3 (19)
                for (int n : new int[]{1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 19}) {
                    float[] dy1 = toFloat(random(r, n * out, 1)), dy2 = toFloat(random(r, n * w2.rows(), 1));
                    if (n % 2 == 1) {                               // blocks and chunks of rows with no gradient are skipped
                        // (with 300 rows and 1,100 inputs the first chunk of 252 rows, not the second)
                        for (int t = 0; t < n; t++) java.util.Arrays.fill(dy1, t * out, t * out + Math.min(out, 260), 0f);
                        java.util.Arrays.fill(dy2, 0f);
                    }
                    float[] dx = toFloat(random(r, n * in, 1)), start = dx.clone();
                    // accumulate: dx += dy1·W1 + dy2·W2
                    LinearBackward.inputGrad(par, dx, n, in, true, new LinearBackward.Term(w1, dy1), new LinearBackward.Term(w2, dy2));
                    double[] want = new double[n * in], mag = new double[n * in];
                    for (int t = 0; t < n; t++)
                        for (int i = 0; i < in; i++) {
                            double s = start[t * in + i], m = Math.abs(s);
                            for (int o = 0; o < out; o++) {
                                s += dy1[t * out + o] * W1[o * in + i];
                                m += Math.abs(dy1[t * out + o] * W1[o * in + i]);
                            }
                            for (int o = 0; o < w2.rows(); o++) {
                                s += dy2[t * w2.rows() + o] * W2[o * in + i];
                                m += Math.abs(dy2[t * w2.rows() + o] * W2[o * in + i]);
                            }
                            want[t * in + i] = s;
                            mag[t * in + i] = m;
                        }
                    for (int i = 0; i < want.length; i++) {
                        int idx = i;
                        assertEquals(want[i], dx[i], 1e-5 * mag[i],
                                () -> dt + " in " + in + " out " + out + " tokens " + n + ": element " + idx);
                    }
                    float[] none = dx.clone();                      // overwrite mode, no gradient at all: zeros
                    LinearBackward.inputGrad(par, none, n, in, false, new LinearBackward.Term(w2, new float[n * w2.rows()]));
                    for (float f : none) assertEquals(0f, f, "no gradient, tokens " + n);
                    // overwrite mode, one term, against FD of Σ dy·(x·Wᵀ) in double on a few coordinates
                    LinearBackward.inputGrad(par, dx, n, in, false, new LinearBackward.Term(w1, dy1));
                    double[] fd = Fd.gradient(x -> {                 // token 0, first 3 inputs
                        double s = 0;
                        for (int o = 0; o < out; o++) {
                            double z = 0;
                            for (int i = 0; i < 3; i++) z += W1[o * in + i] * x[i];
                            s += dy1[o] * z;
                        }
                        return s;
                    }, random(r, 3, 1), H);
                    for (int i = 0; i < 3; i++) assertEquals(fd[i], dx[i], 1e-4 * (1 + Math.abs(fd[i])), "FD column " + i);
                }
            }
        }
    }

    static Tensor tensor(DType dt, int rows, int cols, Random r) {
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * dt.bytes);
        var f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            float v = (float) (r.nextGaussian() / Math.sqrt(cols));
            switch (dt) {
                case F32 -> seg.set(f32, 4L * i, v);
                case BF16 -> seg.set(i16, 2L * i, (short) ((Float.floatToRawIntBits(v) + 0x8000) >>> 16));
                case F16 -> seg.set(i16, 2L * i, Float.floatToFloat16(v));
            }
        }
        return new Tensor("w", dt, new long[]{rows, cols}, seg);
    }
}
