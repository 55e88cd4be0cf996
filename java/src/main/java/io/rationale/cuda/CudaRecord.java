package io.rationale.cuda;

import io.rationale.engine.ForwardRecord;

/**
 * The CUDA backend's {@link ForwardRecord}. The CUDA backward pass is not written yet, so a record keeps what the
 * forward-only attribution methods read, copied to the host when the forward runs: each sequence's input
 * embeddings, the attention probabilities when asked for ({@code [heads][new][ctx]} per layer and sequence, from
 * {@code attn_probs}), and each sequence's last logits.
 */
final class CudaRecord implements ForwardRecord {
    private final boolean keepProbs, recompute;
    int[] lengths;
    int layers;
    float[][] embeddings;
    float[][][] probs;         // [layer][sequence]
    float[][] lastLogits;

    CudaRecord(boolean keepProbs, boolean recompute) {
        this.keepProbs = keepProbs;
        this.recompute = recompute;
    }

    @Override public boolean keepsAttentionProbs() { return keepProbs; }

    @Override public boolean recomputes() { return recompute; }

    @Override public int numSequences() { return lengths == null ? 0 : lengths.length; }

    @Override
    public int numTokens() {
        int n = 0;
        for (int l : lengths) n += l;
        return n;
    }

    @Override public int sequenceLength(int seq) { return lengths[seq]; }

    @Override public int numLayers() { return layers; }

    @Override public float[] embeddings(int seq) { return embeddings[seq].clone(); }

    @Override
    public float[] attentionProbs(int layer, int seq) {
        if (!keepProbs) throw new IllegalStateException("attention probabilities were not recorded");
        return probs[layer][seq];
    }

    @Override public float[] lastLogits(int seq) { return lastLogits == null ? null : lastLogits[seq]; }

    @Override
    public long bytes() {
        long b = 0;
        if (embeddings != null) for (float[] e : embeddings) b += 4L * e.length;
        if (lastLogits != null) for (float[] l : lastLogits) b += 4L * l.length;
        if (probs != null) for (float[][] layer : probs) for (float[] p : layer) if (p != null) b += 4L * p.length;
        return b;
    }
}
