package io.rationale.cli;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * How {@code bench} times a piece of work so that no cold measurement is reported.
 *
 * <p>The JIT compiles the kernels a method uses while it runs, so the first runs of a method are slower than the
 * rest, and one warm-up run is not always enough (a backward pass that has run once can still be partly
 * interpreted or compiled at a lower tier). So each measurement warms up until its times settle: at least
 * {@code minWarmup} runs, then more until two consecutive runs differ by at most {@link #SETTLED} of the later one,
 * at most {@code maxWarmup} runs (then the result says {@code settled = false}). Only then are the {@code repeat}
 * timed runs made, of which the median is reported. {@link #warmAll} runs a group of measurements once each before
 * any of them is timed, so none is timed in the middle of another's compilation.
 */
final class Timing {
    /** Two consecutive warm-up runs within this fraction of each other: the times have settled. */
    static final double SETTLED = 0.10;

    final int minWarmup, maxWarmup, repeat;
    private final LongSupplier clock;
    private boolean timing;

    Timing(int minWarmup, int maxWarmup, int repeat, LongSupplier nanoClock) {
        if (minWarmup < 0 || maxWarmup < minWarmup || repeat < 1) throw new IllegalArgumentException("bad timing settings");
        this.minWarmup = minWarmup;
        this.maxWarmup = maxWarmup;
        this.repeat = repeat;
        this.clock = nanoClock;
    }

    /** Whether the run in progress is a timed one (false: warm-up); tests watch the order with it. */
    boolean timing() { return timing; }

    /**
     * Median, min and max of the timed runs in seconds, the runs themselves, the warm-up runs made and whether the
     * warm-up times settled.
     */
    record Stat(double median, double min, double max, double[] runs, int warmupRuns, boolean settled) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("median_s", median);
            m.put("min_s", min);
            m.put("max_s", max);
            m.put("runs_s", runs);
            m.put("warmup_runs", warmupRuns);
            m.put("settled", settled);
            return m;
        }

        String range() { return range(1); }

        /** "(min a, max b)" of the runs divided by {@code per} (per token for decode), and a note when unsettled. */
        String range(int per) {
            String r = runs.length == 1 ? "" : String.format("(min %.4f, max %.4f)", min / per, max / per);
            return settled ? r : (r + " NOT SETTLED after " + warmupRuns + " warm-up runs").strip();
        }
    }

    /** Runs each of {@code bodies} once, untimed: the warm pass over a group before any of it is timed. */
    void warmAll(List<Runnable> bodies) {
        timing = false;
        for (Runnable r : bodies) r.run();
    }

    /** Times {@code body} on what {@code prepare} gives (not timed; closed after each run when it is AutoCloseable). */
    <T> Stat time(Supplier<T> prepare, Function<T, Object> body) {
        timing = false;
        int warm = 0;
        boolean settled = minWarmup == 0;
        double previous = Double.NaN;
        while (warm < maxWarmup && (warm < minWarmup || !settled)) {
            double t = once(prepare, body);
            warm++;
            settled = Double.isFinite(previous) && Math.abs(t - previous) <= SETTLED * t;
            previous = t;
        }
        if (maxWarmup == 0) settled = true;
        timing = true;
        double[] t = new double[repeat];
        for (int i = 0; i < repeat; i++) t[i] = once(prepare, body);
        timing = false;
        double[] sorted = t.clone();
        Arrays.sort(sorted);
        double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
        return new Stat(median, sorted[0], sorted[sorted.length - 1], t, warm, settled);
    }

    private <T> double once(Supplier<T> prepare, Function<T, Object> body) {
        T x = prepare.get();
        try {
            long t0 = clock.getAsLong();
            sink = body.apply(x);
            return (clock.getAsLong() - t0) / 1e9;
        } finally {
            if (x instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing " + x + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /** Keeps each run's result reachable, so no run can be optimised away. */
    static volatile Object sink;
}
