package io.rationale.serum;

import io.rationale.engine.AttentionIntervention;

import java.util.Arrays;
import java.util.List;

/**
 * One steering setting, resolved for a prompt: α times the normalised relevance of the span tokens
 * [{@code spanStart}, {@code spanEnd}) added to the attention of every head at {@code layers} ({@link Operator},
 * {@link Rows}). {@link #intervention()} is the engine's hook that every forward of the generation applies (the
 * prompt's prefill and each decoded token, over the KV cache).
 *
 * @param alpha     strength (0: the hook adds exact zeros, i.e. plain generation)
 * @param layers    0-based decoder layers (distinct)
 * @param spanStart first span token position (0-based, BOS counted)
 * @param spanEnd   end of the span (exclusive)
 * @param weights   the normalised relevance, one per span token
 */
public record Steering(double alpha, int[] layers, int spanStart, int spanEnd, double[] weights, Operator operator, Rows rows) {
    public Steering {
        if (!Double.isFinite(alpha) || alpha < 0) throw new IllegalArgumentException("steering alpha must be a finite number >= 0, got " + alpha);
        if (layers == null || layers.length == 0) throw new IllegalArgumentException("steering needs at least one layer");
        if (spanStart < 0 || spanEnd <= spanStart)
            throw new IllegalArgumentException("steering span " + spanStart + ":" + spanEnd + " is empty or negative (START:END, END exclusive)");
        if (weights == null || weights.length != spanEnd - spanStart)
            throw new IllegalArgumentException("steering span " + spanStart + ":" + spanEnd + " has " + (spanEnd - spanStart)
                    + " tokens but " + (weights == null ? 0 : weights.length) + " relevance values");
        if (operator == null) operator = Operator.POST;
        if (rows == null) rows = Rows.ALL;
        layers = layers.clone();
        weights = weights.clone();
    }

    @Override public int[] layers() { return layers.clone(); }

    @Override public double[] weights() { return weights.clone(); }

    /**
     * The engine's intervention: key positions spanStart..spanEnd−1 with biases α·R̂ (as f32); rows {@link Rows#ALL}:
     * every query row, non-causal for the post-softmax operators (causal for {@code pre}); {@link Rows#CAUSAL}: rows
     * from spanEnd on, causal.
     */
    public AttentionIntervention intervention() {
        int n = spanEnd - spanStart;
        int[] pos = new int[n];
        float[] val = new float[n];
        for (int i = 0; i < n; i++) {
            pos[i] = spanStart + i;
            val[i] = (float) (alpha * weights[i]);
        }
        boolean causal = rows == Rows.CAUSAL || operator == Operator.PRE;
        int fromQuery = rows == Rows.CAUSAL ? spanEnd : 0;
        return new AttentionIntervention(operator.site(), layers, null, causal, List.of(new AttentionIntervention.KeyBias(pos, val, fromQuery)));
    }

    /** Checks the layers and span against a model of {@code numLayers} layers and a prompt of {@code promptTokens}. */
    public void check(int numLayers, int promptTokens) {
        for (int l : layers)
            if (l < 0 || l >= numLayers) throw new IllegalArgumentException("steering layer " + l + " is outside [0, " + numLayers + ")");
        if (spanEnd > promptTokens)
            throw new IllegalArgumentException("steering span " + spanStart + ":" + spanEnd + " ends after the prompt's " + promptTokens + " tokens");
    }

    /** "START:END" → {start, end}. */
    public static int[] parseSpan(String s) {
        String[] p = s == null ? new String[0] : s.trim().split(":");
        try {
            if (p.length == 2) {
                int a = Integer.parseInt(p[0].trim()), b = Integer.parseInt(p[1].trim());
                if (a >= 0 && b > a) return new int[]{a, b};
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("--steer-span must be START:END with 0 <= START < END (token positions, END exclusive), got '" + s + "'");
    }

    @Override
    public String toString() {
        return "alpha " + alpha + ", layers " + Arrays.toString(layers) + ", span " + spanStart + ":" + spanEnd + ", " + operator.cliName() + ", rows " + rows.cliName();
    }
}
