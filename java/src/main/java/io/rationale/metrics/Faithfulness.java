package io.rationale.metrics;

import java.util.List;

/**
 * Faithfulness arithmetic on the model's probabilities (the engine computes them; y is the label the model
 * predicted on the full input, ERASER's convention):
 * <ul>
 *   <li>comprehensiveness {@code = p_y(x) − p_y(x ∖ r)} (high: removing the rationale hurts);</li>
 *   <li>sufficiency {@code = p_y(x) − p_y(r)} (low: the rationale alone keeps the prediction);</li>
 *   <li>AOPC (ERASER): for each bin k ∈ {1, 5, 10, 20, 50}% ({@link #AOPC_FRACTIONS}), r_k = the top-k% WORDS
 *       of the input by score ({@link #aopcSizes}), and AOPC = the mean over the bins of
 *       {@code p_y(x) − p_y(x ∖ r_k)} (comprehensiveness) or of {@code p_y(x) − p_y(r_k)} (sufficiency);
 *       {@link #aopc} takes those probabilities;</li>
 *   <li>flip: the predicted label after masking differs from the one before; the flip rate is over ALL
 *       instances, correct or not (paper 1).</li>
 * </ul>
 */
public final class Faithfulness {
    private Faithfulness() {}

    /** ERASER's AOPC bins, as fractions of the input's words. */
    public static final double[] AOPC_FRACTIONS = {0.01, 0.05, 0.10, 0.20, 0.50};

    public static double comprehensiveness(double pFull, double pWithoutRationale) {
        return pFull - pWithoutRationale;
    }

    public static double sufficiency(double pFull, double pRationaleOnly) {
        return pFull - pRationaleOnly;
    }

    /** Mean over bins of {@code pFull − pPerturbed[b]}. */
    public static double aopc(double pFull, double[] pPerturbed) {
        if (pPerturbed.length == 0) throw new IllegalArgumentException("no AOPC bins");
        double s = 0;
        for (double p : pPerturbed) s += pFull - p;
        return s / pPerturbed.length;
    }

    /**
     * Mean over bins of the differences {@code pFull − pPerturbed[b]} already taken (comprehensiveness or sufficiency
     * values): the same sum, in the same order, as {@link #aopc(double, double[])}.
     */
    public static double aopc(double[] differences) {
        if (differences.length == 0) throw new IllegalArgumentException("no AOPC bins");
        double s = 0;
        for (double d : differences) s += d;
        return s / differences.length;
    }

    /** The number of words removed (or kept) per AOPC bin for an input of {@code nWords} words ({@link TopK#kForFraction}). */
    public static int[] aopcSizes(int nWords) {
        int[] k = new int[AOPC_FRACTIONS.length];
        for (int i = 0; i < k.length; i++) k[i] = TopK.kForFraction(nWords, AOPC_FRACTIONS[i]);
        return k;
    }

    public static boolean flipped(String before, String after) {
        return !before.equals(after);
    }

    /** Fraction of instances whose prediction changed; NaN for no instances. */
    public static double flipRate(List<String> before, List<String> after) {
        if (before.size() != after.size()) throw new IllegalArgumentException("prediction lists differ in size");
        if (before.isEmpty()) return Double.NaN;
        int f = 0;
        for (int i = 0; i < before.size(); i++) if (flipped(before.get(i), after.get(i))) f++;
        return (double) f / before.size();
    }

    /** Index of the largest probability, the lowest index on ties. */
    public static int argmax(double[] p) {
        if (p.length == 0) throw new IllegalArgumentException("no probabilities");
        int best = 0;
        for (int i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
        return best;
    }
}
