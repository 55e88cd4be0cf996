package io.rationale.cuda;

import io.rationale.cpu.MatMul;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code gemv.cu} ({@code gemv_{f32,bf16,f16}_m{1,2,4,8}} for every m from 1 to 8, with and without bias, on the
 * vector path and the scalar path) against {@link MatMul#linear} on the same weights (a {@link Tensor} of the same
 * stored values) and activations.
 *
 * <p>Both widen the weights to f32 exactly and accumulate {@code Σ_k w·x} in f32 with FMAs; only the order differs.
 * A sum whose longest chain of roundings is c has error ≤ c·u·Σ|w·x| (u = 2⁻²⁴, first order). The CPU's chains
 * are at most {@code in} long (its decode kernel: in/(2·lanes) per lane; its tiled kernel from 8 rows on: one chain
 * over k), the kernel's ⌈in/128⌉ per thread plus a 12-step butterfly, warp and bias reduction; the bias adds one
 * rounding of |y|. Tolerance per output: {@code (in + ⌈in/128⌉ + 12)·u·Σ|w·x| + u·|y|}, the same for every weight
 * type (the inputs are identical). Measured: worst |Δ|/tolerance 0.032 (in = 64 and 77); worst |Δ| 6.9e-6, at
 * in = 2048 (0.001 of its bound).
 */
class GemvParityTest extends ParityFixture {

    @Test
    void everyRowCountAndWeightTypeMatchesTheCpuLinear() {
        Random r = new Random(5);
        // (out, in): vector path (in a multiple of 8), the same with in = 2048, scalar path (in odd)
        for (int[] shape : new int[][] {{37, 64}, {9, 2048}, {13, 77}}) {
            int out = shape[0], in = shape[1], ldx = in + 4, ldy = out + 3;
            for (DataType t : DataType.values()) {
                float[] wv = Parity.gaussian(r, out * in, 0.05);
                Tensor w = Parity.tensor(wv, out, in, t);
                float[] wStored = w.toFloatArray();
                float[] bias = Parity.gaussian(r, out, 0.5);
                Parity.Errors err = report.errors("gemv_" + Kernels.suffix(t));
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dw = b.alloc(w.byteSize()), dBias = b.of(bias);
                    dev.copyToDevice(dw, w.data());
                    for (int m = 1; m <= Kernels.GEMV_MAX_ROWS; m++) {
                        boolean biased = m % 2 == 1;
                        float[] x = Parity.gaussian(r, m * in, 1.0);
                        float[] want = new float[m * out];
                        MatMul.linear(par, x, m, in, new MatMul.Out(w, biased ? bias : null, want));
                        float[] xPadded = new float[m * ldx];
                        for (int i = 0; i < m; i++) System.arraycopy(x, i * in, xPadded, i * ldx, in);
                        DevicePointer dx = b.of(xPadded);
                        int rows = m;
                        Parity.acrossSchedules(dev, new int[] {0, 7}, "gemv " + t + " m=" + m, mode -> {
                            DevicePointer y = b.nan(4L * rows * ldy);
                            kernels.gemv(t, y, ldy, dx, ldx, dw, biased ? dBias : DevicePointer.NULL, rows, out, in);
                            float[] got = b.floats(y, rows * ldy);
                            for (int i = 0; i < rows; i++) {
                                for (int o = 0; o < out; o++) {
                                    double mag = 0;
                                    for (int k = 0; k < in; k++) mag += Math.abs((double) wStored[o * in + k] * x[i * in + k]);
                                    double ref = want[i * out + o];
                                    double tol = (in + Math.ceil(in / 128.0) + 12) * Parity.U * mag + Parity.U * Math.abs(ref);
                                    err.check(got[i * ldy + o], ref, tol, out + "x" + in + " m=" + rows + " schedule " + mode + " [" + i + "," + o + "]");
                                }
                                for (int o = out; o < ldy; o++)
                                    if (!Float.isNaN(got[i * ldy + o])) throw new AssertionError("gemv wrote padding column " + o + " of row " + i);
                            }
                            return got;
                        });
                    }
                }
            }
        }
    }
}
