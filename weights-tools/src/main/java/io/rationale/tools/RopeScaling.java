package io.rationale.tools;

/**
 * Llama 3 RoPE frequency scaling, as config.json's {@code rope_scaling} with
 * {@code "rope_type": "llama3"}.
 *
 * @param factor                        wavelengths past the low-frequency limit are divided by this
 * @param lowFreqFactor                 low_freq_factor
 * @param highFreqFactor                high_freq_factor
 * @param originalMaxPositionEmbeddings original_max_position_embeddings
 */
public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {
    public RopeScaling {
        if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositionEmbeddings <= 0) {
            throw new ToolException("bad llama3 rope_scaling: factor " + factor + ", low_freq_factor " + lowFreqFactor
                    + ", high_freq_factor " + highFreqFactor + ", original_max_position_embeddings "
                    + originalMaxPositionEmbeddings + " (need all > 0 and high > low)");
        }
    }

    /** The values Llama 3.1 uses (factor 8, 1, 4, 8192). */
    public static RopeScaling llama31() {
        return new RopeScaling(8.0, 1.0, 4.0, 8192);
    }
}
