package io.rationale.attribution;

import java.util.Locale;

/** How the scores of a word's tokens become the word's score. */
public enum Aggregate {
    /** The sum of the tokens' scores (the project default, notes/attribution.md). */
    SUM,
    /** The token score of largest absolute value, sign kept (inseq's {@code max_abs}); first one on ties. */
    MAX_ABS;

    public String cliName() { return name().toLowerCase(Locale.ROOT); }

    /** Aggregates {@code scores[tokens[0]], scores[tokens[1]], ...}; 0 for a word without tokens. */
    public double apply(double[] scores, int[] tokens) {
        double out = 0;
        if (this == SUM) {
            for (int t : tokens) out += scores[t];
            return out;
        }
        double best = -1;
        for (int t : tokens) {
            double a = Math.abs(scores[t]);
            if (a > best || Double.isNaN(a)) {
                best = a;
                out = scores[t];
                if (Double.isNaN(a)) break;
            }
        }
        return out;
    }

    /** {@code sum} or {@code max_abs} (case-insensitive). */
    public static Aggregate parse(String s) {
        String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (Aggregate a : values()) if (a.cliName().equals(n)) return a;
        throw new IllegalArgumentException("unknown aggregation '" + s + "' (valid: sum, max_abs)");
    }
}
