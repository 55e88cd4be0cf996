package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuBLAS through FFM on the emulated device, against plain double-precision loops.
 *
 * <p>Tolerances: the only error of f32 inputs is f32 accumulation, so |y − ref| ≤ 1e-5 · Σ|x·w| per output (k ≤ 300
 * here; the bound is relative to the sum of absolute products, not to |ref|, which cancellation can make tiny). For
 * bf16 and f16 the activations are rounded to the weights' type (cuBLAS takes A and B of one type): against the
 * rounded inputs the same 1e-5 bound holds; against the unrounded activations the error is that of the rounding,
 * ≤ 2⁻⁸ · Σ|x·w| for bf16 (unit roundoff 2⁻⁹) and ≤ 2⁻¹¹ · Σ|x·w| for f16 (2⁻¹²), plus the 1e-5.
 */
class CublasTest {
    static CudaDevice dev;
    static Cublas blas;

    @BeforeAll
    static void open() {
        dev = CudaDevice.openEmulated();
        blas = Cublas.open(dev);
    }

    @AfterAll
    static void close() {
        blas.close();
        dev.close();
    }

    static float round(float v, DataType t) {
        return switch (t) {
            case F32 -> v;
            case BF16 -> Float.intBitsToFloat(bf16Bits(v) << 16);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
        };
    }

    static int bf16Bits(float v) {
        int b = Float.floatToRawIntBits(v);
        return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;  // round to nearest even (no NaN here)
    }

    static DevicePointer upload(float[] v, DataType t) {
        DevicePointer p = dev.alloc((long) v.length * t.bytes);
        if (t == DataType.F32) {
            dev.copyToDevice(p, v);
        } else {
            short[] h = new short[v.length];
            for (int i = 0; i < v.length; i++)
                h[i] = t == DataType.BF16 ? (short) bf16Bits(v[i]) : Float.floatToFloat16(v[i]);
            dev.copyToDevice(p, h);
        }
        return p;
    }

    @Test
    void rowMajorXTimesWTransposedInEveryWeightType() {
        Random r = new Random(11);
        int[][] shapes = {{1, 1, 1}, {1, 64, 96}, {7, 33, 65}, {64, 128, 100}, {130, 257, 70}, {3, 300, 5}};
        for (DataType t : DataType.values())
            for (int[] s : shapes) {
                int rows = s[0], in = s[1], out = s[2];
                float[] x = new float[rows * in], w = new float[out * in];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                for (int i = 0; i < w.length; i++) w[i] = round((float) (r.nextGaussian() * 0.1), t);  // stored weights
                DevicePointer dx = upload(x, t), dw = upload(w, t), dy = dev.alloc(4L * rows * out);
                dev.memset(dy, (byte) 0xff, 4L * rows * out);  // NaN: beta = 0 must not read Y
                blas.matmulTransposed(dy, dx, dw, t, rows, in, out);
                float[] y = new float[rows * out];
                dev.copyToHost(y, dy);
                double roundingBound = t == DataType.BF16 ? 0x1p-8 : t == DataType.F16 ? 0x1p-11 : 0;
                for (int i = 0; i < rows; i++)
                    for (int o = 0; o < out; o++) {
                        double exact = 0, rounded = 0, abs = 0;
                        for (int k = 0; k < in; k++) {
                            exact += (double) x[i * in + k] * w[o * in + k];
                            rounded += (double) round(x[i * in + k], t) * w[o * in + k];
                            abs += Math.abs((double) x[i * in + k] * w[o * in + k]);
                        }
                        double got = y[i * out + o];
                        String where = t + " rows=" + rows + " in=" + in + " out=" + out + " at [" + i + "," + o + "]";
                        assertTrue(Math.abs(got - rounded) <= 1e-5 * abs + 1e-30, where + ": " + got + " vs " + rounded);
                        assertTrue(Math.abs(got - exact) <= (roundingBound + 1e-5) * abs + 1e-30,
                                where + " against unrounded activations: " + got + " vs " + exact);
                    }
                dev.free(dx);
                dev.free(dw);
                dev.free(dy);
            }
    }

    /** Column-major reference: C = alpha op(A) op(B) + beta C. */
    static double[] gemmRef(int ta, int tb, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb,
                            float beta, float[] c, int ldc) {
        double[] out = new double[c.length];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double) (ta == Cublas.OP_N ? a[i + p * lda] : a[p + i * lda])
                            * (tb == Cublas.OP_N ? b[p + j * ldb] : b[j + p * ldb]);
                out[i + j * ldc] = alpha * s + beta * c[i + j * ldc];
            }
        return out;
    }

    @Test
    void gemmExInBothTransposesWithAlphaAndBeta() {
        Random r = new Random(3);
        int m = 37, n = 21, k = 45;
        for (int ta : new int[] {Cublas.OP_N, Cublas.OP_T})
            for (int tb : new int[] {Cublas.OP_N, Cublas.OP_T}) {
                int lda = (ta == Cublas.OP_N ? m : k) + 2, ldb = (tb == Cublas.OP_N ? k : n) + 3, ldc = m + 1;
                float[] a = new float[lda * (ta == Cublas.OP_N ? k : m)], b = new float[ldb * (tb == Cublas.OP_N ? n : k)];
                float[] c = new float[ldc * n];
                for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
                for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
                for (int i = 0; i < c.length; i++) c[i] = r.nextFloat() - 0.5f;
                DevicePointer da = upload(a, DataType.F32), db = upload(b, DataType.F32), dc = upload(c, DataType.F32);
                blas.gemmEx(ta, tb, m, n, k, 0.75f, da, DataType.F32, lda, db, DataType.F32, ldb, -1.5f, dc,
                        DataType.F32, ldc);
                float[] got = new float[c.length];
                dev.copyToHost(got, dc);
                double[] ref = gemmRef(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -1.5f, c, ldc);
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < m; i++)
                        assertEquals(ref[i + j * ldc], got[i + j * ldc], 1e-5 * k, "ta=" + ta + " tb=" + tb + " [" + i + "," + j + "]");
                for (int j = 0; j < n; j++) assertEquals(c[m + j * ldc], got[m + j * ldc], "row padding of C untouched");
                dev.free(da);
                dev.free(db);
                dev.free(dc);
            }
    }

    @Test
    void stridedBatchedGemmComputesEachMatrix() {
        Random r = new Random(5);
        int m = 16, n = 12, k = 24, batch = 4;  // e.g. per-head scores Q·Kᵀ
        float[] a = new float[k * m * batch], b = new float[k * n * batch], c = new float[m * n * batch];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
        DevicePointer da = upload(a, DataType.F32), db = upload(b, DataType.F32), dc = dev.alloc(4L * c.length);
        blas.gemmStridedBatchedEx(Cublas.OP_T, Cublas.OP_N, m, n, k, 1f, da, DataType.F32, k, (long) k * m, db,
                DataType.F32, k, (long) k * n, 0f, dc, DataType.F32, m, (long) m * n, batch);
        float[] got = new float[c.length];
        dev.copyToHost(got, dc);
        for (int bi = 0; bi < batch; bi++) {
            float[] ab = java.util.Arrays.copyOfRange(a, bi * k * m, (bi + 1) * k * m);
            float[] bb = java.util.Arrays.copyOfRange(b, bi * k * n, (bi + 1) * k * n);
            double[] ref = gemmRef(Cublas.OP_T, Cublas.OP_N, m, n, k, 1f, ab, k, bb, k, 0f, new float[m * n], m);
            for (int i = 0; i < m * n; i++) assertEquals(ref[i], got[bi * m * n + i], 1e-5 * k, "batch " + bi + " element " + i);
        }
        dev.free(da);
        dev.free(db);
        dev.free(dc);
    }

    @Test
    void unsupportedTypeCombinationIsAnExceptionNamingTheStatus() {
        DevicePointer p = dev.alloc(4096);
        var e = assertThrows(CublasException.class, () -> blas.gemmEx(Cublas.OP_N, Cublas.OP_N, 4, 4, 4, 1f, p,
                DataType.F32, 4, p, DataType.BF16, 4, 0f, p, DataType.F32, 4));
        assertTrue(e.getMessage().contains("CUBLAS_STATUS_NOT_SUPPORTED") && e.getMessage().contains("cublasGemmEx"),
                e.getMessage());
        var bad = assertThrows(CublasException.class, () -> blas.gemmEx(Cublas.OP_N, Cublas.OP_N, 4, 4, 4, 1f, p,
                DataType.F32, 3, p, DataType.F32, 4, 0f, p, DataType.F32, 4));
        assertTrue(bad.getMessage().contains("CUBLAS_STATUS_INVALID_VALUE"), bad.getMessage());
        dev.free(p);
    }
}
