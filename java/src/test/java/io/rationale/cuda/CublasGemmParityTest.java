package io.rationale.cuda;

import io.rationale.cpu.MatMul;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * The CUDA backend's prefill projection, {@link Cublas#matmulTransposed} ({@code cublasGemmEx}, f32 accumulation)
 * then {@code bias_add}, against {@link MatMul#linear} (its tiled kernel: 8 rows and more) on the same weights, for
 * f32, bf16 and f16 weights.
 *
 * <p>cuBLAS takes A and B of one type, so with bf16/f16 weights the backend feeds the GEMM activations rounded to
 * that type (by the kernel before it, or {@code convert_*} here), as PyTorch does with a bf16/f16 model; the CPU
 * widens the weights and keeps the activations in f32. Two comparisons per output:
 * <ul>
 * <li>against the CPU on the same rounded activations (x rounded in Java): only the f32 summation order differs;
 *     chains of at most {@code in} roundings on both sides (the CPU's tiled kernel sums each output along k; cuBLAS
 *     gives no order, so at most in), plus the bias: {@code |Δ| ≤ 2·in·u·Σ|w·x̂| + u·|y|} (u = 2⁻²⁴);</li>
 * <li>against the CPU on the unrounded activations (what the CPU backend computes): each x_k moves by at most
 *     its unit roundoff, 2⁻⁹ (bf16, 8 significant bits) or 2⁻¹² (f16, 11 bits; the activations stay in f16's
 *     normal range), so the product moves by at most that times Σ|w·x|, on top of the bound above.</li>
 * </ul>
 * f32 weights: both comparisons are the first one. Measured worst |Δ|/tolerance: 0.023 against the same GEMM input
 * (worst |Δ| 1.7e-6); against the unrounded activations 0.59 (bf16, worst |Δ| 5.3e-3) and 0.52 (f16, 6.9e-4): the
 * rounding bound is about half used, as expected of worst-case-aligned roundings.
 */
class CublasGemmParityTest extends ParityFixture {
    static Cublas blas;

    @BeforeAll
    static void openBlas() { blas = Cublas.open(dev); }

    @AfterAll
    static void closeBlas() {
        if (blas != null) blas.close();
        blas = null;
    }

    @Test
    void prefillProjectionInEveryWeightTypeMatchesTheCpuLinear() {
        Random r = new Random(6);
        for (int[] shape : new int[][] {{9, 64, 40}, {70, 300, 33}, {130, 96, 130}}) {
            int rows = shape[0], in = shape[1], out = shape[2];
            for (DataType t : DataType.values()) {
                Tensor w = Parity.tensor(Parity.gaussian(r, out * in, 0.05), out, in, t);
                float[] wStored = w.toFloatArray();
                float[] bias = Parity.gaussian(r, out, 0.5);
                float[] x = Parity.gaussian(r, rows * in, 1.0);
                float[] xr = new float[x.length];
                for (int i = 0; i < x.length; i++) xr[i] = Parity.round(x[i], t);
                float[] want = new float[rows * out], wantRounded = new float[rows * out];
                MatMul.linear(par, x, rows, in, new MatMul.Out(w, bias, want));
                MatMul.linear(par, xr, rows, in, new MatMul.Out(w, bias, wantRounded));
                double roundoff = t == DataType.BF16 ? 0x1p-9 : t == DataType.F16 ? 0x1p-12 : 0;
                String what = "cublasGemmEx " + t + " " + rows + "x" + in + "x" + out;
                Parity.Errors same = report.errors("cublasGemmEx " + t + " vs the same GEMM input");
                Parity.Errors cpu = report.errors("cublasGemmEx " + t + " vs the CPU's unrounded input");
                try (Parity.Buffers b = new Parity.Buffers(dev)) {
                    DevicePointer dw = b.alloc(w.byteSize()), dBias = b.of(bias), dx = b.of(x);
                    dev.copyToDevice(dw, w.data());
                    Parity.acrossSchedules(dev, new int[] {0, 7}, what, mode -> {
                        DevicePointer input = dx, y = b.nan(4L * rows * out);
                        if (t != DataType.F32) {
                            input = b.nan((long) rows * in * t.bytes);
                            kernels.convert(t, input, in, dx, in, rows, in);
                        }
                        blas.matmulTransposed(y, input, dw, t, rows, in, out);
                        kernels.biasAdd(y, out, dBias, rows, out);
                        float[] got = b.floats(y, rows * out);
                        for (int i = 0; i < rows; i++)
                            for (int o = 0; o < out; o++) {
                                double magR = 0, mag = 0;
                                for (int k = 0; k < in; k++) {
                                    magR += Math.abs((double) wStored[o * in + k] * xr[i * in + k]);
                                    mag += Math.abs((double) wStored[o * in + k] * x[i * in + k]);
                                }
                                double g = got[i * out + o], refR = wantRounded[i * out + o], ref = want[i * out + o];
                                double sum = 2.0 * in * Parity.U;
                                String where = what + " schedule " + mode + " [" + i + "," + o + "]";
                                same.check(g, refR, sum * magR + Parity.U * Math.abs(refR), where);
                                cpu.check(g, ref, (sum + roundoff) * mag + Parity.U * Math.abs(ref), where);
                            }
                        return got;
                    });
                }
            }
        }
    }
}
