package io.rationale.serum;

import java.util.Locale;

/**
 * How the question span's relevance R becomes the steering weights R̂ (then scaled by α).
 * <ul>
 * <li>{@link #MAX_ABS} (default, the authors'): {@code R̂ = R / max_t |R(t)|}, signed, in [−1, 1].</li>
 * <li>{@link #L1}: {@code R̂ = R / Σ_t |R(t)|}, so α is the total weight added (|Σ α·R̂| ≤ α). The "adaptive α" (TTα)
 *     left commented out in the authors' code scales the max-abs weights by {@code 1/Σ_t R̂(t)}, i.e.
 *     {@code R / Σ_t R(t)}: the same as this when every relevance is positive; the signed sum can be near zero or
 *     negative, so the engine divides by the sum of absolute values.</li>
 * <li>{@link #MIN_MAX}: {@code (R − min) / (max − min)}, in [0, 1] (also in the authors' code, commented out).</li>
 * <li>{@link #NONE}: R as given (for a relevance file that is already normalised).</li>
 * </ul>
 * A span whose relevance is all zero (or constant, for min-max) gives all-zero weights.
 */
public enum Normalization {
    MAX_ABS, L1, MIN_MAX, NONE;

    /** The command-line and JSON spelling: max_abs, l1, min_max, none. */
    public String cliName() { return name().toLowerCase(Locale.ROOT); }

    public static Normalization parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (Normalization x : values()) if (x.cliName().equals(n)) return x;
        throw new IllegalArgumentException("unknown normalisation '" + s + "' (valid: max_abs, l1, min_max, none)");
    }

    /** The normalised weights of {@code r} (not modified); every value must be finite. */
    public double[] apply(double[] r) {
        for (int i = 0; i < r.length; i++)
            if (!Double.isFinite(r[i])) throw new IllegalArgumentException("relevance value " + r[i] + " at span token " + i + " is not finite");
        double[] out = new double[r.length];
        switch (this) {
            case NONE -> System.arraycopy(r, 0, out, 0, r.length);
            case MAX_ABS -> {
                double m = 0;
                for (double v : r) m = Math.max(m, Math.abs(v));
                if (m > 0) for (int i = 0; i < r.length; i++) out[i] = r[i] / m;
            }
            case L1 -> {
                double s = 0;
                for (double v : r) s += Math.abs(v);
                if (s > 0) for (int i = 0; i < r.length; i++) out[i] = r[i] / s;
            }
            case MIN_MAX -> {
                double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
                for (double v : r) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
                if (hi > lo) for (int i = 0; i < r.length; i++) out[i] = (r[i] - lo) / (hi - lo);
            }
        }
        return out;
    }
}
