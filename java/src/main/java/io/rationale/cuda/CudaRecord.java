package io.rationale.cuda;

import io.rationale.engine.ForwardRecord;

import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * The CUDA backend's {@link ForwardRecord}: what a recorded forward keeps for {@link CudaBackend#backward}, in ONE
 * device allocation sliced per layer (f32, packed over the batch's n new tokens, sequences in batch order), plus the
 * host copies the interface hands out.
 *
 * <p><b>Device contents.</b> A full record keeps, per layer, what the backward reads: the layer's input residual
 * stream x {@code [n, H]}, the input norm's 1/rms {@code [n]}, the fused q|k|v rows after bias and RoPE
 * {@code [n, Q + 2K]}, the attention output O in f32 {@code [n, Q]} (for {@code Delta = rowsum(O∘dO)}), the
 * attention's row statistics {@code [n, heads, 2]} (max and sum: the backward recomputes the probabilities from them),
 * the residual stream after the attention block {@code [n, H]}, the post-attention norm's 1/rms {@code [n]} and the
 * gate|up GEMM output {@code [n, 2I]} (before the MLP biases, which the backward adds as the forward does). A
 * checkpointed record ({@code recompute}) keeps only each layer's input; the backward recomputes the rest one layer at
 * a time with the forward's own kernels and launch decisions, so its gradients are bit-identical to a full record's.
 * Both keep each sequence's last row of the final residual stream {@code [S, H]} and its last logits {@code [S, V]}.
 * Layer 0's input is the input embeddings.
 *
 * <p><b>After a cached prefix.</b> A sequence whose cache held positions before the recorded forward (a cached prompt
 * prefix) records only its new rows, at positions {@code past + i}; the record keeps a fork of its cache at the
 * prefix ({@link #prefix}: the full blocks shared, a partly filled last block copied), whose keys and values the
 * backward reads as constants ({@link CudaBackend#backward}).
 *
 * <p><b>Memory bound</b> (bytes; L layers, H hidden, Q = heads·headDim, K = kvHeads·headDim, I intermediate, V vocabulary,
 * n tokens, S sequences, each slice rounded up to 256 bytes): full {@code 4·L·n·(2H + Q + 2K + Q + 2·heads + 2I + 2) +
 * 4·S·(H + V)}; checkpointed {@code 4·L·n·H + 4·S·(H + V)}. Host: the last logits {@code 4·S·V}, kept attention
 * probabilities {@code 4·L·heads·Σ n_s²}, and the embeddings once {@link #embeddings} was called ({@code 4·n·H}).
 *
 * <p>{@link #close} frees the device memory at once; an unclosed record frees it when it becomes garbage (at the
 * backend's next call after the collector found it), and closing the backend frees every record's.
 */
final class CudaRecord implements ForwardRecord {
    private static final Cleaner CLEANER = Cleaner.create();

    /** One layer's slices (device pointers; with a checkpointed record only {@link #input}, the others NULL). */
    record Layer(DevicePointer input, DevicePointer inv1, DevicePointer qkv, DevicePointer o, DevicePointer stats,
                 DevicePointer mid, DevicePointer inv2, DevicePointer gu) {

        /** Floats of one layer's full slices for n tokens: the slice sizes, in {@link #Layer} order. */
        static long[] floats(int n, int H, int Q, int K, int I, int heads) {
            return new long[]{(long) n * H, n, (long) n * (Q + 2L * K), (long) n * Q, 2L * n * heads, (long) n * H, n, 2L * n * I};
        }
    }

    /** The device allocation of a record, released once (by {@link #close}, the cleaner, or the backend's close). */
    static final class Memory implements Runnable {
        final CudaBackend owner;
        final DevicePointer ptr;
        final long bytes;
        private boolean released;

        Memory(CudaBackend owner, DevicePointer ptr, long bytes) {
            this.owner = owner;
            this.ptr = ptr;
            this.bytes = bytes;
        }

        /** The cleaner: the record became garbage; the backend frees the memory at its next call. */
        @Override
        public void run() { owner.releaseLater(this); }

        /** Marks released; true the first time. */
        synchronized boolean release() {
            if (released) return false;
            released = true;
            return true;
        }

        synchronized boolean released() { return released; }
    }

    private final boolean keepProbs, recompute;
    final CudaBackend owner;

    // host: shapes and what the interface hands out
    int[] seqStart;
    int[] past;                        // per sequence, the cached positions before its recorded rows (0: from position 0)
    CudaKvCache[] prefix;              // per sequence with past > 0, a fork of its cache at the prefix (else null)
    int layers;
    float[][][] probs;                 // [layer][sequence]
    float[][] lastLogits;
    private float[] embeddingsHost;    // [n, H], copied on first use

    // device
    private Memory memory;
    private Cleaner.Cleanable cleanable;
    Layer[] layer;
    DevicePointer finalX = DevicePointer.NULL, logits = DevicePointer.NULL;   // [S, H], [S, V]
    int hidden;

    CudaRecord(CudaBackend owner, boolean keepProbs, boolean recompute) {
        this.owner = owner;
        this.keepProbs = keepProbs;
        this.recompute = recompute;
    }

    /**
     * Takes {@code memory} (replacing what a previous forward left) and slices it: per layer the full slices, or the
     * input only with {@code recompute}, then finalX and the logits.
     */
    void attach(Memory memory, int n, int seqs, int L, int H, int Q, int K, int I, int heads, int V) {
        releaseMemory();
        this.memory = memory;
        this.cleanable = CLEANER.register(this, memory);
        this.hidden = H;
        this.embeddingsHost = null;
        long off = 0;
        layer = new Layer[L];
        long[] sizes = Layer.floats(n, H, Q, K, I, heads);
        for (int l = 0; l < L; l++) {
            DevicePointer[] p = new DevicePointer[sizes.length];
            Arrays.fill(p, DevicePointer.NULL);
            for (int i = 0; i < (recompute ? 1 : sizes.length); i++) {
                p[i] = memory.ptr.plus(off);
                off += align(4 * sizes[i]);
            }
            layer[l] = new Layer(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
        }
        finalX = memory.ptr.plus(off);
        off += align(4L * seqs * H);
        logits = memory.ptr.plus(off);
    }

    /** Device bytes of a record of n tokens in S sequences (the allocation {@link #attach} slices). */
    static long deviceBytes(boolean recompute, int n, int seqs, int L, int H, int Q, int K, int I, int heads, int V) {
        long per = 0;
        long[] sizes = Layer.floats(n, H, Q, K, I, heads);
        for (int i = 0; i < (recompute ? 1 : sizes.length); i++) per += align(4 * sizes[i]);
        return L * per + align(4L * seqs * H) + align(4L * seqs * V);
    }

    static long align(long bytes) { return (bytes + 255) & ~255L; }

    /** Whether a forward filled this record (and it is not closed). */
    boolean filled() { return memory != null && !memory.released() && seqStart != null; }

    @Override public boolean keepsAttentionProbs() { return keepProbs; }

    @Override public boolean recomputes() { return recompute; }

    @Override public int numSequences() { return seqStart == null ? 0 : seqStart.length - 1; }

    @Override public int numTokens() { return seqStart == null ? 0 : seqStart[seqStart.length - 1]; }

    @Override public int sequenceLength(int seq) { return seqStart[seq + 1] - seqStart[seq]; }

    @Override public int prefixLength(int seq) { return past == null ? 0 : past[seq]; }

    /** Whether some sequence was recorded after a cached prefix. */
    boolean hasPrefix() {
        if (past != null) for (int p : past) if (p > 0) return true;
        return false;
    }

    @Override public int numLayers() { return layers; }

    /** From layer 0's input on the device, copied to the host once. */
    @Override
    public float[] embeddings(int seq) {
        if (!filled()) throw new IllegalStateException("the record is not filled (or closed)");
        if (embeddingsHost == null) embeddingsHost = owner.download(layer[0].input(), (long) numTokens() * hidden);
        return Arrays.copyOfRange(embeddingsHost, seqStart[seq] * hidden, seqStart[seq + 1] * hidden);
    }

    @Override
    public float[] attentionProbs(int layer, int seq) {
        if (!keepProbs) throw new IllegalStateException("attention probabilities were not recorded");
        return probs[layer][seq];
    }

    @Override public float[] lastLogits(int seq) { return lastLogits == null ? null : lastLogits[seq]; }

    /** Device bytes plus the host copies (not the prefix forks' blocks, shared with the caches they came from). */
    @Override
    public long bytes() {
        long b = memory == null || memory.released() ? 0 : memory.bytes;
        if (embeddingsHost != null) b += 4L * embeddingsHost.length;
        if (lastLogits != null) for (float[] l : lastLogits) b += 4L * l.length;
        if (probs != null) for (float[][] layer : probs) for (float[] p : layer) if (p != null) b += 4L * p.length;
        return b;
    }

    /** Device bytes held. */
    long deviceBytes() { return memory == null || memory.released() ? 0 : memory.bytes; }

    private void releaseMemory() {
        if (prefix != null) for (CudaKvCache k : prefix) if (k != null) k.close();
        prefix = null;
        past = null;
        if (memory == null) return;
        cleanable.clean();                 // the cleaner's action: queue for release...
        owner.releaseNow(memory);          // ...and release now (we are on the caller's thread)
        memory = null;
    }

    @Override
    public void close() { releaseMemory(); }
}
