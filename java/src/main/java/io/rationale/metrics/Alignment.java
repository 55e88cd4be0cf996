package io.rationale.metrics;

import java.util.List;
import java.util.Set;

/**
 * Human alignment (plausibility) of a predicted rationale, word level: precision, recall and F1 of the predicted
 * word set against the human word set of one example (or one text field), and their macro average. This is
 * ERASER's token-level {@code score_hard_rationale_predictions} on word indices:
 * <ul>
 *   <li>{@code P = |pred ∩ human| / |pred|}, {@code R = |pred ∩ human| / |human|}, {@code F1 = 2PR/(P+R)}
 *       (0 when P or R is 0);</li>
 *   <li>predicted empty, human not: P = 0, R = 0, F1 = 0;</li>
 *   <li>human empty, predicted not: P = 0, R = 0 (ERASER sets recall 0 rather than undefined), F1 = 0;</li>
 *   <li>both empty: {@link Prf#UNDEFINED}, left out of the macro average (ERASER never sees such an instance).
 *       With the default top-k (k = the human rationale's size) an empty human rationale always gives this.</li>
 * </ul>
 * Macro average: the mean of the per-example P, of R and of F1 over the defined examples (ERASER's
 * {@code instance_macro}; the macro F1 is the mean of F1s, not the F1 of the means).
 */
public final class Alignment {
    private Alignment() {}

    /** Macro-averaged P/R/F1 over {@code examples} defined comparisons; {@code undefined} were left out. */
    public record MacroPrf(double precision, double recall, double f1, int examples, int undefined) {}

    public static Prf wordPrf(Set<Integer> predicted, Set<Integer> human) {
        if (predicted.isEmpty() && human.isEmpty()) return Prf.UNDEFINED;
        int both = 0;
        for (int w : predicted) if (human.contains(w)) both++;
        double p = predicted.isEmpty() ? 0 : (double) both / predicted.size();
        double r = human.isEmpty() ? 0 : (double) both / human.size();
        return new Prf(p, r, Prf.f1(p, r));
    }

    /** Means over the defined entries; all NaN when none is defined. */
    public static MacroPrf macro(List<Prf> perExample) {
        double p = 0, r = 0, f = 0;
        int n = 0, undefined = 0;
        for (Prf x : perExample) {
            if (!x.defined()) {
                undefined++;
                continue;
            }
            p += x.precision();
            r += x.recall();
            f += x.f1();
            n++;
        }
        if (n == 0) return new MacroPrf(Double.NaN, Double.NaN, Double.NaN, 0, undefined);
        return new MacroPrf(p / n, r / n, f / n, n, undefined);
    }
}
