package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

/**
 * What the per-kernel parity tests ({@code *ParityTest}: each CUDA kernel against its CPU layer on the same inputs)
 * share: the device under test, schedule modes, device buffers, 16-bit rounding and error bookkeeping.
 *
 * <p><b>Device.</b> {@code -Drationale.test.cuda=real} runs them on GPU {@code rationale.test.cuda.ordinal} (default 0)
 * through the real driver and the fatbin (the GPU check; run only these classes in that JVM, since a JVM binds one
 * driver); otherwise, by default, on the emulated device, and the tests are skipped (an assumption) when this build
 * has no emulated device ({@code io/rationale/cuda/emu/libcuda.so.1} missing).
 *
 * <p><b>Schedules.</b> On the emulated device every comparison runs under several schedule modes (warps and lanes in
 * order, reversed, or permuted between barriers; restored afterwards), so a missing {@code __syncthreads} or
 * {@code __syncwarp} changes a result; the outputs of all modes must also be bit-identical, as every kernel here is
 * deterministic (fixed reduction trees, integer atomics). A real GPU runs each comparison once.
 */
final class Parity {
    /** The system property that selects the device: {@code real} or {@code emu} (default). */
    static final String DEVICE_PROPERTY = "rationale.test.cuda";
    /** Unit roundoff of f32, 2⁻²⁴: a correctly rounded f32 operation has relative error at most U. */
    static final double U = 0x1p-24;

    private Parity() {}

    /** The device under test (see the class comment). */
    static CudaDevice open() {
        String which = System.getProperty(DEVICE_PROPERTY, "emu").trim();
        return switch (which) {
            case "real" -> CudaDevice.open(CudaDriver.Kind.REAL, Integer.getInteger(DEVICE_PROPERTY + ".ordinal", 0));
            case "emu", "emulated", "" -> {
                assumeTrue(Parity.class.getResource("/io/rationale/cuda/emu/libcuda.so.1") != null,
                        "the emulated CUDA device is not in this build (io/rationale/cuda/emu/libcuda.so.1)");
                yield CudaDevice.openEmulated();
            }
            default -> throw new IllegalArgumentException("-D" + DEVICE_PROPERTY + "=" + which + ": expected real or emu");
        };
    }

    /**
     * Runs {@code run} once per schedule mode of {@code modes} on the emulated device (the previous mode restored
     * afterwards), once on a real device (argument −1), and asserts that every mode gave a bit-identical result
     * ({@link Arrays#deepEquals}: float arrays compare by bits).
     */
    static <T> void acrossSchedules(CudaDevice dev, int[] modes, String what, IntFunction<T> run) {
        if (!dev.isEmulated()) {
            run.apply(-1);
            return;
        }
        int before = EmulatedDevice.schedule();
        Object first = null;
        try {
            for (int i = 0; i < modes.length; i++) {
                EmulatedDevice.setSchedule(modes[i]);
                Object r = run.apply(modes[i]);
                if (i == 0) first = r;
                else assertTrue(Arrays.deepEquals(new Object[] {first}, new Object[] {r}),
                        what + ": schedule " + modes[i] + " differs from schedule " + modes[0]);
            }
        } finally {
            EmulatedDevice.setSchedule(before);
        }
    }

    // ---- numbers ------------------------------------------------------------------------------------------------

    /** bf16 bits of v rounded to nearest even (NaN: the quiet NaN 0x7fc0). */
    static short bf16Bits(float v) {
        if (Float.isNaN(v)) return (short) 0x7fc0;
        int b = Float.floatToRawIntBits(v);
        return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }

    /** 16-bit bits of v in type t (bf16 or f16), rounded to nearest even. */
    static short bits16(float v, DataType t) {
        return t == DataType.BF16 ? bf16Bits(v) : Float.floatToFloat16(v);
    }

    /** 16-bit bits of type t widened to f32 (exact). */
    static float widen(short bits, DataType t) {
        return t == DataType.BF16 ? Float.intBitsToFloat((bits & 0xffff) << 16) : Float.float16ToFloat(bits);
    }

    /** v rounded to type t (f32: v itself). */
    static float round(float v, DataType t) {
        return t == DataType.F32 ? v : widen(bits16(v, t), t);
    }

    /**
     * Half a unit in the last place of type t in v's binade: the largest error of rounding v to t (to nearest).
     * bf16 keeps 8 significant bits (f32's exponent range), f16 11 bits (normal from 2⁻¹⁴).
     */
    static double halfUlp(double v, DataType t) {
        int e = Math.getExponent((float) v);
        return switch (t) {
            case F32 -> Math.scalb(1.0, Math.max(e, -126) - 24);
            case BF16 -> Math.scalb(1.0, Math.max(e, -126) - 8);
            case F16 -> Math.scalb(1.0, Math.max(e, -14) - 11);
        };
    }

    static float[] gaussian(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    /** The checkpoint dtype of a device type. */
    static DType dtype(DataType t) {
        return switch (t) {
            case F32 -> DType.F32;
            case BF16 -> DType.BF16;
            case F16 -> DType.F16;
        };
    }

    /** A {@code [rows, cols]} tensor of type t holding v rounded to t (the checkpoint's stored values). */
    static Tensor tensor(float[] v, int rows, int cols, DataType t) {
        MemorySegment seg = Arena.ofAuto().allocate((long) v.length * t.bytes);
        for (int i = 0; i < v.length; i++) {
            if (t == DataType.F32) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, v[i]);
            else seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, Parity.bits16(v[i], t));
        }
        return new Tensor("w", dtype(t), new long[] {rows, cols}, seg);
    }

    // ---- errors -------------------------------------------------------------------------------------------------

    /** The error records of one test class, one per kernel and output type over all its cases, printed at the end. */
    static final class Report {
        private final java.util.Map<String, Errors> byName = new java.util.LinkedHashMap<>();

        /** The record named {@code what}, made on first use. */
        synchronized Errors errors(String what) { return byName.computeIfAbsent(what, Errors::new); }

        /** One line per record (see {@link Errors#report}). */
        synchronized void print() { byName.values().forEach(Errors::report); }
    }

    /** Element-wise comparison with a per-element bound; keeps the worst error and the worst error/bound ratio. */
    static final class Errors {
        private final String what;
        double worst, worstRatio;
        long compared, otherWay;

        Errors(String what) { this.what = what; }

        /** Asserts |got − want| ≤ tol (NaN fails). */
        void check(double got, double want, double tol, String where) {
            double err = Math.abs(got - want);
            compared++;
            if (!(err <= tol))
                throw new AssertionError(what + " " + where + ": got " + got + ", CPU " + want + ", |diff| " + err + " > tolerance " + tol);
            worst = Math.max(worst, err);
            if (tol > 0) worstRatio = Math.max(worstRatio, err / tol);
        }

        /**
         * A bf16/f16 output: the kernel rounds its own f32 value, which lies within {@code f32tol} of the CPU's f32
         * value {@code ref}; rounding to nearest is monotone, so {@code got} must lie between the roundings of
         * {@code ref − f32tol} and {@code ref + f32tol}: it is {@code round(ref)} unless ref is within f32tol of a
         * rounding midpoint, and then at most one ulp away ({@code |got − ref|} ≤ f32tol + half an ulp of t).
         */
        void rounded(float got, double ref, double f32tol, DataType t, String where) {
            float a = (float) (ref - f32tol), c = (float) (ref + f32tol);
            if (a > ref - f32tol) a = Math.nextDown(a);
            if (c < ref + f32tol) c = Math.nextUp(c);
            float lo = round(a, t), hi = round(c, t);
            compared++;
            if (!(got >= lo && got <= hi))
                throw new AssertionError(what + " " + where + ": got " + got + ", CPU " + ref + " (rounded to " + t + ": " + round((float) ref, t)
                        + "), allowed [" + lo + ", " + hi + "] for an f32 tolerance of " + f32tol);
            double err = Math.abs(got - ref);
            worst = Math.max(worst, err);
            worstRatio = Math.max(worstRatio, err / (f32tol + halfUlp(Math.abs(ref) + f32tol, t)));
            if (got != round((float) ref, t)) otherWay++;
        }

        /** Asserts bit equality (floats by bits, so −0 ≠ +0 and NaN = NaN). */
        void exact(float got, float want, String where) {
            compared++;
            if (Float.floatToIntBits(got) != Float.floatToIntBits(want))
                throw new AssertionError(what + " " + where + ": got " + got + ", expected exactly " + want);
        }

        /** One line for the test log: the worst error and how much of the tolerance it used. */
        void report() {
            System.out.printf("[parity] %s: %d values, worst |diff| %.3g, worst |diff|/tolerance %.3g%s%n", what, compared, worst, worstRatio,
                    otherWay > 0 ? ", " + otherWay + " rounded to the other neighbour of the CPU value" : "");
        }
    }

    // ---- device buffers -----------------------------------------------------------------------------------------

    /** Device allocations of one test, freed together. */
    static final class Buffers implements AutoCloseable {
        final CudaDevice dev;
        private final List<DevicePointer> all = new ArrayList<>();

        Buffers(CudaDevice dev) { this.dev = dev; }

        DevicePointer alloc(long bytes) {
            DevicePointer p = dev.alloc(Math.max(16, bytes));
            all.add(p);
            return p;
        }

        /** An allocation filled with 0xFF bytes (NaN floats, −1 ints): what a kernel does not write stays visible. */
        DevicePointer nan(long bytes) {
            DevicePointer p = alloc(bytes);
            dev.memset(p, (byte) 0xff, Math.max(16, bytes));
            return p;
        }

        DevicePointer of(float[] v) {
            DevicePointer p = alloc(4L * v.length);
            dev.copyToDevice(p, v);
            return p;
        }

        DevicePointer of(int[] v) {
            DevicePointer p = alloc(4L * v.length);
            dev.copyToDevice(p, v);
            return p;
        }

        DevicePointer of(short[] v) {
            DevicePointer p = alloc(2L * v.length);
            dev.copyToDevice(p, v);
            return p;
        }

        DevicePointer of(long[] v) {
            ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (long x : v) b.putLong(x);
            return bytes(b.array());
        }

        DevicePointer of(double[] v) {
            ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (double x : v) b.putDouble(x);
            return bytes(b.array());
        }

        private DevicePointer bytes(byte[] b) {
            DevicePointer p = alloc(b.length);
            dev.copyToDevice(p, b);
            return p;
        }

        /** v stored as type t: f32 as is, bf16/f16 rounded to nearest even. */
        DevicePointer of(float[] v, DataType t) {
            if (t == DataType.F32) return of(v);
            short[] h = new short[v.length];
            for (int i = 0; i < v.length; i++) h[i] = bits16(v[i], t);
            return of(h);
        }

        float[] floats(DevicePointer p, int n) {
            float[] out = new float[n];
            dev.copyToHost(out, p);
            return out;
        }

        int[] ints(DevicePointer p, int n) {
            int[] out = new int[n];
            dev.copyToHost(out, p);
            return out;
        }

        /** n elements of type t at p, widened to f32. */
        float[] read(DevicePointer p, int n, DataType t) {
            if (t == DataType.F32) return floats(p, n);
            short[] h = new short[n];
            dev.copyToHost(h, p);
            float[] out = new float[n];
            for (int i = 0; i < n; i++) out[i] = widen(h[i], t);
            return out;
        }

        @Override
        public void close() {
            for (DevicePointer p : all) dev.free(p);
            all.clear();
        }
    }

    /** Asserts that a and b are bit-identical (a helper for outputs the kernel must leave alone). */
    static void assertUntouched(float[] before, float[] after, String what) {
        assertArrayEquals(before, after, what + " must stay untouched");
    }
}
