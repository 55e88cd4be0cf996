package io.rationale.eval;

import io.rationale.metrics.TopK;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.Set;

/**
 * The rationale size k of an example ({@link EvalOptions#k()}).
 * <ul>
 *   <li>{@code human} (default, as ERASER and ferret): k = the size of the example's aggregated human rationale.
 *       Fallback when the example has no human rationale (dataset without annotations, or the chosen annotator is
 *       missing) or when it is empty (the annotators marked nothing, which would make k = 0 and every flip test
 *       trivial): {@link #FALLBACK_FRACTION} of the words, with {@link TopK#kForFraction}'s rounding.</li>
 *   <li>a fraction f in (0, 1] (e.g. {@code 0.2}): k = {@link TopK#kForFraction}(n, f): {@code round_half_up(f·n)},
 *       at least 1, at most n.</li>
 * </ul>
 *
 * @param fraction null for {@code human}, else the fraction
 */
public record KSelection(Double fraction) {
    /** Fraction of the words used for {@code human} when there is no (non-empty) human rationale. */
    public static final double FALLBACK_FRACTION = 0.10;

    public static final KSelection HUMAN = new KSelection(null);

    public KSelection {
        if (fraction != null && !(fraction > 0 && fraction <= 1))
            throw new IllegalArgumentException("k fraction " + fraction + " outside (0, 1]");
    }

    /** Parses {@code human} or a decimal fraction in (0, 1]. */
    public static KSelection parse(String s) {
        if (s == null || s.isBlank() || s.trim().equals("human")) return HUMAN;
        try {
            double f = new BigDecimal(s.trim()).doubleValue();
            if (!(f > 0 && f <= 1)) throw new IllegalArgumentException("k must be 'human' or a fraction in (0, 1], got '" + s + "'");
            return new KSelection(f);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("k must be 'human' or a fraction in (0, 1], got '" + s + "'");
        }
    }

    public boolean human() { return fraction == null; }

    /** k for an example of {@code nWords} words with this human rationale (empty Optional: none). */
    public int k(int nWords, Optional<? extends Set<Integer>> humanRationale) {
        if (fraction != null) return TopK.kForFraction(nWords, fraction);
        if (humanRationale.isPresent() && !humanRationale.get().isEmpty()) return Math.min(nWords, humanRationale.get().size());
        return TopK.kForFraction(nWords, FALLBACK_FRACTION);
    }
}
