package io.rationale.cpu;

import io.rationale.weights.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Vector species and weight loads shared by the CPU kernels: every weight is widened to f32 in registers
 * (bf16: shift left by 16; f16: exponent rebias), never materialised as an f32 copy of a whole matrix.
 */
final class Vec {
    private Vec() {}

    /** The widest float vector this CPU runs natively (16 lanes with AVX-512, 8 with AVX2). */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Lanes per float vector. */
    static final int L = F.length();
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Shorts filling a whole vector register: one load holds 2L 16-bit weights, widened in two parts. */
    static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, F.vectorShape());

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);

    /** 2L 16-bit weights at byte offset {@code off}. */
    static ShortVector load16(MemorySegment seg, long off) { return ShortVector.fromMemorySegment(S2, seg, off, LE); }

    /** Part 0 (weights 0..L-1) or 1 (weights L..2L-1) of {@link #load16} bf16 weights as floats. */
    static FloatVector bf16Part(ShortVector s, int part) {
        IntVector i = (IntVector) s.convertShape(VectorOperators.S2I, I, part);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Part 0 or 1 of {@link #load16} f16 weights as floats. */
    static FloatVector f16Part(ShortVector s, int part) {
        return f16Bits((IntVector) s.convertShape(VectorOperators.S2I, I, part));
    }

    /**
     * Half-precision bit patterns in the low 16 bits of each lane (high bits anything) as floats. The magnitude
     * bits shifted into f32 position and multiplied by 2^112 give normals and subnormals exactly; inf/NaN keep an
     * all-ones exponent (NaNs quietened, as {@link Float#float16ToFloat} does); the sign is ORed back.
     */
    private static FloatVector f16Bits(IntVector h) {
        IntVector mag = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector bits = mag.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> infNan = h.and(0x7c00).eq(0x7c00);
        bits = bits.blend(mag.or(0x7f800000), infNan);
        bits = bits.blend(bits.or(0x00400000), h.and(0x7fff).compare(VectorOperators.GT, 0x7c00));  // NaNs come out quiet
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** One weight of type {@code dt} at element {@code elem} as a float. */
    static float get(DType dt, MemorySegment seg, long elem) {
        return switch (dt) {
            case BF16 -> Float.intBitsToFloat(seg.get(I16, elem * 2) << 16);
            case F16 -> Float.float16ToFloat(seg.get(I16, elem * 2));
            case F32 -> seg.get(F32, elem * 4);
        };
    }

    /** Widens {@code n} weights starting at element {@code elem} into {@code dst[dstOff..]}. */
    static void toFloat(DType dt, MemorySegment seg, long elem, float[] dst, int dstOff, int n) {
        int j = 0;
        switch (dt) {
            case BF16 -> {
                for (; j <= n - 2 * L; j += 2 * L) {
                    ShortVector s = load16(seg, (elem + j) * 2);
                    bf16Part(s, 0).intoArray(dst, dstOff + j);
                    bf16Part(s, 1).intoArray(dst, dstOff + j + L);
                }
            }
            case F16 -> {
                for (; j <= n - 2 * L; j += 2 * L) {
                    ShortVector s = load16(seg, (elem + j) * 2);
                    f16Part(s, 0).intoArray(dst, dstOff + j);
                    f16Part(s, 1).intoArray(dst, dstOff + j + L);
                }
            }
            case F32 -> { for (; j <= n - L; j += L) FloatVector.fromMemorySegment(F, seg, (elem + j) * 4, LE).intoArray(dst, dstOff + j); }
        }
        for (; j < n; j++) dst[dstOff + j] = get(dt, seg, elem + j);
    }

    /** Sum of a[aOff+i]·b[bOff+i] over i < n, in f32 with several independent accumulators. */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
        }
        for (; i <= n - L; i += L) s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s = Math.fma(a[aOff + i], b[bOff + i], s);
        return s;
    }
}
