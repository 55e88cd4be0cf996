package io.rationale.attribution;

import io.rationale.engine.ForwardRecord;

import java.util.ArrayList;
import java.util.List;

/**
 * Attention-based scores from recorded attention probabilities ({@link ForwardRecord#attentionProbs}, per sequence
 * {@code [heads][new][context]}), for a sequence run from position 0 without a cache (new = context = T).
 */
public final class AttentionMaps {
    private AttentionMaps() {}

    /** Head-mean attention matrix of one layer and sequence: {@code A[i][j]}, query i, key j, {@code [T][T]}. */
    public static double[][] headMean(float[] probs, int heads, int tokens) {
        int t = tokens;
        if (probs == null) throw new IllegalStateException("attention probabilities were not recorded");
        if (probs.length != heads * t * t)
            throw new IllegalArgumentException("attention probabilities hold " + probs.length + " floats, expected " + heads + "×" + t + "×" + t);
        double[][] a = new double[t][t];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < t; i++)
                for (int j = 0; j <= i; j++) a[i][j] += probs[(h * t + i) * t + j];
        for (double[] row : a) for (int j = 0; j < t; j++) row[j] /= heads;
        return a;
    }

    /** The last position's row of the head-mean attention of one layer: {@code [T]}. */
    public static double[] lastRow(float[] probs, int heads, int tokens) {
        int t = tokens;
        if (probs == null) throw new IllegalStateException("attention probabilities were not recorded");
        if (probs.length != heads * t * t)
            throw new IllegalArgumentException("attention probabilities hold " + probs.length + " floats, expected " + heads + "×" + t + "×" + t);
        double[] out = new double[t];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < t; j++) out[j] += probs[(h * t + t - 1) * t + j];
        for (int j = 0; j < t; j++) out[j] /= heads;
        return out;
    }

    /** {@link #lastRow} of the last layer of sequence {@code seq} of a recorded forward. */
    public static double[] lastLayerRow(ForwardRecord rec, int seq, int heads) {
        return lastRow(rec.attentionProbs(rec.numLayers() - 1, seq), heads, rec.sequenceLength(seq));
    }

    /** {@link #rollout(List)} over every layer of sequence {@code seq} of a recorded forward. */
    public static double[] rollout(ForwardRecord rec, int seq, int heads) {
        int t = rec.sequenceLength(seq);
        List<double[][]> maps = new ArrayList<>(rec.numLayers());
        for (int l = 0; l < rec.numLayers(); l++) maps.add(headMean(rec.attentionProbs(l, seq), heads, t));
        return rollout(maps);
    }

    /**
     * Attention rollout (Abnar &amp; Zuidema 2020): per layer l (first to last) the head-mean attention A_l,
     * {@code Â_l = 0.5·A_l + 0.5·I} with rows renormalised to sum 1, joint attention {@code J_1 = Â_1},
     * {@code J_l = Â_l · J_{l−1}} (so {@code J = Â_L ⋯ Â_1}); returns the last position's row of J, i.e. how much
     * the last position's final state draws on each input token.
     *
     * @param headMeans per layer in order, {@code [T][T]} (row = query)
     */
    public static double[] rollout(List<double[][]> headMeans) {
        if (headMeans.isEmpty()) throw new IllegalArgumentException("no layers");
        int t = headMeans.getFirst().length;
        double[] r = new double[t];
        r[t - 1] = 1;                       // e_last · Â_L · Â_{L−1} ⋯ Â_1, multiplied from the left
        for (int l = headMeans.size() - 1; l >= 0; l--) {
            double[][] a = headMeans.get(l);
            if (a.length != t) throw new IllegalArgumentException("layer " + l + " has " + a.length + " rows, expected " + t);
            double[] next = new double[t];
            for (int i = 0; i < t; i++) {
                if (r[i] == 0) continue;
                double sum = 0;
                for (int j = 0; j < t; j++) sum += 0.5 * a[i][j] + (i == j ? 0.5 : 0);
                for (int j = 0; j < t; j++) next[j] += r[i] * (0.5 * a[i][j] + (i == j ? 0.5 : 0)) / sum;
            }
            r = next;
        }
        return r;
    }
}
