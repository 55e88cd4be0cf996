package io.rationale.engine;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/** Picks a token from one row of logits: argmax, or temperature + top-p sampling. */
public final class Sampler {
    private Sampler() {}

    /** The highest logit's token; the lowest id on ties. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int t = 1; t < logits.length; t++) if (logits[t] > logits[best]) best = t;
        return best;
    }

    /** A token drawn as {@code params} says, using {@code rng} (one uniform draw per call unless greedy). */
    public static int sample(float[] logits, SamplingParams params, RandomGenerator rng) {
        return sample(logits, params, params.isGreedy() ? 0 : rng.nextDouble());
    }

    /** The uniform draw in [0, 1) that {@link #sample(float[], SamplingParams, RandomGenerator)} takes from {@code rng} (0 when greedy). */
    public static double draw(SamplingParams params, RandomGenerator rng) {
        return params.isGreedy() ? 0 : rng.nextDouble();
    }

    /**
     * The token {@code params} picks with the uniform draw {@code u} in [0, 1): the argmax when greedy; otherwise
     * p_t = exp((l_t − max)/T) (double), the nucleus = tokens by decreasing p (ties: lower id first) until their mass
     * reaches topP·Σp (at least one), and the token where u·(nucleus mass) falls in that order.
     */
    public static int sample(float[] logits, SamplingParams params, double u01) {
        if (params.isGreedy()) return argmax(logits);
        int v = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double[] p = new double[v];
        double total = 0;
        for (int t = 0; t < v; t++) {
            p[t] = Math.exp((logits[t] - max) / params.temperature());
            total += p[t];
        }
        // tokens by decreasing probability (ties: lower id first)
        Integer[] order = new Integer[v];
        for (int t = 0; t < v; t++) order[t] = t;
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = 0;
        double mass = 0;
        while (keep < v && (keep == 0 || mass < params.topP() * total)) mass += p[order[keep++]];
        double u = u01 * mass;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }
}
