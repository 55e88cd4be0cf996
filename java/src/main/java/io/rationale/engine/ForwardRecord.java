package io.rationale.engine;

/**
 * What a recorded forward pass keeps for a later {@link Backend#backward} (gradients, LRP), as far as code above
 * the engine may read it. The record is made by the backend that fills it ({@link Backend#newRecord}); its layout
 * (host arrays, device buffers) is the backend's own. Sequences are those of the recorded batch, in order.
 *
 * <p>{@link #close} releases what the record holds outside the Java heap (a device backend's record is device
 * memory); a record that is never closed is released when it becomes garbage, but only then. A closed record must
 * not be used. Records of the CPU backend hold only heap arrays: closing them does nothing.
 */
public interface ForwardRecord extends AutoCloseable {

    /** Whether the forward kept every layer's attention probabilities ({@link #attentionProbs}). */
    boolean keepsAttentionProbs();

    /** Whether the record is checkpointed: each layer keeps its input only, the backward recomputes the rest. */
    boolean recomputes();

    /** Sequences recorded; 0 before a forward filled the record. */
    int numSequences();

    /** Packed tokens recorded (all sequences). */
    int numTokens();

    /** New tokens of sequence {@code seq} in the recorded forward. */
    int sequenceLength(int seq);

    /**
     * Positions of sequence {@code seq} that its cache held before the recorded forward (a cached prompt prefix,
     * {@link Backend#supportsPrefixRecord}): its recorded tokens sit at positions {@code prefixLength(seq) + i}, and
     * the backward's gradients are those of its recorded tokens only, the prefix's keys and values held constant.
     * 0 for a sequence recorded from position 0.
     */
    default int prefixLength(int seq) { return 0; }

    /** Decoder layers recorded. */
    int numLayers();

    /**
     * The input embeddings of sequence {@code seq} (the residual stream entering layer 0), {@code [len·hidden]}
     * row-major: the "input" of input × gradient and of every LRP relevance read at the embeddings.
     */
    float[] embeddings(int seq);

    /**
     * Layer {@code layer}'s attention probabilities of sequence {@code seq}: {@code [heads][new][context]}
     * flattened, context = cached + new positions of that sequence, zeros where masked.
     *
     * @throws IllegalStateException when the probabilities were not kept
     */
    float[] attentionProbs(int layer, int seq);

    /** The logits of sequence {@code seq}'s last token ({@code [vocab]}); null when the forward returned none. */
    float[] lastLogits(int seq);

    /**
     * The residual stream of sequence {@code seq} at its recorded token {@code token} ({@code [hidden]}) entering decoder
     * layer {@code layer} (0: the input embeddings), or with {@code layer == numLayers()} entering the final norm, which
     * is kept only for the tokens that got logits: what a logit lens reads (hidden state h_l of Hugging Face's
     * {@code output_hidden_states}, before the final norm).
     *
     * @throws UnsupportedOperationException when this backend's record does not keep it
     * @throws IllegalArgumentException      for a layer, sequence or token outside the record, or a final-norm row
     *                                       without logits
     */
    default float[] residual(int layer, int seq, int token) {
        throw new UnsupportedOperationException("this backend's forward record does not keep the residual stream per layer; run it with --device cpu");
    }

    /** Bytes the record holds (host or device memory). */
    long bytes();

    /** Releases the record's device memory, if any (idempotent). */
    @Override
    default void close() {}
}
