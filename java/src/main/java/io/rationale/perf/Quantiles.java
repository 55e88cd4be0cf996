package io.rationale.perf;

import org.apache.commons.math3.stat.descriptive.rank.Percentile;

/**
 * Quantiles of timing samples for the benchmarks and the regression gate: commons-math3's {@link Percentile} with
 * estimation R-7 (linear between order statistics; the median of an even count is the mean of the middle two).
 */
public final class Quantiles {
    private Quantiles() {}

    /** The q-quantile (0 ≤ q ≤ 1) of x (any order; not changed); NaN for no values. */
    public static double quantile(double[] x, double q) {
        if (x.length == 0) return Double.NaN;
        if (q <= 0) return java.util.Arrays.stream(x).min().getAsDouble();
        return new Percentile().withEstimationType(Percentile.EstimationType.R_7).evaluate(x, q * 100);
    }

    public static double median(double[] x) { return quantile(x, 0.5); }
}
