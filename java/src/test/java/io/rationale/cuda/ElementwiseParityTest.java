package io.rationale.cuda;

import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * {@code elementwise.cu} against plain Java loops (the CPU backend does these inline): {@code residual_add} (with
 * and without bias), {@code bias_add}, {@code gather_rows}, {@code scatter_rows}, {@code convert_bf16},
 * {@code convert_f16}; all with row strides wider than the data, whose padding must stay untouched.
 *
 * <p>Tolerance: none. Each output is one or two correctly rounded f32 additions in the same order
 * ({@code x + (y + b)}), a copy, or a round-to-nearest-even conversion ({@link Float#floatToFloat16}; bf16 by the
 * usual carry-in of 0x7fff plus the lowest kept bit), so every element must be bit-identical; the conversions are
 * checked on ties, subnormals, overflow to infinity, ±0, ±∞ and NaN (any NaN). Measured: identical.
 */
class ElementwiseParityTest extends ParityFixture {
    static final int[] MODES = {0, 1, 7};

    /** [rows, ld] with random values everywhere (the padding too). */
    static float[] matrix(Random r, int rows, int ld) { return Parity.gaussian(r, rows * ld, 2.0); }

    @Test
    void residualAndBiasAddAreTheCpuSums() {
        Random r = new Random(7);
        int rows = 6, cols = 530, ldx = 540, ldy = 533;
        float[] x = matrix(r, rows, ldx), y = matrix(r, rows, ldy), bias = Parity.gaussian(r, cols, 1.0);
        for (boolean biased : new boolean[] {false, true}) {
            float[] want = x.clone();
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < cols; c++) want[i * ldx + c] = x[i * ldx + c] + (biased ? y[i * ldy + c] + bias[c] : y[i * ldy + c]);
            Parity.Errors err = report.errors("residual_add" + (biased ? " with bias" : ""));
            try (Parity.Buffers b = new Parity.Buffers(dev)) {
                DevicePointer dy = b.of(y), db = biased ? b.of(bias) : DevicePointer.NULL;
                Parity.acrossSchedules(dev, MODES, "residual_add", mode -> {
                    DevicePointer dx = b.of(x);
                    kernels.residualAdd(dx, ldx, dy, ldy, db, rows, cols);
                    float[] got = b.floats(dx, rows * ldx);
                    for (int i = 0; i < got.length; i++) err.exact(got[i], want[i], "schedule " + mode + " element " + i);
                    return got;
                });
            }
        }
        float[] want = y.clone();
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++) want[i * ldy + c] = y[i * ldy + c] + bias[c];
        Parity.Errors err = report.errors("bias_add");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer db = b.of(bias);
            Parity.acrossSchedules(dev, MODES, "bias_add", mode -> {
                DevicePointer dy = b.of(y);
                kernels.biasAdd(dy, ldy, db, rows, cols);
                float[] got = b.floats(dy, rows * ldy);
                for (int i = 0; i < got.length; i++) err.exact(got[i], want[i], "schedule " + mode + " element " + i);
                return got;
            });
        }
    }

    @Test
    void gatherAndScatterMoveTheIndexedRows() {
        Random r = new Random(8);
        int srcRows = 9, cols = 300, ldi = 301, ldo = 310;
        float[] in = matrix(r, srcRows, ldi);
        int[] idx = {8, 0, 3, 3, 5};                      // gather: repeats allowed
        float[] out0 = matrix(r, idx.length, ldo), want = out0.clone();
        for (int i = 0; i < idx.length; i++) System.arraycopy(in, idx[i] * ldi, want, i * ldo, cols);
        Parity.Errors err = report.errors("gather_rows");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer din = b.of(in), dIdx = b.of(idx);
            Parity.acrossSchedules(dev, MODES, "gather_rows", mode -> {
                DevicePointer dOut = b.of(out0);
                kernels.gatherRows(dOut, ldo, din, ldi, dIdx, idx.length, cols);
                float[] got = b.floats(dOut, idx.length * ldo);
                for (int i = 0; i < got.length; i++) err.exact(got[i], want[i], "schedule " + mode + " element " + i);
                return got;
            });
        }

        int[] dst = {4, 1, 7};                            // scatter: distinct
        float[] target = matrix(r, srcRows, ldo), wantS = target.clone();
        for (int i = 0; i < dst.length; i++) System.arraycopy(in, i * ldi, wantS, dst[i] * ldo, cols);
        Parity.Errors errS = report.errors("scatter_rows");
        try (Parity.Buffers b = new Parity.Buffers(dev)) {
            DevicePointer din = b.of(in), dIdx = b.of(dst);
            Parity.acrossSchedules(dev, MODES, "scatter_rows", mode -> {
                DevicePointer dOut = b.of(target);
                kernels.scatterRows(dOut, ldo, din, ldi, dIdx, dst.length, cols);
                float[] got = b.floats(dOut, srcRows * ldo);
                for (int i = 0; i < got.length; i++) errS.exact(got[i], wantS[i], "schedule " + mode + " element " + i);
                return got;
            });
        }
    }

    @Test
    void conversionsRoundToNearestEvenAsJava() {
        Random r = new Random(9);
        int rows = 4, cols = 700, ldi = 707, ldo = 705;
        float[] in = matrix(r, rows, ldi);
        float[] special = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE, -Float.MIN_VALUE,
                Float.MAX_VALUE, 65504f, 65519.99f, 65520f, 1e5f, 6e-8f, 3e-8f, 2.9e-8f, 1e-40f,
                Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), Float.intBitsToFloat(0x3f808001),   // bf16 ties
                1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 1f + 0x1p-11f + 0x1p-23f};                                            // f16 ties
        System.arraycopy(special, 0, in, 0, special.length);
        for (int i = 0; i < 64; i++) in[ldi + i] = Float.intBitsToFloat(r.nextInt());   // random bit patterns
        for (DataType t : new DataType[] {DataType.BF16, DataType.F16}) {
            Parity.Errors err = report.errors("convert_" + Kernels.suffix(t));
            short pad = (short) 0x5a5a;
            short[] before = new short[rows * ldo];
            java.util.Arrays.fill(before, pad);
            try (Parity.Buffers b = new Parity.Buffers(dev)) {
                DevicePointer din = b.of(in);
                Parity.acrossSchedules(dev, MODES, "convert " + t, mode -> {
                    DevicePointer dOut = b.of(before);
                    kernels.convert(t, dOut, ldo, din, ldi, rows, cols);
                    short[] got = new short[rows * ldo];
                    dev.copyToHost(got, dOut);
                    for (int i = 0; i < rows; i++)
                        for (int c = 0; c < ldo; c++) {
                            short g = got[i * ldo + c];
                            String where = "schedule " + mode + " [" + i + "," + c + "]";
                            if (c >= cols) {
                                if (g != pad) throw new AssertionError("convert_" + Kernels.suffix(t) + " wrote padding " + where);
                                continue;
                            }
                            float v = in[i * ldi + c];
                            if (Float.isNaN(v)) {
                                if (!Float.isNaN(Parity.widen(g, t))) throw new AssertionError(t + " of NaN is " + Parity.widen(g, t) + " " + where);
                                continue;
                            }
                            err.exact(Parity.widen(g, t), Parity.round(v, t), where + " (" + v + ")");
                        }
                    return got;
                });
            }
        }
    }
}
