package io.rationale.cpu;

import io.rationale.weights.DType;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
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

    /** Part 0 or 1 of {@link #load16} 16-bit weights of type {@code dt} (bf16 or f16) as floats. */
    static FloatVector half(DType dt, ShortVector s, int part) {
        return dt == DType.F16 ? f16Part(s, part) : bf16Part(s, part);
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

    /**
     * Reads one byte of every 64-byte line of {@code seg} in bytes {@code [from, to)}, so that a kernel that then
     * walks these weights finds them in the L2 cache. A loop that does nothing but load keeps far more lines in flight
     * than a kernel that widens and multiplies as it reads (only the out-of-order window's worth of its loads can
     * wait on memory at once), so reading a block first and computing on it from L2 is faster than one pass over
     * memory. On this project's 2-core machine, bf16 weights from memory: 4 tokens 22 → 31–33 GB/s, 9 tokens 14.5 →
     * 18 GB/s (benchmarks/results/2026-12-05-cpu-kernels-4.md).
     */
    static void touch(MemorySegment seg, long from, long to) {
        if (to <= from) return;
        int s = 0;
        for (long q = from; q < to; q += 64) s += seg.get(ValueLayout.JAVA_BYTE, q);
        s += seg.get(ValueLayout.JAVA_BYTE, to - 1);
        touched = s;   // a store that the JIT must keep, so that it keeps the loads
    }

    /** Where {@link #touch} leaves its sum. */
    @SuppressWarnings("unused")
    private static int touched;

    /** Lane i ↔ lane i ^ h: the steps of {@link #sum} (constants, so that C2 compiles each to one permute). */
    private static final VectorShuffle<Float> H1 = swap(1), H2 = swap(2), H4 = swap(4), H8 = swap(8);

    private static VectorShuffle<Float> swap(int h) { return VectorShuffle.fromOp(F, i -> (i ^ h) % L); }

    /**
     * The sum of a vector's lanes, as a fixed tree: lanes i and i + L/2 first, then i + L/4, ..., then the last pair.
     * {@code reduceLanes(ADD)} is not the same in every JIT tier (the interpreter's fallback adds in another order than
     * C2's code), so a kernel's sums changed once C2 had compiled it; these adds are the same wherever they run, and
     * C2's own order (same bits when warm) at the same speed when the shuffles are constants (a loop over an array of
     * them was 60–70% slower in the 4-token forward).
     */
    static float sum(FloatVector v) {
        for (int h = L / 2; h > 8; h /= 2) v = v.add(v.rearrange(swap(h)));   // wider than AVX-512 (SVE): not constants
        if (L >= 16) v = v.add(v.rearrange(H8));
        if (L >= 8) v = v.add(v.rearrange(H4));
        if (L >= 4) v = v.add(v.rearrange(H2));
        v = v.add(v.rearrange(H1));
        return v.lane(0);
    }

    static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());

    /**
     * e^x per lane, rounded to float from a double-precision evaluation in adds, multiplies and FMAs only, so that the
     * interpreter and every JIT tier give the same bits. {@code lanewise(EXP)} does not: compiled by C2 it calls an
     * intrinsic that differs from the Java fallback in the last bit for about 1% of inputs, so softmax and SiLU outputs
     * changed once the JIT had compiled them (a test asserting an exact ratio between two backward passes failed once
     * locally). Per half of the lanes in double: x = k·ln2 + r with |r| ≤ ln2/2 (k rounded by adding 1.5·2^52), e^r
     * by its Taylor series to r^11 (relative error below 1e-14), 2^k set in the exponent bits; the float rounding of
     * that is the float nearest e^x except within 1e-14 of a tie ({@code VecTest}: equal to {@code (float) Math.exp}).
     * Inputs are clamped to [-104, 89], past which the float result is 0 or infinity anyway; NaN stays NaN.
     */
    static FloatVector exp(FloatVector x) {
        x = x.max(-104f).min(89f);
        FloatVector lo = expHalf((DoubleVector) x.convertShape(VectorOperators.F2D, D, 0)).convertShape(VectorOperators.D2F, F, 0).reinterpretAsFloats();
        FloatVector hi = expHalf((DoubleVector) x.convertShape(VectorOperators.F2D, D, 1)).convertShape(VectorOperators.D2F, F, -1).reinterpretAsFloats();
        return lo.add(hi);                                          // each half is zero where the other holds its lanes
    }

    private static final double[] INVERSE_FACTORIALS = {1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040,
            1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1};

    private static DoubleVector expHalf(DoubleVector x) {
        DoubleVector t = x.fma(DoubleVector.broadcast(D, 1.4426950408889634), DoubleVector.broadcast(D, 0x1.8p52));
        DoubleVector k = t.sub(0x1.8p52);                           // rint(x·log2 e)
        DoubleVector r = k.fma(DoubleVector.broadcast(D, -0.6931471805599453), x);
        DoubleVector p = DoubleVector.broadcast(D, INVERSE_FACTORIALS[0]);
        for (int i = 1; i < INVERSE_FACTORIALS.length; i++) p = p.fma(r, DoubleVector.broadcast(D, INVERSE_FACTORIALS[i]));
        LongVector e = t.reinterpretAsLongs().sub(Double.doubleToRawLongBits(0x1.8p52) - 1023).lanewise(VectorOperators.LSHL, 52);
        return p.mul(e.reinterpretAsDoubles());
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
        float s = sum(s0.add(s1));
        for (; i < n; i++) s = Math.fma(a[aOff + i], b[bOff + i], s);
        return s;
    }
}
