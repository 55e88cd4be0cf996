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
        double u = rng.nextDouble() * mass;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }
}
