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

    /** The weight of projection p. */
    public Tensor projection(Lora.Projection p) {
        return switch (p) {
            case Q -> q;
            case K -> k;
            case V -> v;
            case O -> o;
            case GATE -> gate;
            case UP -> up;
            case DOWN -> down;
        };
    }

    /** These weights with projection p's weight replaced by t (biases and norms unchanged). */
    public LayerWeights with(Lora.Projection p, Tensor t) {
        return new LayerWeights(inputNorm, p == Lora.Projection.Q ? t : q, p == Lora.Projection.K ? t : k, p == Lora.Projection.V ? t : v,
                qBias, kBias, vBias, p == Lora.Projection.O ? t : o, oBias, postAttentionNorm,
                p == Lora.Projection.GATE ? t : gate, p == Lora.Projection.UP ? t : up, p == Lora.Projection.DOWN ? t : down,
                gateBias, upBias, downBias);
    }
}
