package io.rationale.metrics;

import java.util.List;
import java.util.Set;

/**
 * AUPRC of soft word scores against the human binary mask, computed as scikit-learn's
 * {@code average_precision_score}: {@code AP = Σ_n (R_n − R_{n−1}) · P_n} over the thresholds at the DISTINCT
 * score values taken in decreasing order, where {@code P_n}/{@code R_n} are the precision/recall of predicting
 * "in the rationale" for every word scoring &ge; the n-th threshold, and {@code R_0 = 0}. Tied words enter
 * together (no interpolation), exactly like sklearn's {@code _binary_clf_curve}. Scores compare with
 * {@code ==} (so {@code -0.0} ties with {@code 0.0}); NaN scores are rejected.
 *
 * <p>Undefined (NaN) when the mask has no positive (sklearn warns and returns 0). {@link #macro} follows ERASER's
 * {@code average_precision} aggregate ({@code discard_single_class_answers=True}): examples whose mask is all
 * positive or all negative are left out. (ERASER's separate {@code auprc} entry, {@code auc(recall, precision)}
 * by trapezoids, is NOT what this computes.)
 */
public final class AveragePrecision {
    private AveragePrecision() {}

    public static double of(double[] scores, boolean[] human) {
        if (scores.length != human.length) throw new IllegalArgumentException(scores.length + " scores for " + human.length + " mask entries");
        int positives = 0;
        for (boolean b : human) if (b) positives++;
        if (positives == 0) return Double.NaN;
        int[] order = TopK.ranking(scores);
        int tp = 0, fp = 0;
        double ap = 0, prevRecall = 0;
        int i = 0;
        while (i < order.length) {
            double v = scores[order[i]];
            int j = i;
            while (j < order.length && scores[order[j]] == v) {
                if (human[order[j]]) tp++;
                else fp++;
                j++;
            }
            double recall = (double) tp / positives;
            double precision = (double) tp / (tp + fp);
            ap += (recall - prevRecall) * precision;
            prevRecall = recall;
            i = j;
        }
        return ap;
    }

    /** AP with the mask given as the set of human word indices among {@code scores.length} words. */
    public static double of(double[] scores, Set<Integer> human) {
        return of(scores, mask(scores.length, human));
    }

    /** The binary mask of {@code n} words with {@code words} set. */
    public static boolean[] mask(int n, Set<Integer> words) {
        boolean[] m = new boolean[n];
        for (int w : words) {
            if (w < 0 || w >= n) throw new IllegalArgumentException("word index " + w + " out of range (" + n + " words)");
            m[w] = true;
        }
        return m;
    }

    /** Mean AP over the examples whose mask has both classes; NaN when there is none. */
    public static double macro(List<double[]> scores, List<boolean[]> human) {
        if (scores.size() != human.size()) throw new IllegalArgumentException("scores and masks differ in number");
        double sum = 0;
        int n = 0;
        for (int e = 0; e < scores.size(); e++) {
            boolean[] m = human.get(e);
            int pos = 0;
            for (boolean b : m) if (b) pos++;
            if (pos == 0 || pos == m.length) continue;
            sum += of(scores.get(e), m);
            n++;
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}
