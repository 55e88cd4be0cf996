package io.rationale.engine;

import io.rationale.model.ModelConfig;

/**
 * The cos and sin tables of rotary position embedding, computed on the host in double for every backend (so that
 * all backends rotate by the same f32 factors): angle {@code position · invFreq[i]}, {@code invFreq[i] =
 * 1/theta^(2i/dim)} for i < dim/2, optionally rescaled ({@code llama3}, {@code linear}) as Hugging Face does.
 */
public final class RopeTables {
    private final double[] invFreq;
    private final int headDim;

    public RopeTables(ModelConfig config) {
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
}
