package io.rationale.cuda;

import io.rationale.cpu.Mlp;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code swiglu.cu} ({@code swiglu_f32/bf16/f16}, with and without the mlp_bias biases) against {@link Mlp#swiglu}
 * on the same gate and up projections.
 *
 * <p>The kernel reads the fused gate|up GEMM output {@code [n, 2I]} (row stride ldg) and adds the biases itself; on
 * the CPU the biases come from {@code MatMul.linear} ({@code dot + b}, one f32 addition), so the CPU side gets
 * {@code gate + bGate} and {@code up + bUp} added in f32 before {@link Mlp#swiglu}: the same operations.
 *
 * <p>Tolerance: both compute {@code z / (1 + exp(−z)) · u} in that order; only exp differs (Java's vectorised
 * {@code EXP} or {@link Math#exp}, against {@code expf}: each within 2 ulp on a GPU, correctly rounded in the
 * emulation's libm), which moves {@code 1 + exp(−z)} by at most ~3u relative, and the division and product round
 * once each: {@code |Δ| ≤ 8u·|act|} for f32 (u = 2⁻²⁴; relative, as silu keeps the relative error of exp for every
 * z), plus half an ulp of the output type for bf16/f16. Measured: f32 within 0.36 of the bound (at most 2 ulp,
 * worst |Δ| 6.0e-8); bf16 and f16 outputs all the CPU value rounded.
 */
class SwigluParityTest extends ParityFixture {

    @Test
    void everyOutputTypeWithAndWithoutBiasesMatchesTheCpu() {
        Random r = new Random(4);
        int n = 7, inter = 600, ldg = 2 * inter + 8, lda = inter + 4;   // strides wider than the data
        float[] gu = Parity.gaussian(r, n * ldg, 3.0);
        gu[0] = -90f;                                     // exp(90) overflows f32: silu → −0
        gu[1] = 90f;
        gu[2] = 0f;
        float[] bGate = Parity.gaussian(r, inter, 0.5), bUp = Parity.gaussian(r, inter, 0.5);
        for (boolean biased : new boolean[] {false, true}) {
            float[] gate = new float[n * inter], up = new float[n * inter], want = new float[n * inter];
            for (int t = 0; t < n; t++)
                for (int c = 0; c < inter; c++) {
                    gate[t * inter + c] = gu[t * ldg + c] + (biased ? bGate[c] : 0f);
                    up[t * inter + c] = gu[t * ldg + inter + c] + (biased ? bUp[c] : 0f);
                }
            Mlp.swiglu(gate, up, want, 0, n * inter);
            for (DataType t : DataType.values()) {
                String what = "swiglu_" + Kernels.suffix(t) + (biased ? " (biases)" : "");
                Parity.Errors err = report.errors("swiglu_" + Kernels.suffix(t));
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dgu = b.of(gu);
                    DevicePointer bg = biased ? b.of(bGate) : DevicePointer.NULL, bu = biased ? b.of(bUp) : DevicePointer.NULL;
                    Parity.acrossSchedules(dev, new int[] {0, 1, 7}, what, mode -> {
                        DevicePointer act = b.nan((long) n * lda * t.bytes);
                        kernels.swiglu(t, act, lda, dgu, ldg, bg, bu, n, inter);
                        float[] got = b.read(act, n * lda, t);
                        for (int row = 0; row < n; row++) {
                            for (int c = 0; c < inter; c++) {
                                double ref = want[row * inter + c], f32 = 8 * Parity.U * Math.abs(ref);
                                String where = what + " schedule " + mode + " [" + row + "," + c + "]";
                                if (t == DataType.F32) err.check(got[row * lda + c], ref, f32, where);
                                else err.rounded(got[row * lda + c], ref, f32, t, where);
                            }
                            for (int c = inter; c < lda; c++)
                                if (!Float.isNaN(got[row * lda + c])) throw new AssertionError(what + ": padding column " + c + " of row " + row + " written");
                        }
                        return got;
                    });
                }
            }
        }
    }
}
