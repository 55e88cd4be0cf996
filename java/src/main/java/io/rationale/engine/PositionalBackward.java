package io.rationale.engine;

/**
 * A backward pass that also gives the relevance of RoPE's position factors (PE-LRP, {@link LrpRules#ropeProductShare}):
 * what {@link Backend#backwardWithPositions} returns.
 *
 * <p>At every layer RoPE computes {@code q' = q·cos + rot(q)·sin} and {@code k' = k·cos + rot(k)·sin} with one cos
 * and one sin table per layer ({@code [tokens, headDim]}, the same for every head and for q and k). Under the uniform
 * rule a factor's relevance is {@code factor · gradient} with the gradient into it halved; {@code cos[s][l][t]} is that
 * relevance summed over the head dimension of token t's cos row at layer l (all query and key heads add into it), and
 * likewise {@code sin}. The values are signed; PE-LRP's token score adds {@code Σ_l |cos[l][t]| + |sin[l][t]|}.
 *
 * @param gradients per sequence, the modified gradient at its input embeddings ({@code [len·hidden]}), as
 *                  {@link Backend#backward} returns it
 * @param cos       per sequence, {@code [layers][len]}: relevance of the cos factor per layer and token
 * @param sin       per sequence, {@code [layers][len]}: relevance of the sin factor per layer and token
 */
public record PositionalBackward(float[][] gradients, double[][][] cos, double[][][] sin) {

    /**
     * PE-LRP's positional relevance of sequence {@code s} per token:
     * {@code Σ_layers (|cos[l][t]| + |sin[l][t]|)} (absolute value per layer and factor, as the authors' code sums it).
     */
    public double[] positionalScores(int s) {
        double[] out = new double[cos[s][0].length];
        for (int l = 0; l < cos[s].length; l++)
            for (int t = 0; t < out.length; t++) out[t] += Math.abs(cos[s][l][t]) + Math.abs(sin[s][l][t]);
        return out;
    }
}
