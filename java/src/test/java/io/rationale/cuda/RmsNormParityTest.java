package io.rationale.cuda;

import io.rationale.cpu.RmsNorm;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code rmsnorm.cu} ({@code rmsnorm_f32/bf16/f16}, with and without the row index, with {@code inv_rms}) against
 * {@link RmsNorm#forward} on the same rows and weight.
 *
 * <p>Tolerances. Both compute {@code inv = (float)(1/sqrt((double)(ss/dim) + eps))} and {@code y = w·(x·inv)} with
 * the same f32 operations; only the order of the sum of squares ss differs (the CPU: a few vector lanes, each a
 * chain of dim/(2·lanes) FMAs, lanes ≥ 4; the kernel: 256 threads, each a chain of ⌈dim/256⌉, then a 10-level tree).
 * A sum of non-negative terms along chains of length c has relative error ≤ c·u (u = 2⁻²⁴), so the two ss differ
 * by ≤ (dim/8 + dim/256 + 16)·u relative, inv by half that plus one rounding, and y by that plus the rounding of
 * the two products: per element {@code |Δ| ≤ ((dim/8 + dim/256 + 16)/2 + 3)·u·|y|} (f32; inv_rms likewise). A bf16
 * or f16 output adds half an ulp of that type at y (the rounding of the kernel's f32 value may go the other way).
 * Measured: f32 within 0.23 of the bound (worst |Δ| 9.5e-7, |y| up to ~9), inv_rms within 0.09 (one ulp at most);
 * bf16 outputs all the CPU value rounded, f16 all but 3 of 74,505 (rounded to its other neighbour).
 */
class RmsNormParityTest extends ParityFixture {

    @Test
    void everyOutputTypeWithAndWithoutRowIndexMatchesTheCpu() {
        Random r = new Random(2);
        float eps = 1e-5f;
        for (int[] shape : new int[][] {{5, 64}, {9, 1000}, {3, 2048}, {2, 7}}) {
            int rowsX = shape[0], dim = shape[1];
            float[] x = Parity.gaussian(r, rowsX * dim, 1.5);
            float[] w = Parity.gaussian(r, dim, 1.0);
            x[0] = 40f;                                   // one large value: a row far from unit scale
            // the CPU layer on every row of x
            float[] want = new float[rowsX * dim];
            float[] wantInv = RmsNorm.forward(x, rowsX, dim, w, eps, want);
            double rel = ((dim / 8.0 + dim / 256.0 + 16) / 2 + 3) * Parity.U;
            // the row index: y row i = norm of x row rows[i] (LogitsMode.LAST)
            int[] rowIdx = {rowsX - 1, 0, rowsX / 2};
            for (DataType t : DataType.values()) {
                for (boolean indexed : new boolean[] {false, true}) {
                    int n = indexed ? rowIdx.length : rowsX;
                    String what = "rmsnorm_" + Kernels.suffix(t) + (indexed ? " (rows)" : "") + " dim " + dim;
                    Parity.Errors err = report.errors("rmsnorm_" + Kernels.suffix(t)), errInv = report.errors("rmsnorm inv_rms");
                    try (Parity.Buffers b = new Parity.Buffers(dev)) {
                        DevicePointer dx = b.of(x), dw = b.of(w), drows = indexed ? b.of(rowIdx) : DevicePointer.NULL;
                        Parity.acrossSchedules(dev, new int[] {0, 1, 7}, what, mode -> {
                            DevicePointer y = b.nan((long) n * dim * t.bytes), inv = b.nan(4L * n);
                            kernels.rmsnorm(t, y, dx, dw, drows, inv, n, dim, eps);
                            float[] got = b.read(y, n * dim, t), gotInv = b.floats(inv, n);
                            for (int i = 0; i < n; i++) {
                                int src = indexed ? rowIdx[i] : i;
                                errInv.check(gotInv[i], wantInv[src], rel * wantInv[src], what + " schedule " + mode + " row " + i);
                                for (int j = 0; j < dim; j++) {
                                    double ref = want[src * dim + j];
                                    String where = what + " schedule " + mode + " [" + i + "," + j + "]";
                                    if (t == DataType.F32) err.check(got[i * dim + j], ref, rel * Math.abs(ref), where);
                                    else err.rounded(got[i * dim + j], ref, rel * Math.abs(ref), t, where);
                                }
                            }
                            return new float[][] {got, gotInv};
                        });
                    }
                }
            }
        }
    }
}
