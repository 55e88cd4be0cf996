package io.rationale.metrics;

/**
 * Precision, recall and F1 of one comparison. {@link #UNDEFINED} (all NaN) marks a comparison that has no value
 * and is left out of averages (see {@link Alignment#wordPrf}).
 */
public record Prf(double precision, double recall, double f1) {
    public static final Prf UNDEFINED = new Prf(Double.NaN, Double.NaN, Double.NaN);

    public boolean defined() { return !Double.isNaN(f1); }

    /** Harmonic mean {@code 2pr/(p+r)}, 0 when p or r is 0 (ERASER's {@code _f1}). */
    public static double f1(double p, double r) {
        if (p == 0 || r == 0) return 0;
        return 2 * p * r / (p + r);
    }
}
