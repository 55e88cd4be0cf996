package io.rationale.perf;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The CPU's peaks, measured (never assumed): f32 FMA throughput with the Vector API on every thread, and memory
 * read bandwidth over a buffer much larger than the caches.
 *
 * <ul>
 *   <li>FMA: each thread runs {@link #ACCUMULATORS} independent chains of {@code acc = a·acc + b} on
 *       {@link FloatVector#SPECIES_PREFERRED} vectors (independent chains hide the FMA latency), for a fixed
 *       number of iterations; FLOPs = 2 × lanes × chains × iterations × threads over the wall time of the slowest
 *       thread. Best of several rounds after a warm-up round (the JIT compiles the loop during the first).</li>
 *   <li>Read bandwidth: an off-heap buffer of {@code bufferBytes} (default 256 MiB, ≫ the last-level cache),
 *       filled once, then summed with vector loads by all threads, each over its own contiguous slice; bytes =
 *       buffer size over the wall time. Untimed passes until {@link #WARMUP_READ_BYTES} have been read (the JIT
 *       compiles the loop meanwhile), then the best of 5 timed passes.</li>
 * </ul>
 */
public final class CpuCalibration {
    private CpuCalibration() {}

    /** Independent FMA chains per thread. */
    static final int ACCUMULATORS = 12;

    /** Bytes the read loop runs over, untimed, before its timed passes (at most 2 s of it): enough for the JIT. */
    static final long WARMUP_READ_BYTES = 1L << 30;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * Measured peaks.
     *
     * @param flopsPerSecond f32 FMA throughput, all threads
     * @param bytesPerSecond memory read bandwidth, all threads
     */
    public record Peaks(double flopsPerSecond, double bytesPerSecond, int threads, int lanes, long bufferBytes, double seconds) {
        public Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "cpu");
            m.put("flops_per_s", flopsPerSecond);
            m.put("bytes_per_s", bytesPerSecond);
            m.put("flops_method", "f32 FMA, Vector API " + lanes + " lanes, " + ACCUMULATORS + " independent chains per thread, " + threads + " threads, best round");
            m.put("bytes_method", "vector read of a " + bufferBytes / (1 << 20) + " MiB off-heap buffer, " + threads + " threads, best pass");
            m.put("calibration_seconds", seconds);
            return m;
        }
    }

    /** Measures both peaks on {@code threads} threads (0: all processors) with a buffer of {@code bufferBytes}. */
    public static Peaks measure(int threads, long bufferBytes) {
        int t = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        if (bufferBytes < 1 << 20) throw new IllegalArgumentException("calibration buffer must be at least 1 MiB, got " + bufferBytes);
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(t, r -> {
            Thread th = new Thread(r, "calibration");
            th.setDaemon(true);
            return th;
        });
        try {
            double flops = fma(pool, t);
            double bytes = read(pool, t, bufferBytes);
            return new Peaks(flops, bytes, t, S.length(), bufferBytes, (System.nanoTime() - t0) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }

    private static double fma(ExecutorService pool, int threads) {
        long iterations = 1 << 16;
        // grow the round until it takes about 50 ms, so that thread start-up is a small part of it
        double best = 0;
        for (int round = 0; round < 12; round++) {
            double seconds = parallel(pool, threads, iterations, CpuCalibration::fmaLoop);
            double flops = 2.0 * S.length() * ACCUMULATORS * iterations * threads / seconds;
            if (seconds < 0.05 && round < 8) {
                iterations *= 2;
                continue;
            }
            best = Math.max(best, flops);
            if (round >= 10) break;
        }
        return best;
    }

    /** Returns a value depending on every chain, so the loop is not removed. */
    static float fmaLoop(long iterations) {
        FloatVector a = FloatVector.broadcast(S, 0.999f), b = FloatVector.broadcast(S, 1e-3f);
        FloatVector x0 = FloatVector.broadcast(S, 1f), x1 = x0.add(1e-3f), x2 = x0.add(2e-3f), x3 = x0.add(3e-3f),
                x4 = x0.add(4e-3f), x5 = x0.add(5e-3f), x6 = x0.add(6e-3f), x7 = x0.add(7e-3f), x8 = x0.add(8e-3f),
                x9 = x0.add(9e-3f), x10 = x0.add(1e-2f), x11 = x0.add(1.1e-2f);
        for (long i = 0; i < iterations; i++) {
            x0 = x0.fma(a, b);
            x1 = x1.fma(a, b);
            x2 = x2.fma(a, b);
            x3 = x3.fma(a, b);
            x4 = x4.fma(a, b);
            x5 = x5.fma(a, b);
            x6 = x6.fma(a, b);
            x7 = x7.fma(a, b);
            x8 = x8.fma(a, b);
            x9 = x9.fma(a, b);
            x10 = x10.fma(a, b);
            x11 = x11.fma(a, b);
        }
        return x0.add(x1).add(x2).add(x3).add(x4).add(x5).add(x6).add(x7).add(x8).add(x9).add(x10).add(x11)
                .reduceLanes(VectorOperators.ADD);
    }

    private static double read(ExecutorService pool, int threads, long bufferBytes) {
        long bytes = bufferBytes / ((long) S.vectorByteSize() * 4 * threads) * ((long) S.vectorByteSize() * 4 * threads);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(bytes, 64);
            for (long off = 0; off < bytes; off += 4) buf.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, off, (off & 1023) * 1e-3f);
            long slice = bytes / threads;
            List<Callable<Float>> jobs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long from = t * slice;
                jobs.add(() -> readLoop(buf, from, from + slice));
            }
            // warm-up passes until the JIT has compiled the loop: one pass over a small buffer is far too little
            // (interpreted vector loads read ~1 GB/s, and a 16 MiB calibration then reported 0.6 GB/s)
            long warmed = 0, w0 = System.nanoTime();
            do {
                run(pool, jobs);
                warmed += bytes;
            } while (warmed < WARMUP_READ_BYTES && System.nanoTime() - w0 < 2_000_000_000L);
            double best = 0;
            for (int pass = 0; pass < 5; pass++) best = Math.max(best, bytes / run(pool, jobs));
            return best;
        }
    }

    static float readLoop(MemorySegment buf, long from, long to) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        long step = S.vectorByteSize();
        for (long off = from; off < to; off += 4 * step) {
            s0 = s0.add(FloatVector.fromMemorySegment(S, buf, off, ByteOrder.nativeOrder()));
            s1 = s1.add(FloatVector.fromMemorySegment(S, buf, off + step, ByteOrder.nativeOrder()));
            s2 = s2.add(FloatVector.fromMemorySegment(S, buf, off + 2 * step, ByteOrder.nativeOrder()));
            s3 = s3.add(FloatVector.fromMemorySegment(S, buf, off + 3 * step, ByteOrder.nativeOrder()));
        }
        return s0.add(s1).add(s2).add(s3).reduceLanes(VectorOperators.ADD);
    }

    private interface Loop { float run(long iterations); }

    private static double parallel(ExecutorService pool, int threads, long iterations, Loop loop) {
        List<Callable<Float>> jobs = new ArrayList<>();
        for (int t = 0; t < threads; t++) jobs.add(() -> loop.run(iterations));
        return run(pool, jobs);
    }

    /** Wall seconds of all jobs started together; keeps their results in {@link #sink}. */
    private static double run(ExecutorService pool, List<Callable<Float>> jobs) {
        long t0 = System.nanoTime();
        try {
            float s = 0;
            for (Future<Float> f : pool.invokeAll(jobs)) s += f.get();
            sink = s;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("calibration interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("calibration failed: " + e.getCause(), e.getCause());
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    static volatile float sink;
}
