package io.rationale.attribution;

import io.rationale.engine.Activations;
import io.rationale.engine.Backend;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;

import java.util.List;

/** The seam to the backend's backward pass (the {@code backward} branch's contract). */
final class Gradients {
    private Gradients() {}

    /** Which gradient: plain, or one of the LRP modified gradients. */
    enum Rule { GRADIENT, ATTNLRP, CPLRP }

    static Logits forwardEmbeddings(Backend b, List<float[]> embeddings, LogitsMode mode, Activations record) {
        throw new UnsupportedOperationException("this build has no backward pass (forwardEmbeddings)");
    }

    /** Per sequence s, d targets[s] / d its input embeddings, {@code [len_s * hidden]}. */
    static float[][] backward(Backend b, Activations record, List<TargetSpec> targets, Rule rule) {
        throw new UnsupportedOperationException("this build has no backward pass");
    }
}
