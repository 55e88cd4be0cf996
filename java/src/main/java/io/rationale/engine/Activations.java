package io.rationale.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * What a forward pass keeps for a later backward pass (gradients, LRP). Pass an instance to
 * {@link Backend#forward}; every array is packed over the batch's new tokens ({@code [tokens, features]},
 * sequences one after the other in batch order, see {@link #seqStart}).
 * Attention probabilities are large ({@code heads × new × context} per sequence and layer) and kept only on request.
 */
public final class Activations {
    /** Whether attention probabilities are kept. */
    public final boolean keepAttentionProbs;

    /** First packed row of each sequence, plus the total at the end. */
    public int[] seqStart;
    /** Position of each packed token (its index in its sequence, counting cached positions). */
    public int[] positions;
    /** Token ids, packed. */
    public int[] tokens;
    /** Embedding rows: the residual stream entering layer 0, {@code [tokens, hidden]}. */
    public float[] embeddings;
    /** Per layer, in order. */
    public final List<Layer> layers = new ArrayList<>();
    /** The residual stream entering the final norm, {@code [rows, hidden]}, only the rows that get logits. */
    public float[] finalNormInput;
    /** 1/rms of each of those rows. */
    public float[] finalInvRms;
    /** Which packed token each logits row belongs to. */
    public int[] logitRows;

    public Activations(boolean keepAttentionProbs) { this.keepAttentionProbs = keepAttentionProbs; }

    /** What one decoder layer keeps. */
    public static final class Layer {
        /** Residual stream entering the layer, {@code [tokens, hidden]}. */
        public float[] input;
        /** 1/sqrt(mean(x²)+eps) of input_layernorm per token. */
        public float[] attnInvRms;
        /** input_layernorm output, {@code [tokens, hidden]}. */
        public float[] attnNormed;
        /** Queries and keys after bias and RoPE, values after bias: {@code [tokens, heads·dim]}, {@code [tokens, kvHeads·dim]}. */
        public float[] q, k, v;
        /** RoPE cos/sin per token and frequency, {@code [tokens, dim/2]}. */
        public float[] ropeCos, ropeSin;
        /**
         * Attention probabilities per sequence, {@code [heads][new tokens][context]} flattened, context = cached +
         * new positions of that sequence (zeros where masked); null unless kept.
         */
        public float[][] attnProbs;
        /** Attention output before o_proj (heads concatenated), {@code [tokens, heads·dim]}. */
        public float[] attnOut;
        /** Residual stream after the attention block, {@code [tokens, hidden]}. */
        public float[] mid;
        /** 1/rms of post_attention_layernorm per token. */
        public float[] mlpInvRms;
        /** post_attention_layernorm output. */
        public float[] mlpNormed;
        /** gate_proj and up_proj outputs, {@code [tokens, intermediate]}. */
        public float[] gate, up;
        /** silu(gate)·up, the input of down_proj. */
        public float[] act;
    }
}
