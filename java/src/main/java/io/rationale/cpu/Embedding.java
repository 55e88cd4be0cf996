package io.rationale.cpu;

import io.rationale.weights.Tensor;

/** Token embedding lookup: row {@code token} of {@code embed_tokens}, widened to f32. */
public final class Embedding {
    private Embedding() {}

    /** out[t] = embed[tokens[t]] for every t; out is {@code [tokens, hidden]}. */
    public static void lookup(Tensor embed, int[] tokens, float[] out) {
        int hidden = embed.cols();
        for (int t = 0; t < tokens.length; t++)
            Vec.toFloat(embed.dtype(), embed.data(), (long) tokens[t] * hidden, out, t * hidden, hidden);
    }
}
