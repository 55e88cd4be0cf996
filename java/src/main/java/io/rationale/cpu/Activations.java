package io.rationale.cpu;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.LogitsMode;

import java.util.ArrayList;
import java.util.List;

/**
 * The CPU backend's {@link ForwardRecord}: what its forward pass keeps for a later backward pass (gradients, LRP),
 * in f32 Java arrays. Filled by {@link CpuBackend#forward} or {@link CpuBackend#forwardEmbeddings}, read by
 * {@link CpuBackend#backward} (which only reads it, so one record serves several targets); every array is packed
 * over the batch's new tokens ({@code [tokens, features]}, sequences one after the other in batch order, see
 * {@link #seqStart}). It keeps only what the backward reads: each layer's input, the two norms' 1/rms, q, k and v
 * after RoPE, the residual stream between the blocks, the gate and up projections. Attention probabilities are
 * large ({@code heads × new × context} per sequence and layer) and kept only on request.
 *
 * <p><b>Memory.</b> With n packed tokens, S sequences, L layers, hidden size H, q width Q = heads·headDim, kv width
 * K = kvHeads·headDim, intermediate size I, vocabulary V and r logits rows (S with {@link LogitsMode#LAST}, n with
 * {@link LogitsMode#ALL}), the float arrays of a full record ({@code recompute = false}) take
 * {@code 4·[L·n·(2H + Q + 2K + 2I + 2) + r·(H + 1) + n·headDim + S·V]} bytes (layer 0's input is the embeddings
 * array itself; the RoPE tables are shared by all layers). With {@code recompute = true} each layer keeps only its
 * input residual stream: {@code 4·[L·n·H + r·(H + 1) + n·headDim + S·V]} bytes, and {@link Backend#backward}
 * recomputes one layer's internals at a time from it (one more forward pass of each layer, without down_proj), so
 * its transient working memory is one layer's worth, see {@link CpuBackend#backward}. Kept attention probabilities
 * add {@code 4·L·heads·Σ_s n_s·ctx_s} bytes in either mode. Int arrays add {@code 4·(2n + S + 1 + r)} bytes.
 * A full record with {@link LogitsMode#LAST} and no probabilities keeps less than the formula says: its last layer
 * ran its queries, attention and MLP on each sequence's last row only ({@link Layer#rows}).
 * {@link #bytes()} reports the total.
 */
public final class Activations implements ForwardRecord {
    /** Whether attention probabilities are kept. */
    public final boolean keepAttentionProbs;
    /**
     * Whether each layer keeps only its {@link Layer#input} (checkpointing): the backward pass recomputes the rest
     * with the forward's own code, so results equal a full record's (bitwise once the JIT has compiled the kernels;
     * the Vector API may round EXP and lane sums differently in its first, interpreted calls, within 1e-6).
     */
    public final boolean recompute;

    /** First packed row of each sequence, plus the total at the end. */
    public int[] seqStart;
    /** Position of each packed token (its index in its sequence, counting cached positions). */
    public int[] positions;
    /**
     * Per sequence, null when it started at position 0, else a fork of its cache holding the positions before its
     * recorded tokens (the cached prefix, {@link ForwardRecord#prefixLength}): the backward pass reads the prefix's
     * keys and values as constants (and a checkpointed record's recomputation attends to them). Forks share the
     * cache's full blocks, so only a partly filled last block is copied ({@link #bytes()} counts neither).
     */
    public CpuKvCache[] prefix;
    /** Token ids, packed; null after {@link Backend#forwardEmbeddings}. */
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
    /** Per sequence, the logits of its last token ({@code [vocab]}; null with {@link LogitsMode#NONE}). */
    public float[][] lastLogits;

    /** A full record (no recomputation). */
    public Activations(boolean keepAttentionProbs) { this(keepAttentionProbs, false); }

    /**
     * @param keepAttentionProbs keep every layer's attention probabilities ({@link Layer#attnProbs})
     * @param recompute          keep only each layer's input and recompute the rest during the backward pass
     */
    public Activations(boolean keepAttentionProbs, boolean recompute) {
        this.keepAttentionProbs = keepAttentionProbs;
        this.recompute = recompute;
    }

    @Override
    public boolean keepsAttentionProbs() { return keepAttentionProbs; }

    @Override
    public boolean recomputes() { return recompute; }

    @Override
    public int numSequences() { return seqStart == null ? 0 : seqStart.length - 1; }

    @Override
    public int numTokens() { return seqStart[seqStart.length - 1]; }

    @Override
    public int sequenceLength(int seq) { return seqStart[seq + 1] - seqStart[seq]; }

    @Override
    public int numLayers() { return layers.size(); }

    @Override
    public int prefixLength(int seq) { return prefix == null || prefix[seq] == null ? 0 : prefix[seq].length(); }

    @Override
    public float[] embeddings(int seq) {
        int h = embeddings.length / numTokens();
        return java.util.Arrays.copyOfRange(embeddings, seqStart[seq] * h, seqStart[seq + 1] * h);
    }

    @Override
    public float[] attentionProbs(int layer, int seq) {
        float[][] p = layers.get(layer).attnProbs;
        if (p == null) throw new IllegalStateException("attention probabilities were not recorded");
        return p[seq];
    }

    @Override
    public float[] lastLogits(int seq) { return lastLogits == null ? null : lastLogits[seq]; }

    /** Every record keeps each layer's input (also a checkpointed one) and the final norm's input at logits rows. */
    @Override
    public float[] residual(int layer, int seq, int token) {
        if (seqStart == null) throw new IllegalArgumentException("the record was not filled by a forward pass");
        if (seq < 0 || seq >= numSequences()) throw new IllegalArgumentException("sequence " + seq + " outside [0, " + numSequences() + ")");
        if (token < 0 || token >= sequenceLength(seq))
            throw new IllegalArgumentException("token " + token + " outside sequence " + seq + "'s " + sequenceLength(seq) + " recorded tokens");
        if (layer < 0 || layer > layers.size()) throw new IllegalArgumentException("layer " + layer + " outside [0, " + layers.size() + "]");
        int row = seqStart[seq] + token, h = embeddings.length / numTokens();
        if (layer < layers.size()) return java.util.Arrays.copyOfRange(layers.get(layer).input, row * h, (row + 1) * h);
        for (int r = 0; r < logitRows.length; r++)
            if (logitRows[r] == row) return java.util.Arrays.copyOfRange(finalNormInput, r * h, (r + 1) * h);
        throw new IllegalArgumentException("the final norm's input of token " + token + " was not kept (no logits there): record with LogitsMode.ALL or end the sequence there");
    }

    /** Bytes held by this record's arrays (float and int arrays; object headers not counted). */
    @Override
    public long bytes() {
        java.util.IdentityHashMap<Object, Boolean> seen = new java.util.IdentityHashMap<>();
        long b = size(seen, seqStart) + size(seen, positions) + size(seen, tokens) + size(seen, embeddings)
                + size(seen, finalNormInput) + size(seen, finalInvRms) + size(seen, logitRows);
        if (lastLogits != null) for (float[] l : lastLogits) b += size(seen, l);
        for (Layer l : layers) {
            b += size(seen, l.rows) + size(seen, l.input) + size(seen, l.attnInvRms) + size(seen, l.q) + size(seen, l.k)
                    + size(seen, l.v) + size(seen, l.ropeCos) + size(seen, l.ropeSin) + size(seen, l.mid)
                    + size(seen, l.mlpInvRms) + size(seen, l.gate) + size(seen, l.up) + size(seen, l.attn);
            if (l.attnProbs != null) for (float[] p : l.attnProbs) b += size(seen, p);
        }
        return b;
    }

    private static long size(java.util.IdentityHashMap<Object, Boolean> seen, Object a) {
        if (a == null || seen.put(a, Boolean.TRUE) != null) return 0;
        return a instanceof float[] f ? 4L * f.length : 4L * ((int[]) a).length;
    }

    /** What one decoder layer keeps; with {@link #recompute} only {@link #input}, the RoPE tables and, if asked, probabilities. */
    public static final class Layer {
        /**
         * Null: the layer ran on every row. Else (the last layer of a record with {@link LogitsMode#LAST}, no
         * probabilities, no recomputation) the packed rows its queries, attention, o_proj and MLP ran on, each
         * sequence's last: then {@link #q} holds {@code [tokens, heads·dim]} with only these rows filled, and
         * {@link #mid}, {@link #mlpInvRms}, {@link #gate}, {@link #up} hold one row per entry of {@code rows}; keys,
         * values and the input norm cover every row.
         */
        public int[] rows;
        /** Residual stream entering the layer, {@code [tokens, hidden]}. */
        public float[] input;
        /** 1/sqrt(mean(x²)+eps) of input_layernorm per token. */
        public float[] attnInvRms;
        /** Queries and keys after bias and RoPE, values after bias: {@code [tokens, heads·dim]}, {@code [tokens, kvHeads·dim]}. */
        public float[] q, k, v;
        /** RoPE cos/sin per token and frequency, {@code [tokens, dim/2]}. */
        public float[] ropeCos, ropeSin;
        /**
         * Attention probabilities per sequence, {@code [heads][new tokens][context]} flattened, context = cached +
         * new positions of that sequence (zeros where masked); null unless kept.
         */
        public float[][] attnProbs;
        /** Residual stream after the attention block, {@code [tokens, hidden]}. */
        public float[] mid;
        /** 1/rms of post_attention_layernorm per token. */
        public float[] mlpInvRms;
        /** gate_proj and up_proj outputs, {@code [tokens, intermediate]}. */
        public float[] gate, up;
        /**
         * The attention output (o_proj's input), {@code [tokens, heads·dim]} ({@code [rows, heads·dim]} with
         * {@link #rows}): kept only when the model's unmerged LoRA adapter has a module on this layer's o_proj (its
         * weight gradient reads it), else null. Adds {@code 4·n·Q} bytes per such layer.
         */
        public float[] attn;
    }
}
