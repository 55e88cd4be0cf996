package io.rationale.perf;

import io.rationale.model.ModelConfig;

import java.util.List;

/**
 * Analytic cost of the engine's passes, from the model config alone: floating-point operations and bytes moved per
 * call, for the roofline of {@code bench matrix}.
 *
 * <p><b>FLOPs</b> are 2 × the multiply-adds of the matrix products, which dominate (everything else, RMSNorm, RoPE,
 * SwiGLU, softmax, residual adds, is O(tokens·hidden) against O(tokens·hidden²) and is not counted). With h the
 * hidden size, L layers, q = heads·head_dim, kv = kv_heads·head_dim, I the MLP's intermediate size, V the vocabulary:
 * <ul>
 *   <li>projections and MLP, per token: {@code L·(h·q + 2·h·kv + q·h + 3·h·I)} multiply-adds (q, k, v, o; gate, up,
 *       down) — the usual {@code 2·params·tokens} over the layer parameters;</li>
 *   <li>attention, per query at position p that sees {@code n = min(p + 1, window)} keys (causal; the sliding window
 *       when the model has one): {@code L·heads·head_dim·2·n} (scores Q·Kᵀ and the weighted sum P·V). Over a prompt of
 *       T tokens from position 0 that is {@code L·q·T(T+1)} multiply-adds, i.e. {@code 2·L·T²·q} FLOPs: half the
 *       {@code 4·T²·d} of a dense (non-causal) count, because the engine skips the masked keys;</li>
 *   <li>LM head: {@code h·V} per logits row (one per sequence for the last-position logits the benchmarks ask for).</li>
 * </ul>
 * The count is of the work the requested logits NEED: when only each sequence's last position gets logits, the last
 * layer computes keys and values for every new row (the cache keeps them) but queries, attention, o_proj and the MLP
 * for the last row only — what the CPU backend does. A backend that runs the whole last layer (the CUDA backend
 * today) does more than counted, so its fractions of the peaks are of the needed work.
 * <b>Backward</b> (attribution: the gradient with respect to the input embeddings only, no weight gradients — so
 * not the training rule "backward ≈ 2× forward"): projections and MLP 1× their forward ({@code dx = dy·W}), attention
 * 2× (dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO, dP = dO·Vᵀ), the LM head only the target's row ({@code h}); in the last
 * layer, as in its forward, only the target row's query, attention, o_proj and MLP, and every row's keys and values.
 *
 * <p><b>Bytes</b> are the compulsory traffic, a lower bound: each pass (one batched forward, one backward) reads every
 * layer weight and the LM head once ({@code weightBytes} per element, the checkpoint dtype); each sequence reads its
 * embedding rows and the keys and values it attends to (f32, {@code 2·kv·4} bytes per cached position and layer, read
 * once per layer and pass; with a sliding window only the positions inside some new row's window) and writes its new keys and values; a backward also reads the record, approximated as
 * {@code 4·L·(2h + 2q + 2kv + 2I)} bytes per token (layer input, normed input, q, k, v, attention output, gate, up).
 * Activations that stay in cache are not counted.
 *
 * <p>Not counted: a checkpointed record (an attribution whose full record would not fit the memory budget; extras
 * {@code recompute} of integrated gradients, {@code checkpointed_record} of the others) makes the backward recompute
 * each layer's internals from its input, about one more forward of the layers (without down_proj) per pass; the
 * counts here are those of a full record, so such a cell's FLOPs are a lower bound.
 */
public final class CostModel {
    private final ModelConfig c;
    private final int weightBytes;

    /** @param weightBytes bytes per weight element (the checkpoint dtype: 2 for bf16, 4 for f32) */
    public CostModel(ModelConfig config, int weightBytes) {
        this.c = config;
        this.weightBytes = weightBytes;
    }

    /** FLOPs and bytes of some work; {@link #plus} adds. */
    public record Cost(double flops, double bytes) {
        public static final Cost ZERO = new Cost(0, 0);

        public Cost plus(Cost o) { return new Cost(flops + o.flops, bytes + o.bytes); }

        public Cost times(double f) { return new Cost(flops * f, bytes * f); }
    }

    /** One sequence of a batched forward: {@code past} cached positions, {@code tokens} new ones, {@code logitsRows} rows of logits. */
    public record Seq(int past, int tokens, int logitsRows) {}

    /** Multiply-adds of the projections and the MLP for one token, all layers. */
    public long linearMacsPerToken() { return c.numLayers() * (kvMacs() + restMacs()); }

    /** Per layer and token: the k and v projections. */
    private long kvMacs() { return 2L * c.hiddenSize() * c.kvDim(); }

    /** Per layer and token: the q and o projections and the MLP. */
    private long restMacs() {
        long h = c.hiddenSize(), q = c.qDim(), i = c.intermediateSize();
        return h * q + q * h + 3 * h * i;
    }

    /** Attention multiply-adds of ONE layer for the queries at positions [past, past + tokens). */
    private long layerAttentionMacs(int past, int tokens) {
        long keys = 0;
        for (long p = past; p < (long) past + tokens; p++) keys += keys(p);
        return (long) c.qDim() * 2 * keys;
    }

    /**
     * Multiply-adds of one sequence's forward: every layer but the last on all new rows; the last layer's keys and
     * values on all new rows and the rest on the rows that get logits (all of them when every row does).
     */
    private double forwardMacs(Seq s) {
        int L = c.numLayers();
        int full = s.logitsRows() >= s.tokens() ? s.tokens() : s.logitsRows();
        double macs = (double) s.tokens() * (L - 1) * (kvMacs() + restMacs()) + (double) (L - 1) * layerAttentionMacs(s.past(), s.tokens());
        macs += (double) s.tokens() * kvMacs() + (double) full * restMacs() + layerAttentionMacs(s.past() + s.tokens() - full, full);
        return macs + (double) s.logitsRows() * c.hiddenSize() * c.vocabSize();
    }

    /**
     * Cached positions one layer reads for new rows at positions [past, past + tokens): every one from position 0, or
     * with a sliding window w those from {@code past − w + 1} on, {@code min(past + tokens, tokens + w − 1)}.
     */
    public long keysRead(int past, int tokens) {
        long all = (long) past + tokens;
        return c.slidingWindow() > 0 ? Math.min(all, (long) tokens + c.slidingWindow() - 1) : all;
    }

    /** Keys a query at position {@code pos} attends to. */
    public long keys(long pos) {
        long n = pos + 1;
        return c.slidingWindow() > 0 ? Math.min(n, c.slidingWindow()) : n;
    }

    /** Elements of the weights one pass reads: every layer's matrices and the LM head (norm vectors and biases ignored). */
    public long weightElementsPerPass() {
        return linearMacsPerToken() + (long) c.hiddenSize() * c.vocabSize();
    }

    /** One batched forward pass over {@code seqs}: multiply-adds ×2, weights read once, each sequence's KV traffic. */
    public Cost forward(List<Seq> seqs) {
        double macs = 0, bytes = (double) weightElementsPerPass() * weightBytes;
        long kvBytesPerPosition = 2L * c.kvDim() * 4 * c.numLayers();
        for (Seq s : seqs) {
            macs += forwardMacs(s);
            bytes += (double) s.tokens() * c.hiddenSize() * weightBytes;                     // embedding rows
            bytes += (double) keysRead(s.past(), s.tokens()) * kvBytesPerPosition;           // keys and values read
            bytes += (double) s.tokens() * kvBytesPerPosition;                               // new keys and values written
        }
        return new Cost(2 * macs, bytes);
    }

    /** One batched forward of {@code batch} sequences of {@code tokens} from position 0, last-position logits. */
    public Cost forward(int batch, int tokens) {
        return forward(java.util.Collections.nCopies(batch, new Seq(0, tokens, 1)));
    }

    /**
     * One backward pass (input gradients) over a recorded forward of {@code batch} sequences of {@code tokens} from
     * position 0, one target each at the last position.
     */
    public Cost backward(int batch, int tokens) {
        double macs = 0;
        int L = c.numLayers();
        for (int b = 0; b < batch; b++)
            macs += (double) tokens * (L - 1) * (kvMacs() + restMacs()) + 2.0 * (L - 1) * layerAttentionMacs(0, tokens)
                    + (double) tokens * kvMacs() + restMacs() + 2.0 * layerAttentionMacs(tokens - 1, 1) + c.hiddenSize();
        long h = c.hiddenSize(), q = c.qDim(), kv = c.kvDim(), i = c.intermediateSize();
        double record = 4.0 * c.numLayers() * (2 * h + 2 * q + 2 * kv + 2 * i) * tokens * batch;
        double kv2 = (double) batch * tokens * 2L * kv * 4 * c.numLayers();
        return new Cost(2 * macs, (double) weightElementsPerPass() * weightBytes + record + kv2);
    }

    /** Forward plus one backward of a recorded batch: saliency, input_x_gradient, the LRP rules (one target each). */
    public Cost gradientMethod(int batch, int tokens) { return forward(batch, tokens).plus(backward(batch, tokens)); }

    /** {@code steps} greedy decode steps of {@code batch} sequences after {@code context} cached positions, per step. */
    public Cost decodeStep(int context, int batch, int steps) {
        Cost sum = Cost.ZERO;
        for (int j = 0; j < steps; j++) sum = sum.plus(forward(java.util.Collections.nCopies(batch, new Seq(context + j, 1, 1))));
        return sum.times(1.0 / steps);
    }

    /**
     * Integrated gradients with k steps on one input of {@code tokens}: the input's forward, the baseline's forward,
     * and k interpolated inputs forward and backward, packed into {@code batches} batches (each batch one forward
     * and one backward pass, so the weights are read 2·batches times).
     */
    public Cost integratedGradients(int tokens, int k, int batches) {
        Cost steps = forward(k, tokens).plus(backward(k, tokens));
        double extraPasses = 2.0 * (Math.max(1, batches) - 1);
        return forward(1, tokens).times(2).plus(steps).plus(new Cost(0, extraPasses * weightBytesPerPass()));
    }

    /**
     * A prompt's forward of {@code prefix} tokens (kept as KV cache) and continuations after it, packed into
     * {@code passes} batched forwards: occlusion (one continuation per left-out word) and the masked-batch flip
     * evaluation (one per masked variant).
     */
    public Cost continuations(int prefix, List<Seq> rests, int passes) {
        Cost first = forward(List.of(new Seq(0, prefix, 1)));
        if (rests.isEmpty()) return first;
        Cost rest = forward(rests).plus(new Cost(0, (Math.max(1, passes) - 1) * weightBytesPerPass()));
        return first.plus(rest);
    }

    /**
     * Weight bytes of one pass: what a batched forward or backward reads at least once. Used to split a pass count
     * off a cost: a method whose sequences were packed into {@code passes} passes reads the weights that many times.
     */
    public double weightBytesPerPass() { return (double) weightElementsPerPass() * weightBytes; }
}
