package io.rationale.engine;

import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.IntStream;

/** {@link Model#mergeLora}'s arithmetic: one merged matrix. */
final class LoraMerge {
    private LoraMerge() {}

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * {@code W + Σ_m scale_m·B_m·A_m} in W's dtype, in new memory of {@code arena}: row by row (rows in parallel),
     * W's row widened to f32, each module's row of {@code B·A} summed over the rank with FMAs in f32, then
     * {@code w += scale·delta}, modules in order; rounded to W's dtype at the end.
     */
    static Tensor merge(Tensor w, List<Lora.Module> mods, Arena arena) {
        int out = w.rows(), in = w.cols();
        for (Lora.Module m : mods)
            if (m.out() != out || m.in() != in)
                throw new IllegalArgumentException(m.name() + ": [" + m.out() + ", " + m.in() + "] does not fit " + w);
        DType dt = w.dtype();
        MemorySegment seg = arena.allocate((long) out * in * dt.bytes, 64);
        IntStream.range(0, out).parallel().forEach(o -> {
            float[] row = new float[in], delta = new float[in];
            w.toFloat((long) o * in, row, 0, in);
            for (Lora.Module m : mods) {
                java.util.Arrays.fill(delta, 0f);
                int r = m.rank();
                float[] a = m.a(), b = m.b();
                for (int k = 0; k < r; k++) {
                    float bk = b[o * r + k];
                    int ak = k * in;
                    for (int i = 0; i < in; i++) delta[i] = Math.fma(bk, a[ak + i], delta[i]);
                }
                float s = m.scale();
                for (int i = 0; i < in; i++) row[i] = Math.fma(s, delta[i], row[i]);
            }
            long base = (long) o * in;
            switch (dt) {
                case F32 -> { for (int i = 0; i < in; i++) seg.set(F32, 4 * (base + i), row[i]); }
                case BF16 -> { for (int i = 0; i < in; i++) seg.set(I16, 2 * (base + i), toBf16(row[i])); }
                case F16 -> { for (int i = 0; i < in; i++) seg.set(I16, 2 * (base + i), Float.floatToFloat16(row[i])); }
            }
        });
        return new Tensor(w.name(), dt, w.shape().clone(), seg);
    }

    /** f32 to bf16 bits, round to nearest even (NaN stays a quiet NaN). */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
