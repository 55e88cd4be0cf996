package io.rationale.cpu;

import io.rationale.model.ModelConfig;

/**
 * Rotary position embedding in the Hugging Face rotate-half convention: for each head and i < dim/2,
 * {@code (x[i], x[i+dim/2]) ← (x[i]·cos − x[i+dim/2]·sin, x[i+dim/2]·cos + x[i]·sin)} with angle
 * {@code position · invFreq[i]}, {@code invFreq[i] = 1/theta^(2i/dim)}, optionally rescaled ({@code llama3},
 * {@code linear}). Angles are computed in double.
 */
public final class Rope {
    private final double[] invFreq;
    private final int headDim;

    public Rope(ModelConfig config) {
        this.headDim = config.headDim();
        this.invFreq = inverseFrequencies(config);
    }

    /** The per-pair inverse frequencies, with the config's rope_scaling applied. */
    public static double[] inverseFrequencies(ModelConfig c) {
        int half = c.headDim() / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim());
        ModelConfig.RopeScaling s = c.ropeScaling();
        if (s == null) return inv;
        switch (s.type()) {
            case "linear" -> {
                for (int i = 0; i < half; i++) inv[i] /= s.factor();
            }
            case "llama3" -> {
                // Llama 3.1: low frequencies (long wavelengths) are slowed by `factor`, high ones kept,
                // the band between interpolated smoothly.
                double lowFreqWavelen = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
                double highFreqWavelen = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen > lowFreqWavelen) {
                        inv[i] = inv[i] / s.factor();
                    } else if (wavelen >= highFreqWavelen) {
                        double smooth = (s.originalMaxPositionEmbeddings() / wavelen - s.lowFreqFactor())
                                / (s.highFreqFactor() - s.lowFreqFactor());
                        inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
                    }
                }
            }
            default -> throw new IllegalArgumentException("unsupported rope_scaling type " + s.type());
        }
        return inv;
    }

    /** cos and sin of every (token, pair) angle, {@code [tokens, dim/2]}. */
    public void tables(int[] positions, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < positions.length; t++) {
            for (int i = 0; i < half; i++) {
                double a = positions[t] * invFreq[i];
                cos[t * half + i] = (float) Math.cos(a);
                sin[t * half + i] = (float) Math.sin(a);
            }
        }
    }

    /** Rotates every head of x ({@code [tokens, heads·dim]}) in place. */
    public static void apply(float[] x, int tokens, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float c = cos[t * half + i], s = sin[t * half + i];
                    float x1 = x[o + i], x2 = x[o + i + half];
                    x[o + i] = x1 * c - x2 * s;
                    x[o + i + half] = x2 * c + x1 * s;
                }
            }
        }
    }

    /**
     * Backward of {@link #apply} (every rule mode: cos and sin are constants): the inverse rotation,
     * {@code (d1, d2) ← (d1·cos + d2·sin, d2·cos − d1·sin)}, in place on a gradient {@code [tokens, heads·dim]}.
     */
    public static void applyInverse(float[] dx, int tokens, int heads, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float c = cos[t * half + i], s = sin[t * half + i];
                    float d1 = dx[o + i], d2 = dx[o + i + half];
                    dx[o + i] = d1 * c + d2 * s;
                    dx[o + i + half] = d2 * c - d1 * s;
                }
            }
        }
    }
}
