package io.rationale.engine;

/**
 * What a flip evaluation ({@link Backend#flipEvaluation}) gives back: per variant of the {@link FlipBatch}, its label
 * logits, probabilities and prediction; per request, the flip and the two faithfulness numbers with y = the label
 * predicted on the unmasked input (variant 0):
 * {@code flipped = predicted[remove] != y}, {@code comprehensiveness = p_y(x) − p_y(remove)},
 * {@code sufficiency = p_y(x) − p_y(keep)}.
 *
 * @param labelLogits       per variant, per label: the max over the label's token logits (null for a variant 0 given
 *                          by the caller)
 * @param bestTokens        per variant, per label: the token id that gave it (null likewise)
 * @param probs             per variant, the softmax over its label logits ({@link LabelLogits#probabilities})
 * @param predicted         per variant, the label with the largest logit (the first on ties)
 * @param flipped           per request
 * @param comprehensiveness per request
 * @param sufficiency       per request
 * @param forwards          forward passes run
 * @param tokens            tokens run (variants' tokens, the prefix not counted)
 */
public record FlipScores(float[][] labelLogits, int[][] bestTokens, double[][] probs, int[] predicted, boolean[] flipped,
                         double[] comprehensiveness, double[] sufficiency, int forwards, int tokens) {

    /**
     * The requests' metrics in double from the variants' probabilities and predictions (the host's arithmetic; a
     * device computes the same on the device).
     */
    public static FlipScores of(FlipBatch batch, float[][] labelLogits, int[][] bestTokens, double[][] probs, int[] predicted,
                                int forwards, int tokens) {
        int y = predicted[0];
        double py = probs[0][y];
        int r = batch.requests();
        boolean[] flipped = new boolean[r];
        double[] comp = new double[r], suff = new double[r];
        for (int i = 0; i < r; i++) {
            flipped[i] = predicted[batch.requestRemove()[i]] != y;
            comp[i] = py - probs[batch.requestRemove()[i]][y];
            suff[i] = py - probs[batch.requestKeep()[i]][y];
        }
        return new FlipScores(labelLogits, bestTokens, probs, predicted, flipped, comp, suff, forwards, tokens);
    }
}
