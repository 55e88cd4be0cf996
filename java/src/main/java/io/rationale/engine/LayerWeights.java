package io.rationale.engine;

import io.rationale.weights.Tensor;

/**
 * The weights of one decoder layer. Projection matrices are views into the checkpoint ({@code [out, in]}, any of
 * f32/bf16/f16); norm weights and biases are small and held as f32 arrays. A bias is null when the config has none.
 */
public record LayerWeights(
        float[] inputNorm,
        Tensor q, Tensor k, Tensor v, float[] qBias, float[] kBias, float[] vBias,
        Tensor o, float[] oBias,
        float[] postAttentionNorm,
        Tensor gate, Tensor up, Tensor down, float[] gateBias, float[] upBias, float[] downBias) {
}
