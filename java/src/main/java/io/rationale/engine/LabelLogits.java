package io.rationale.engine;

/**
 * One row of logits reduced to label groups (a classification read off the next-token logits): per label, the largest
 * logit among its token ids and the first id in the group's order that has it, and the label with the largest one
 * (the first on ties). {@link #of} is the reduction; {@link Backend#forwardLabelLogits} hands these out instead of
 * whole vocabulary rows, so that a device backend copies back only them.
 *
 * @param logits    per label, the max over its tokens' logits
 * @param tokens    per label, the token id that gave it
 * @param predicted the label with the largest logit (the first on ties)
 */
public record LabelLogits(float[] logits, int[] tokens, int predicted) {

    /** The reduction of one row of vocabulary logits, {@code labelTokens[l]} the ids of label l (at least one each). */
    public static LabelLogits of(float[] vocabLogits, int[][] labelTokens) {
        int n = labelTokens.length;
        float[] l = new float[n];
        int[] best = new int[n];
        for (int i = 0; i < n; i++) {
            int[] ids = labelTokens[i];
            int b = ids[0];
            for (int id : ids) if (vocabLogits[id] > vocabLogits[b]) b = id;
            best[i] = b;
            l[i] = vocabLogits[b];
        }
        int pred = 0;
        for (int i = 1; i < n; i++) if (l[i] > l[pred]) pred = i;
        return new LabelLogits(l, best, pred);
    }

    /**
     * The label probabilities: the softmax over the label logits only, in double, max-shifted
     * ({@code p_l = exp(z_l − max) / Σ exp(z_m − max)}); the rest of the vocabulary is ignored, so they sum to 1.
     */
    public double[] probabilities() {
        double[] z = new double[logits.length];
        for (int i = 0; i < z.length; i++) z[i] = logits[i];
        return softmax(z);
    }

    /** Softmax in double precision (max-shifted). */
    public static double[] softmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) max = Math.max(max, v);
        double[] p = new double[x.length];
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            p[i] = Math.exp(x[i] - max);
            s += p[i];
        }
        for (int i = 0; i < x.length; i++) p[i] /= s;
        return p;
    }

    /** Checks a label table against a vocabulary. */
    public static void check(int[][] labelTokens, int vocab) {
        if (labelTokens.length == 0) throw new IllegalArgumentException("no labels");
        for (int l = 0; l < labelTokens.length; l++) {
            if (labelTokens[l].length == 0) throw new IllegalArgumentException("label " + l + " has no token ids");
            for (int id : labelTokens[l])
                if (id < 0 || id >= vocab) throw new IllegalArgumentException("label " + l + ": token id " + id + " outside [0, " + vocab + ")");
        }
    }
}
