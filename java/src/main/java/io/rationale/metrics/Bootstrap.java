package io.rationale.metrics;

import java.util.Arrays;
import java.util.Random;

/**
 * Bootstrap uncertainty over examples, deterministic for a seed.
 *
 * <p>Resampling: each of B resamples draws n example indices uniformly with replacement from
 * {@code java.util.Random(seed)} ({@code nextInt(n)}, n draws per resample, resample after resample), so the same
 * seed gives the same numbers on every JVM. Defaults: B = {@value #DEFAULT_RESAMPLES}, seed
 * {@value #DEFAULT_SEED}, level 0.95.
 *
 * <p>Confidence interval (percentile bootstrap): the {@code (1−level)/2} and {@code 1−(1−level)/2} quantiles of
 * the B resample means, each quantile taken with linear interpolation between order statistics
 * (position {@code q·(B−1)} in the sorted means, numpy's default {@code percentile}).
 *
 * <p>Paired test of two methods on the same examples: differences {@code d_i = a_i − b_i}, observed
 * {@code D = mean(d)}, resample means {@code D*}. Two-sided p-value = {@code min(1, 2·f)} where f is the fraction
 * of resamples whose mean difference does not keep the observed sign ({@code D* ≤ 0} when {@code D > 0},
 * {@code D* ≥ 0} when {@code D < 0}); p = 1 when {@code D = 0}. A p of 0 means "below 1/B". The interval of the
 * difference comes from the same resamples.
 *
 * <p>Values must be finite; leave undefined examples out before calling.
 */
public final class Bootstrap {
    private Bootstrap() {}

    public static final int DEFAULT_RESAMPLES = 1000;
    public static final long DEFAULT_SEED = 20240628L;
    public static final double DEFAULT_LEVEL = 0.95;

    /** A mean with its percentile-bootstrap interval. */
    public record Interval(double mean, double lower, double upper, double level, int resamples, long seed) {}

    /** A paired comparison: means of both methods, their difference (a − b) with its interval, the p-value. */
    public record PairedTest(double meanA, double meanB, Interval difference, double pValue) {}

    public static Interval meanCi(double[] values) {
        return meanCi(values, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_LEVEL);
    }

    public static Interval meanCi(double[] values, int resamples, long seed, double level) {
        check(values, resamples, level);
        double[] means = resampleMeans(values, resamples, seed);
        Arrays.sort(means);
        double a = (1 - level) / 2;
        return new Interval(mean(values), quantile(means, a), quantile(means, 1 - a), level, resamples, seed);
    }

    public static PairedTest pairedTest(double[] a, double[] b) {
        return pairedTest(a, b, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_LEVEL);
    }

    public static PairedTest pairedTest(double[] a, double[] b, int resamples, long seed, double level) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " values against " + b.length);
        double[] d = new double[a.length];
        for (int i = 0; i < d.length; i++) d[i] = a[i] - b[i];
        check(d, resamples, level);
        check(a, resamples, level);
        check(b, resamples, level);
        double observed = mean(d);
        double[] means = resampleMeans(d, resamples, seed);
        int against = 0;
        for (double m : means) {
            if (observed > 0 ? m <= 0 : m >= 0) against++;
        }
        double p = observed == 0 ? 1 : Math.min(1, 2.0 * against / resamples);
        Arrays.sort(means);
        double q = (1 - level) / 2;
        Interval ci = new Interval(observed, quantile(means, q), quantile(means, 1 - q), level, resamples, seed);
        return new PairedTest(mean(a), mean(b), ci, p);
    }

    /** The means of {@code resamples} bootstrap resamples, in drawing order. */
    static double[] resampleMeans(double[] values, int resamples, long seed) {
        Random rng = new Random(seed);
        int n = values.length;
        double[] out = new double[resamples];
        for (int r = 0; r < resamples; r++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += values[rng.nextInt(n)];
            out[r] = s / n;
        }
        return out;
    }

    /** Linear-interpolation quantile of sorted values (numpy's default). */
    static double quantile(double[] sorted, double q) {
        double h = q * (sorted.length - 1);
        int lo = (int) Math.floor(h);
        if (lo >= sorted.length - 1) return sorted[sorted.length - 1];
        return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
    }

    static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    private static void check(double[] v, int resamples, double level) {
        if (v.length == 0) throw new IllegalArgumentException("no values");
        if (resamples < 1) throw new IllegalArgumentException("resamples must be positive");
        if (!(level > 0 && level < 1)) throw new IllegalArgumentException("level " + level + " outside (0, 1)");
        for (double x : v) if (!Double.isFinite(x)) throw new IllegalArgumentException("non-finite value " + x);
    }
}
