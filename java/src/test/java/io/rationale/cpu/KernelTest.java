package io.rationale.cpu;

import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU kernels on their own: weight widening and both matmul kernels against plain double loops. */
class KernelTest {
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void everyHalfAndBfloatBitPatternWidensExactly() {
        MemorySegment seg = Arena.ofAuto().allocate(65536 * 2 + 2);
        for (int i = 0; i < 65536; i++) seg.set(I16, 2L + 2L * i, (short) i);   // odd offset: unaligned loads
        float[] f16 = new float[65536], bf16 = new float[65536];
        Vec.toFloat(DType.F16, seg.asSlice(2), 0, f16, 0, 65536);
        Vec.toFloat(DType.BF16, seg.asSlice(2), 0, bf16, 0, 65536);
        for (int i = 0; i < 65536; i++) {
            float e = Float.float16ToFloat((short) i);
            assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(f16[i]), "f16 " + Integer.toHexString(i));
            assertEquals(Float.intBitsToFloat(i << 16), bf16[i], 0f, "bf16 " + Integer.toHexString(i));
        }
    }

    /**
     * Shapes and token counts reach every register tile (6x4, 4x4, 1x4, 4x1, 1x1; dot 2x4 and 2x1 with an odd last row),
     * both kernels, the two together (tiles and a dot tail) and K > one block.
     */
    @Test
    void matmulKernelsMatchPlainLoops() {
        Random rnd = new Random(2);
        try (Parallel par = new Parallel(2)) {
            for (DType dt : DType.values()) {
                for (int[] shape : new int[][]{{13, 37}, {17, 1100}, {5, 16}, {515, 1100}}) {   // 515 x 1100: a dot task spans several L2 blocks (MatMul.dotBlockRows), the last one odd
                    int rows = shape[0], k = shape[1];
                    MemorySegment seg = Arena.ofAuto().allocate((long) rows * k * dt.bytes);
                    for (int i = 0; i < rows * k; i++) {
                        float v = (float) rnd.nextGaussian();
                        switch (dt) {
                            case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, v);
                            case BF16 -> seg.set(I16, 2L * i, (short) (Float.floatToRawIntBits(v) >>> 16));
                            case F16 -> seg.set(I16, 2L * i, Float.floatToFloat16(v));
                        }
                    }
                    Tensor w = new Tensor("w", dt, new long[]{rows, k}, seg);
                    float[] bias = new float[rows];
                    for (int r = 0; r < rows; r++) bias[r] = r * 0.5f;
                    double[] wd = new double[rows * k];
                    for (int i = 0; i < rows * k; i++) wd[i] = w.get(i);
                    // 256: padded acc rows (MatMul.leadingDimension); 34, 35, 36, 70, 100, 257: tiles for the whole vectors
                    // and the dot kernels for the tail (MatMul.dotTail); 17, 25, 40: padded tails
                    for (int n : k > 1000 ? new int[]{1, 5, 6, 7, 9, 35, 70, 256} : new int[]{1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 13, 14, 15, 17, 25, 34, 35, 36, 40, 64, 70, 100, 256, 257}) {
                        float[] x = new float[n * k];
                        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                        float[] y = new float[n * rows];
                        MatMul.linear(par, x, n, k, new MatMul.Out(w, bias, y));
                        for (int t = 0; t < n; t++)
                            for (int r = 0; r < rows; r++) {
                                double s = bias[r], mag = 0;
                                for (int i = 0; i < k; i++) {
                                    s += wd[r * k + i] * x[t * k + i];
                                    mag += Math.abs(wd[r * k + i] * x[t * k + i]);
                                }
                                double err = Math.abs(s - y[t * rows + r]);
                                assertTrue(err <= 1e-6 * mag + 1e-6, dt + " " + rows + "x" + k + " n=" + n + " [" + t + "," + r + "]: " + y[t * rows + r] + " vs " + s);
                            }
                    }
                }
            }
        }
    }
}
