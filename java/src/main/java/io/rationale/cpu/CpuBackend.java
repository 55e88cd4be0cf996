package io.rationale.cpu;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.LayerWeights;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Lora;
import io.rationale.engine.Model;
import io.rationale.engine.PositionalBackward;
import io.rationale.engine.RopeTables;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;

import java.util.IdentityHashMap;
import java.util.List;

/**
 * The forward pass on the CPU, in f32 with the Vector API and all cores. For a batch: embed all new tokens into
 * one packed {@code [tokens, hidden]} matrix x, then per layer
 * <pre>
 *   xn  = RmsNorm(x)                      (input_layernorm)
 *   q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ (+bias)  (one fused pass)
 *   q,k = RoPE(q,k) at each token's position
 *   append k,v to each sequence's cache; a = attention per sequence and head
 *   x  += a·Woᵀ (+bias)
 *   xn  = RmsNorm(x)                      (post_attention_layernorm)
 *   x  += Mlp(xn)
 * </pre>
 * then the final norm and the LM head on the rows that need logits. With {@link LogitsMode#LAST} (or
 * {@link LogitsMode#NONE} without a record) the last layer computes only keys and values for the rows nothing reads
 * ({@link #lastLayer}; not when attention probabilities are kept). Thread-safe: concurrent calls take turns on the
 * pool.
 *
 * <p>{@link #backward} runs the same steps in reverse from a recorded forward (see {@link Activations}), each step's
 * backward and LRP rules next to its forward: {@link LinearBackward} ({@code dy·W}), {@link Mlp#backward},
 * {@link RmsNorm#backward}, {@link Attention#backward}, {@link Rope#applyInverse}.
 */
public final class CpuBackend implements Backend {
    private final Model model;
    private final Parallel par;
    private final RopeTables rope;

    /**
     * New tokens per batched forward by default. Throughput (tokens/s) peaks at a few hundred packed tokens per
     * forward and falls by about a third at 2048 (the transposed input of the prefill GEMM no longer stays in
     * cache); measured on the benchmark model of {@code FlipEvaluationBench}.
     */
    public static final int FORWARD_BATCH_TOKENS = 512;

    /** A backend on all available processors. */
    public CpuBackend(Model model) {
        this(model, Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(Model model, int threads) {
        this.model = model;
        this.par = new Parallel(threads);
        this.rope = new RopeTables(model.config());
    }

    @Override
    public Model model() { return model; }

    public int threads() { return par.threads(); }

    @Override
    public String device() { return "cpu (" + par.threads() + (par.threads() == 1 ? " thread)" : " threads)"); }

    @Override
    public CpuKvCache newCache() { return new CpuKvCache(model.config()); }

    @Override
    public Activations newRecord(boolean keepAttentionProbs, boolean recompute) { return new Activations(keepAttentionProbs, recompute); }

    @Override
    public int forwardBatchTokens() { return FORWARD_BATCH_TOKENS; }

    /** Half of the heap not in use now. */
    @Override
    public long memoryBudget() {
        Runtime r = Runtime.getRuntime();
        return (r.maxMemory() - (r.totalMemory() - r.freeMemory())) / 2;
    }

    /**
     * A record of one sequence of t tokens, full or checkpointed (sizes documented in {@link Activations}), plus its
     * share of one layer's forward and backward buffers ({@link #backward}).
     */
    @Override
    public long bytesPerRecordedSequence(int t, boolean recompute) {
        ModelConfig c = model.config();
        long h = c.hiddenSize(), q = c.qDim(), kv = c.kvDim(), inter = c.intermediateSize(), layers = c.numLayers();
        long perSeqFixed = 4L * ((h + 1) + c.vocabSize());                       // final-norm rows and last logits
        long perToken = recompute ? 4L * (layers * h + c.headDim()) : 4L * (layers * (2 * h + q + 2 * kv + 2 * inter + 2) + c.headDim());
        long work = 4L * 3 * (4 * h + 2 * q + 2 * kv + 3 * inter) + 4L * c.numHeads() * t;   // one layer's forward/backward buffers
        return perSeqFixed + (long) t * (perToken + work);
    }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> cacheList, ForwardOptions options) {
        ModelConfig c = model.config();
        int seqs = tokens.size();
        if (cacheList != null && cacheList.size() != seqs)
            throw new IllegalArgumentException(seqs + " sequences but " + cacheList.size() + " caches");
        CpuKvCache[] caches = new CpuKvCache[seqs];
        IdentityHashMap<KvCache, Boolean> seen = new IdentityHashMap<>();
        int[] seqStart = new int[seqs + 1];
        int[] past = new int[seqs];
        for (int s = 0; s < seqs; s++) {
            int[] tk = tokens.get(s);
            if (tk.length == 0) throw new IllegalArgumentException("sequence " + s + " has no new tokens");
            for (int id : tk)
                if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("sequence " + s + ": token id " + id + " outside [0, " + c.vocabSize() + ")");
            KvCache given = cacheList == null ? null : cacheList.get(s);
            if (given != null && !(given instanceof CpuKvCache))
                throw new IllegalArgumentException("sequence " + s + ": the KV cache belongs to another backend (" + given.getClass().getSimpleName() + ")");
            CpuKvCache kc = given == null ? newCache() : (CpuKvCache) given;
            if (kc.numLayers() != c.numLayers() || kc.kvHeads() != c.numKvHeads() || kc.headDim() != c.headDim())
                throw new IllegalArgumentException("sequence " + s + ": cache shape does not match the model");
            if (seen.put(kc, Boolean.TRUE) != null) throw new IllegalArgumentException("sequence " + s + " shares its cache object with another sequence");
            caches[s] = kc;
            past[s] = kc.length();
            seqStart[s + 1] = seqStart[s] + tk.length;
        }
        int n = seqStart[seqs];
        int[] ids = new int[n], positions = new int[n];
        for (int s = 0; s < seqs; s++) {
            int[] tk = tokens.get(s);
            System.arraycopy(tk, 0, ids, seqStart[s], tk.length);
            for (int i = 0; i < tk.length; i++) positions[seqStart[s] + i] = past[s] + i;
            caches[s].reserve(past[s] + tk.length);
        }
        float[] x = new float[n * c.hiddenSize()];
        Embedding.lookup(model.embedTokens(), ids, x);
        return run(x, ids, positions, seqStart, caches, past, options);
    }

    @Override
    public Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) {
        ModelConfig c = model.config();
        int seqs = embeddings.size(), hidden = c.hiddenSize();
        int[] seqStart = new int[seqs + 1];
        for (int s = 0; s < seqs; s++) {
            float[] e = embeddings.get(s);
            if (e == null || e.length == 0 || e.length % hidden != 0)
                throw new IllegalArgumentException("sequence " + s + ": embeddings must be a non-empty multiple of hidden size " + hidden
                        + (e == null ? ", got null" : ", got " + e.length + " floats"));
            seqStart[s + 1] = seqStart[s] + e.length / hidden;
        }
        int n = seqStart[seqs];
        float[] x = new float[n * hidden];
        int[] positions = new int[n], past = new int[seqs];
        CpuKvCache[] caches = new CpuKvCache[seqs];
        for (int s = 0; s < seqs; s++) {
            System.arraycopy(embeddings.get(s), 0, x, seqStart[s] * hidden, embeddings.get(s).length);
            for (int t = seqStart[s]; t < seqStart[s + 1]; t++) positions[t] = t - seqStart[s];
            caches[s] = newCache();
            caches[s].reserve(seqStart[s + 1] - seqStart[s]);
        }
        return run(x, null, positions, seqStart, caches, past, options);
    }

    private static Activations record(ForwardRecord r) {
        if (r == null) return null;
        if (!(r instanceof Activations a))
            throw new IllegalArgumentException("the record belongs to another backend (" + r.getClass().getSimpleName() + "): make it with this backend's newRecord");
        return a;
    }

    /** Work arrays of one layer's forward, {@code [tokens, features]}. */
    private static final class Work {
        final float[] xn, q, k, v, attn, proj;

        Work(ModelConfig c, int n) {
            xn = new float[n * c.hiddenSize()];
            q = new float[n * c.qDim()];
            k = new float[n * c.kvDim()];
            v = new float[n * c.kvDim()];
            attn = new float[n * c.qDim()];
            proj = new float[n * c.hiddenSize()];
        }
    }

    private Attention.Shape shape() {
        ModelConfig c = model.config();
        return new Attention.Shape(c.numHeads(), c.numKvHeads(), c.headDim(), c.slidingWindow());
    }

    /** The layers, final norm and LM head from the packed input embeddings x (embedding lookup done). */
    private Logits run(float[] x, int[] ids, int[] positions, int[] seqStart, CpuKvCache[] caches, int[] past, ForwardOptions options) {
        ModelConfig c = model.config();
        LogitsMode mode = options.logits();
        Activations rec = record(options.record());
        int seqs = caches.length, n = seqStart[seqs], hidden = c.hiddenSize();
        int half = c.headDim() / 2;
        AttentionIntervention iv = options.intervention();
        Attention.Steering steering = null;
        if (iv != null) {
            iv.check(c, seqs);
            int[] ctx = new int[seqs];
            for (int s = 0; s < seqs; s++) ctx[s] = past[s] + seqStart[s + 1] - seqStart[s];
            steering = Attention.Steering.of(iv, c.numHeads(), ctx);
        }
        float[] cos = new float[n * half], sin = new float[n * half];
        rope.tables(positions, cos, sin);
        if (rec != null) {
            rec.seqStart = seqStart.clone();
            rec.positions = positions.clone();
            rec.tokens = ids == null ? null : ids.clone();
            rec.embeddings = x.clone();
            rec.layers.clear();
            rec.prefix = null;
            for (int s = 0; s < seqs; s++)
                if (past[s] > 0) {                            // the cached prefix: constants of the backward
                    if (rec.prefix == null) rec.prefix = new CpuKvCache[seqs];
                    rec.prefix[s] = caches[s].forkPrefix(past[s]);
                }
        }

        Work work = new Work(c, n);
        for (int l = 0; l < model.numLayers(); l++) {
            Activations.Layer lr = null;
            if (rec != null) {
                lr = new Activations.Layer();
                lr.input = l == 0 ? rec.embeddings : x.clone();
                lr.ropeCos = cos;
                lr.ropeSin = sin;
            }
            float[][] probs = null;
            if (lr != null && rec.keepAttentionProbs) {
                probs = new float[seqs][];
                for (int s = 0; s < seqs; s++) {
                    int ns = seqStart[s + 1] - seqStart[s];
                    probs[s] = new float[c.numHeads() * ns * (past[s] + ns)];
                }
                lr.attnProbs = probs;
            }
            boolean top = l == model.numLayers() - 1 && (mode == LogitsMode.NONE && rec == null || mode == LogitsMode.LAST && n > seqs);
            Attention.Steering st = steering != null && iv.atLayer(l) ? steering : null;
            if (top && (rec == null || !rec.keepAttentionProbs))
                lastLayer(l, model.layer(l), l, caches, past, seqStart, x, cos, sin, work, mode == LogitsMode.LAST, rec == null || rec.recompute ? null : lr, st);
            else
                layer(l, model.layer(l), l, caches, past, seqStart, x, cos, sin, work, probs, rec == null || rec.recompute ? null : lr, false, st);
            if (rec != null) rec.layers.add(lr);
        }
        for (int s = 0; s < seqs; s++) caches[s].setLength(past[s] + seqStart[s + 1] - seqStart[s]);

        // final norm and LM head, only on the rows that get logits
        int[] firstRow = new int[seqs + 1];
        int[] rows;
        if (mode == LogitsMode.NONE) {
            rows = new int[0];
        } else if (mode == LogitsMode.LAST) {
            rows = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                rows[s] = seqStart[s + 1] - 1;
                firstRow[s + 1] = s + 1;
            }
        } else {
            rows = new int[n];
            for (int t = 0; t < n; t++) rows[t] = t;
            System.arraycopy(seqStart, 0, firstRow, 0, seqs + 1);
        }
        int m = rows.length, vocab = c.vocabSize();
        float[] last = new float[m * hidden];
        for (int r = 0; r < m; r++) System.arraycopy(x, rows[r] * hidden, last, r * hidden, hidden);
        float[] normed = new float[m * hidden];
        float[] inv = RmsNorm.forward(last, m, hidden, model.finalNorm(), c.rmsNormEps(), normed);
        float[] logits = new float[m * vocab];
        if (m > 0) MatMul.linear(par, normed, m, hidden, new MatMul.Out(model.lmHead(), null, logits));
        if (rec != null) {
            rec.finalNormInput = last;
            rec.finalInvRms = inv;
            rec.logitRows = rows;
            rec.lastLogits = null;
            if (m > 0) {
                rec.lastLogits = new float[seqs][];
                for (int s = 0; s < seqs; s++) {
                    int row = firstRow[s + 1] - 1;
                    rec.lastLogits[s] = java.util.Arrays.copyOfRange(logits, row * vocab, (row + 1) * vocab);
                }
            }
        }
        return new Logits(vocab, logits, firstRow);
    }

    /**
     * One decoder layer on the packed residual stream x, in place. {@code lr}: null, or where to keep the layer's
     * internals (copies, except with {@code recomputing}, which keeps the work arrays themselves and stops after the
     * gate and up projections: all a backward pass needs; x then holds the mid residual stream).
     */
    private void layer(int l, LayerWeights w, int cacheLayer, CpuKvCache[] caches, int[] past, int[] seqStart, float[] x,
                       float[] cos, float[] sin, Work b, float[][] probs, Activations.Layer lr, boolean recomputing,
                       Attention.Steering steer) {
        ModelConfig c = model.config();
        int n = seqStart[caches.length], hidden = c.hiddenSize();
        float[] inv = RmsNorm.forward(x, n, hidden, w.inputNorm(), c.rmsNormEps(), b.xn);
        MatMul.linear(par, b.xn, n, hidden,
                new MatMul.Out(w.q(), w.qBias(), b.q), new MatMul.Out(w.k(), w.kBias(), b.k), new MatMul.Out(w.v(), w.vBias(), b.v));
        Lora lora = model.lora();
        if (lora != null) {
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.Q), b.xn, n, b.q);
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.K), b.xn, n, b.k);
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.V), b.xn, n, b.v);
        }
        Rope.apply(b.q, n, c.numHeads(), c.headDim(), cos, sin);
        Rope.apply(b.k, n, c.numKvHeads(), c.headDim(), cos, sin);
        Attention.Shape shape = shape();
        Attention.append(cacheLayer, shape, b.k, b.v, seqStart, caches, past);
        Attention.forward(par, cacheLayer, shape, b.q, seqStart, caches, past, b.attn, probs, steer);
        if (lr != null) {
            lr.attnInvRms = inv;
            lr.q = recomputing ? b.q : b.q.clone();
            lr.k = recomputing ? b.k : b.k.clone();
            lr.v = recomputing ? b.v : b.v.clone();
            if (lora != null && lora.has(l, Lora.Projection.O)) lr.attn = recomputing ? b.attn : b.attn.clone();
        }
        MatMul.linear(par, b.attn, n, c.qDim(), new MatMul.Out(w.o(), w.oBias(), b.proj));
        if (lora != null) LoraBranch.forward(par, lora.modules(l, Lora.Projection.O), b.attn, n, b.proj);
        add(x, b.proj, n * hidden);
        if (lr != null) lr.mid = recomputing ? x : x.clone();

        inv = RmsNorm.forward(x, n, hidden, w.postAttentionNorm(), c.rmsNormEps(), b.xn);
        if (recomputing) {                                   // what Mlp.forward computes first, nothing more
            int inter = w.gate().rows();
            lr.mlpInvRms = inv;
            lr.gate = new float[n * inter];
            lr.up = new float[n * inter];
            MatMul.linear(par, b.xn, n, hidden, new MatMul.Out(w.gate(), w.gateBias(), lr.gate), new MatMul.Out(w.up(), w.upBias(), lr.up));
            if (lora != null) {
                LoraBranch.forward(par, lora.modules(l, Lora.Projection.GATE), b.xn, n, lr.gate);
                LoraBranch.forward(par, lora.modules(l, Lora.Projection.UP), b.xn, n, lr.up);
            }
            return;
        }
        Mlp.Saved mlp = Mlp.forward(par, b.xn, n, hidden, w, lora, l, b.proj);
        add(x, b.proj, n * hidden);
        if (lr != null) {
            lr.mlpInvRms = inv;
            lr.gate = mlp.gate();
            lr.up = mlp.up();
        }
    }

    /**
     * The last layer when nothing reads its output but each sequence's last row (or nothing: {@code lastRows}
     * false, a prefill): keys and values of every row go to the caches as in {@link #layer}; the queries, attention,
     * o_proj and MLP run on the last rows only. The other rows of x keep the layer's input. {@code lr}: null, or
     * where to keep what the backward needs ({@link Activations.Layer#rows}; not with recomputation or probabilities).
     */
    private void lastLayer(int l, LayerWeights w, int cacheLayer, CpuKvCache[] caches, int[] past, int[] seqStart, float[] x,
                           float[] cos, float[] sin, Work b, boolean lastRows, Activations.Layer lr, Attention.Steering steer) {
        ModelConfig c = model.config();
        int seqs = caches.length, n = seqStart[seqs], hidden = c.hiddenSize(), half = c.headDim() / 2, Q = c.qDim();
        float[] inv = RmsNorm.forward(x, n, hidden, w.inputNorm(), c.rmsNormEps(), b.xn);
        MatMul.linear(par, b.xn, n, hidden, new MatMul.Out(w.k(), w.kBias(), b.k), new MatMul.Out(w.v(), w.vBias(), b.v));
        Lora lora = model.lora();
        if (lora != null) {
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.K), b.xn, n, b.k);
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.V), b.xn, n, b.v);
        }
        Rope.apply(b.k, n, c.numKvHeads(), c.headDim(), cos, sin);
        Attention.Shape shape = shape();
        Attention.append(cacheLayer, shape, b.k, b.v, seqStart, caches, past);
        if (!lastRows) return;

        // row s of the gathered arrays is sequence s's last token: one query per sequence at position past + n_s − 1
        int[] rows = new int[seqs];
        float[] xs = new float[seqs * hidden], xn = new float[seqs * hidden], cs = new float[seqs * half], sn = new float[seqs * half];
        int[] one = new int[seqs + 1], at = new int[seqs];
        for (int s = 0; s < seqs; s++) {
            int t = rows[s] = seqStart[s + 1] - 1;
            System.arraycopy(x, t * hidden, xs, s * hidden, hidden);
            System.arraycopy(b.xn, t * hidden, xn, s * hidden, hidden);
            System.arraycopy(cos, t * half, cs, s * half, half);
            System.arraycopy(sin, t * half, sn, s * half, half);
            one[s + 1] = s + 1;
            at[s] = past[s] + t - seqStart[s];
        }
        MatMul.linear(par, xn, seqs, hidden, new MatMul.Out(w.q(), w.qBias(), b.q));
        if (lora != null) LoraBranch.forward(par, lora.modules(l, Lora.Projection.Q), xn, seqs, b.q);
        Rope.apply(b.q, seqs, c.numHeads(), c.headDim(), cs, sn);
        Attention.forward(par, cacheLayer, shape, b.q, one, caches, at, b.attn, null, steer);
        if (lr != null) {
            lr.rows = rows;
            lr.attnInvRms = inv;
            lr.k = b.k.clone();
            lr.v = b.v.clone();
            lr.q = new float[n * Q];                        // at the packed rows, as Attention.backward reads them
            for (int s = 0; s < seqs; s++) System.arraycopy(b.q, s * Q, lr.q, rows[s] * Q, Q);
        }
        MatMul.linear(par, b.attn, seqs, Q, new MatMul.Out(w.o(), w.oBias(), b.proj));
        if (lora != null) {
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.O), b.attn, seqs, b.proj);
            if (lr != null && lora.has(l, Lora.Projection.O)) lr.attn = java.util.Arrays.copyOf(b.attn, seqs * Q);
        }
        add(xs, b.proj, seqs * hidden);
        if (lr != null) lr.mid = xs.clone();
        inv = RmsNorm.forward(xs, seqs, hidden, w.postAttentionNorm(), c.rmsNormEps(), xn);
        Mlp.Saved mlp = Mlp.forward(par, xn, seqs, hidden, w, lora, l, b.proj);
        add(xs, b.proj, seqs * hidden);
        for (int s = 0; s < seqs; s++) System.arraycopy(xs, s * hidden, x, rows[s] * hidden, hidden);
        if (lr != null) {
            lr.mlpInvRms = inv;
            lr.gate = mlp.gate();
            lr.up = mlp.up();
        }
    }

    // ---------------------------------------------------------------- backward

    /**
     * {@inheritDoc}
     *
     * <p>Steps, each in the layer's own class: the target's gradient of the last logits, {@code dy·W} through the LM
     * head ({@link LinearBackward}), the final norm's backward on each sequence's last row (all other rows start at
     * zero), then per layer in reverse: {@link Mlp#backward} (down, gate product rule, gate/up), post-attention
     * {@link RmsNorm#backward} added to the residual gradient, o_proj, {@link Attention#backward} (softmax, GQA,
     * masks, q/k/v rules), {@link Rope#applyInverse} on dq and dk, q/k/v projections, input {@link RmsNorm#backward}
     * added to the residual gradient.
     *
     * <p>Memory besides the record (notation of {@link Activations}; T threads): gradient buffers
     * {@code 4·n·(2H + 2Q + 2K + 2I)} bytes (dx, d normed, d attention output, dq, dk, dv, d act, d gate), the seed
     * {@code 4·S·(V + 3H + 1)}, the returned gradients {@code 4·n·H}, per-thread scratch
     * {@code 4·T·(LinearBackward.KC·LinearBackward.CB + 2·max n_s)}; with {@link Activations#recompute} also one
     * layer's recomputed internals {@code 4·n·(3H + 2Q + 2K + 2I)} (x, normed, o_proj output, q, attention output, k,
     * v, gate, up; the previous layer's gate and up become garbage) and throwaway single-layer KV caches
     * {@code 4·2K·64·⌈n_s/64⌉} per sequence. So a checkpointed record plus its backward pass peaks at
     * {@code 4·[L·n·H + r·(H+1) + n·headDim + S·V] + 4·n·(6H + 4Q + 4K + 4I) + O(S·V + T·KC·CB + K·n)} bytes:
     * linear in layers·tokens·hidden plus one layer's internals.
     */
    @Override
    public float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) {
        return backward(record, targets, mode, null, null);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The record keeps a fork of each sequence's cache at its prefix ({@link Activations#prefix}); the backward is
     * the same pass with the prefix's length as each sequence's {@code past}: RoPE at the recorded positions, and
     * {@link Attention#backward} over the prefix's keys and values (from the fork's blocks, constants) and the
     * recorded ones; a checkpointed record's recomputation attends to the same prefix.
     */
    @Override
    public boolean supportsPrefixRecord() { return true; }

    @Override
    public boolean supportsPositionalRelevance() { return true; }

    /**
     * {@inheritDoc}
     *
     * <p>The pass of {@link #backward(ForwardRecord, List, RuleMode)}; at each layer, between
     * {@link Attention#backward} and RoPE's backward, {@link Rope#positionalRelevance} reads the gradients of q and k
     * after RoPE and the recorded rotated q and k.
     */
    @Override
    public PositionalBackward backwardWithPositions(ForwardRecord record, List<Target> targets, RuleMode mode) {
        if (mode == null) throw new IllegalArgumentException("no rule mode");
        if (!mode.rules().positionalRelevance())
            throw new IllegalArgumentException("positional relevance needs a rule mode that treats RoPE's cos and sin as inputs (pe_lrp), not " + mode.cliName());
        Activations rec = record(record);
        if (rec == null || rec.seqStart == null) throw new IllegalArgumentException("the record was not filled by a forward pass");
        int n = rec.numTokens(), layers = model.numLayers();
        double[][] cos = new double[layers][n], sin = new double[layers][n];
        float[][] g = backward(record, targets, mode, cos, sin);
        int seqs = rec.numSequences();
        double[][][] cs = new double[seqs][layers][], ss = new double[seqs][layers][];
        for (int s = 0; s < seqs; s++)
            for (int l = 0; l < layers; l++) {
                cs[s][l] = java.util.Arrays.copyOfRange(cos[l], rec.seqStart[s], rec.seqStart[s + 1]);
                ss[s][l] = java.util.Arrays.copyOfRange(sin[l], rec.seqStart[s], rec.seqStart[s + 1]);
            }
        return new PositionalBackward(g, cs, ss);
    }

    @Override
    public boolean supportsLoraGradients() { return true; }

    /**
     * {@inheritDoc}
     *
     * <p>The pass of {@link #backward(ForwardRecord, List, RuleMode)} under {@link RuleMode#GRADIENT}; at each targeted
     * projection {@link LoraBranch#weightGrad} reads the projection's input (q, k, v, gate, up: the norm of the recorded
     * residual stream, recomputed; o: the recorded attention output {@link Activations.Layer#attn}; down: silu(gate)·up,
     * recomputed) and its output gradient as the pass computes it.
     */
    @Override
    public void backwardLora(ForwardRecord record, List<float[]> logitGradients, Lora.Gradients grads) {
        if (model.lora() == null) throw new IllegalArgumentException("the model has no unmerged LoRA adapter");
        if (grads == null) throw new IllegalArgumentException("no gradient buffers");
        Activations rec = checked(record, logitGradients.size());
        int seqs = rec.numSequences(), V = model.config().vocabSize();
        float[] dLogits = new float[seqs * V];
        for (int s = 0; s < seqs; s++) {
            float[] g = logitGradients.get(s);
            if (g == null || g.length != V) throw new IllegalArgumentException("sequence " + s + ": the logit gradient must hold " + V + " values");
            System.arraycopy(g, 0, dLogits, s * V, V);
        }
        backward(rec, dLogits, RuleMode.GRADIENT, null, null, grads);
    }

    /** A record this model's backward can read, for {@code seqs} seeds. */
    private Activations checked(ForwardRecord record, int seeds) {
        ModelConfig c = model.config();
        Activations rec = record(record);
        if (rec == null || rec.seqStart == null) throw new IllegalArgumentException("the record was not filled by a forward pass");
        int seqs = rec.numSequences(), n = rec.numTokens(), H = c.hiddenSize();
        if (rec.layers.size() != model.numLayers() || rec.embeddings.length != n * H)
            throw new IllegalArgumentException("the record does not come from this model");
        if (rec.lastLogits == null) throw new IllegalArgumentException("the record has no logits: record with LogitsMode.LAST or ALL");
        if (seeds != seqs) throw new IllegalArgumentException(seqs + " sequences but " + seeds + " targets");
        for (int s = 0; s < seqs; s++)
            if (rec.positions[rec.seqStart[s]] != rec.prefixLength(s))
                throw new IllegalStateException("sequence " + s + " starts at position " + rec.positions[rec.seqStart[s]]
                        + " but its recorded prefix holds " + rec.prefixLength(s));
        return rec;
    }

    /** The backward pass; {@code posCos, posSin}: null, or {@code [layers][tokens]} that receive positional relevance. */
    private float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode, double[][] posCos, double[][] posSin) {
        if (mode == null) throw new IllegalArgumentException("no rule mode");
        Activations rec = checked(record, targets.size());
        int seqs = rec.numSequences(), V = model.config().vocabSize();
        float[] dLogits = new float[seqs * V];
        for (int s = 0; s < seqs; s++) {
            Target t = targets.get(s);
            if (t == null) throw new IllegalArgumentException("sequence " + s + " has no target");
            System.arraycopy(t.gradient(rec.lastLogits[s]), 0, dLogits, s * V, V);
        }
        return backward(rec, dLogits, mode, posCos, posSin, null);
    }

    /**
     * The backward pass from the gradients of each sequence's last logits ({@code [seqs·vocab]}); {@code grads}: null,
     * or where the unmerged adapter's weight gradients go.
     */
    private float[][] backward(Activations rec, float[] dLogits, RuleMode mode, double[][] posCos, double[][] posSin, Lora.Gradients grads) {
        ModelConfig c = model.config();
        int seqs = rec.numSequences(), n = rec.numTokens(), H = c.hiddenSize();
        int[] seqStart = rec.seqStart;
        Lora lora = model.lora();

        // LM head and final norm: seeds at each sequence's last row
        float[] dNormed = new float[seqs * H];
        LinearBackward.inputGrad(par, dNormed, seqs, H, false, new LinearBackward.Term(model.lmHead(), dLogits));
        int[] lastRow = new int[seqs];                       // row of rec.finalNormInput holding each sequence's last token
        for (int s = 0; s < seqs; s++) {
            int tok = seqStart[s + 1] - 1;
            lastRow[s] = rec.logitRows.length == seqs && rec.logitRows[s] == tok ? s : tok;
            if (rec.logitRows[lastRow[s]] != tok) throw new IllegalStateException("no final-norm row for sequence " + s);
        }
        float[] xs = new float[seqs * H], invs = new float[seqs], dLast = new float[seqs * H];
        for (int s = 0; s < seqs; s++) {
            System.arraycopy(rec.finalNormInput, lastRow[s] * H, xs, s * H, H);
            invs[s] = rec.finalInvRms[lastRow[s]];
        }
        RmsNorm.backward(mode, xs, invs, seqs, H, model.finalNorm(), dNormed, dLast, false);
        float[] dx = new float[n * H];
        for (int s = 0; s < seqs; s++) System.arraycopy(dLast, s * H, dx, (seqStart[s + 1] - 1) * H, H);

        // layers in reverse
        int Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
        float[] dXn = new float[n * H], dAttn = new float[n * Q], dq = new float[n * Q], dk = new float[n * K], dv = new float[n * K];
        float[] dAct = new float[n * I], dGate = new float[n * I];
        Recompute re = rec.recompute ? new Recompute(rec) : null;
        Attention.Shape shape = shape();
        for (int l = model.numLayers() - 1; l >= 0; l--) {
            LayerWeights w = model.layer(l);
            Activations.Layer lr = re == null ? rec.layers.get(l) : re.layer(l);
            if (lr.rows != null) {
                lastLayerBackward(l, w, mode, lr, rec.prefix, seqStart, dx, dXn, dAttn, dq, dk, dv, dAct, dGate,
                        posCos == null ? null : posCos[l], posSin == null ? null : posSin[l], grads);
                continue;
            }
            // x_out = mid + mlp(norm(mid))
            float[] xnMlp = grads != null && (lora.has(l, Lora.Projection.GATE) || lora.has(l, Lora.Projection.UP))
                    ? normed(lr.mid, n, w.postAttentionNorm()) : null;
            Mlp.backward(par, mode, w, lora, l, grads, xnMlp, lr.gate, lr.up, n, H, dx, dAct, dGate, dXn);
            RmsNorm.backward(mode, lr.mid, lr.mlpInvRms, n, H, w.postAttentionNorm(), dXn, dx, true);
            // mid = input + o(attention(rope(q), rope(k), v)) with q, k, v projections of norm(input)
            LinearBackward.inputGrad(par, dAttn, n, Q, false, new LinearBackward.Term(w.o(), dx));
            if (lora != null) loraBranch(lora.modules(l, Lora.Projection.O), lr.attn, dx, n, dAttn, grads);
            Attention.backward(par, shape, mode, lr.q, lr.k, lr.v, seqStart, rec.prefix, l, null, dAttn, dq, dk, dv);
            ropeBackward(mode, lr, n, dq, dk, posCos == null ? null : posCos[l], posSin == null ? null : posSin[l]);
            if (mode.rules().stopGradientQK())              // dq and dk are zero
                LinearBackward.inputGrad(par, dXn, n, H, false, new LinearBackward.Term(w.v(), dv));
            else
                LinearBackward.inputGrad(par, dXn, n, H, false, new LinearBackward.Term(w.q(), dq),
                        new LinearBackward.Term(w.k(), dk), new LinearBackward.Term(w.v(), dv));
            if (lora != null) {
                float[] xn = grads != null && (lora.has(l, Lora.Projection.Q) || lora.has(l, Lora.Projection.K) || lora.has(l, Lora.Projection.V))
                        ? normed(lr.input, n, w.inputNorm()) : null;
                if (!mode.rules().stopGradientQK()) {
                    loraBranch(lora.modules(l, Lora.Projection.Q), xn, dq, n, dXn, grads);
                    loraBranch(lora.modules(l, Lora.Projection.K), xn, dk, n, dXn, grads);
                }
                loraBranch(lora.modules(l, Lora.Projection.V), xn, dv, n, dXn, grads);
            }
            RmsNorm.backward(mode, lr.input, lr.attnInvRms, n, H, w.inputNorm(), dXn, dx, true);
        }
        float[][] out = new float[seqs][];
        for (int s = 0; s < seqs; s++) out[s] = java.util.Arrays.copyOfRange(dx, seqStart[s] * H, seqStart[s + 1] * H);
        return out;
    }

    /**
     * Backward of {@link #lastLayer}'s record: dx (the gradient of the layer's output, nonzero only at
     * {@code lr.rows}) becomes the gradient of its input. The MLP, post-attention norm, o_proj and q_proj backward
     * run on those rows; attention on their queries; k_proj, v_proj and the input norm on every row.
     */
    private void lastLayerBackward(int l, LayerWeights w, RuleMode mode, Activations.Layer lr, CpuKvCache[] prefix, int[] seqStart, float[] dx, float[] dXn,
                                   float[] dAttn, float[] dq, float[] dk, float[] dv, float[] dAct, float[] dGate,
                                   double[] posCos, double[] posSin, Lora.Gradients grads) {
        ModelConfig c = model.config();
        Lora lora = model.lora();
        int[] rows = lr.rows;
        int m = rows.length, n = seqStart[seqStart.length - 1], H = c.hiddenSize(), Q = c.qDim();
        float[] dm = new float[m * H], dn = new float[m * H], da = new float[m * Q];
        for (int r = 0; r < m; r++) System.arraycopy(dx, rows[r] * H, dm, r * H, H);
        float[] xnMlp = grads != null && (lora.has(l, Lora.Projection.GATE) || lora.has(l, Lora.Projection.UP))
                ? normed(lr.mid, m, w.postAttentionNorm()) : null;
        Mlp.backward(par, mode, w, lora, l, grads, xnMlp, lr.gate, lr.up, m, H, dm, dAct, dGate, dn);
        RmsNorm.backward(mode, lr.mid, lr.mlpInvRms, m, H, w.postAttentionNorm(), dn, dm, true);
        LinearBackward.inputGrad(par, da, m, Q, false, new LinearBackward.Term(w.o(), dm));
        if (lora != null) loraBranch(lora.modules(l, Lora.Projection.O), lr.attn, dm, m, da, grads);
        java.util.Arrays.fill(dAttn, 0, n * Q, 0f);
        int[] from = new int[rows.length];
        for (int r = 0; r < m; r++) {
            System.arraycopy(da, r * Q, dAttn, rows[r] * Q, Q);
            from[r] = rows[r] - seqStart[r];
        }
        Attention.backward(par, shape(), mode, lr.q, lr.k, lr.v, seqStart, prefix, l, from, dAttn, dq, dk, dv);
        ropeBackward(mode, lr, n, dq, dk, posCos, posSin);   // rows without a query have q and dq zero
        LinearBackward.inputGrad(par, dXn, n, H, false, new LinearBackward.Term(w.k(), dk), new LinearBackward.Term(w.v(), dv));
        float[] xn = lora != null && grads != null && (lora.has(l, Lora.Projection.Q) || lora.has(l, Lora.Projection.K) || lora.has(l, Lora.Projection.V))
                ? normed(lr.input, n, w.inputNorm()) : null;
        if (lora != null) {
            if (!mode.rules().stopGradientQK()) loraBranch(lora.modules(l, Lora.Projection.K), xn, dk, n, dXn, grads);
            loraBranch(lora.modules(l, Lora.Projection.V), xn, dv, n, dXn, grads);
        }
        if (!mode.rules().stopGradientQK()) {                // else dq is zero
            for (int r = 0; r < m; r++) System.arraycopy(dq, rows[r] * Q, da, r * Q, Q);
            LinearBackward.inputGrad(par, dn, m, H, false, new LinearBackward.Term(w.q(), da));
            if (lora != null) {
                float[] xq = null;
                if (xn != null) {
                    xq = new float[m * H];
                    for (int r = 0; r < m; r++) System.arraycopy(xn, rows[r] * H, xq, r * H, H);
                }
                loraBranch(lora.modules(l, Lora.Projection.Q), xq, da, m, dn, grads);
            }
            for (int r = 0; r < m; r++) for (int d = 0; d < H; d++) dXn[rows[r] * H + d] += dn[r * H + d];
        }
        // the residual: d input = d mid at the last rows (zero elsewhere), plus the input norm's backward
        java.util.Arrays.fill(dx, 0, n * H, 0f);
        for (int r = 0; r < m; r++) System.arraycopy(dm, r * H, dx, rows[r] * H, H);
        RmsNorm.backward(mode, lr.input, lr.attnInvRms, n, H, w.inputNorm(), dXn, dx, true);
    }

    /**
     * RoPE's backward on dq and dk (gradients after RoPE on entry, before it on return) under {@code mode}'s share
     * of its products; with {@code posCos} (PE-LRP) first the relevance of the cos and sin factors of each token.
     */
    private void ropeBackward(RuleMode mode, Activations.Layer lr, int n, float[] dq, float[] dk, double[] posCos, double[] posSin) {
        ModelConfig c = model.config();
        float share = mode.rules().ropeProductShare();
        if (posCos != null) {
            Rope.positionalRelevance(share, lr.q, dq, n, c.numHeads(), c.headDim(), lr.ropeCos, lr.ropeSin, posCos, posSin);
            Rope.positionalRelevance(share, lr.k, dk, n, c.numKvHeads(), c.headDim(), lr.ropeCos, lr.ropeSin, posCos, posSin);
        }
        Rope.backward(share, dq, n, c.numHeads(), c.headDim(), lr.ropeCos, lr.ropeSin);
        Rope.backward(share, dk, n, c.numKvHeads(), c.headDim(), lr.ropeCos, lr.ropeSin);
    }

    /**
     * The LoRA modules of one projection in the backward pass: their input gradient {@code dx += Σ scale·(dy·B)·A};
     * with {@code grads}, their weight gradients from the projection's input x (which must then be given).
     */
    private void loraBranch(List<Lora.Module> mods, float[] x, float[] dy, int n, float[] dx, Lora.Gradients grads) {
        if (mods.isEmpty()) return;
        LoraBranch.inputGrad(par, mods, dy, n, dx);
        if (grads != null) {
            if (x == null) throw new IllegalStateException("the record lacks the input of " + mods.get(0).name());
            LoraBranch.weightGrad(par, mods, x, dy, n, grads);
        }
    }

    /** RmsNorm of n rows of x with weight w, as the forward computed it. */
    private float[] normed(float[] x, int n, float[] w) {
        ModelConfig c = model.config();
        float[] out = new float[n * c.hiddenSize()];
        RmsNorm.forward(x, n, c.hiddenSize(), w, c.rmsNormEps(), out);
        return out;
    }

    /**
     * Recomputes one layer's internals at a time from its recorded input (checkpointed records): single-layer
     * throwaway caches, holding the layer's keys and values of the recorded prefix when there is one.
     */
    private final class Recompute {
        final Activations rec;
        final Work work;
        final float[] x;
        final CpuKvCache[] caches;
        final int[] past;

        Recompute(Activations rec) {
            ModelConfig c = model.config();
            this.rec = rec;
            int seqs = rec.numSequences(), n = rec.numTokens();
            work = new Work(c, n);
            x = new float[n * c.hiddenSize()];
            caches = new CpuKvCache[seqs];
            past = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                past[s] = rec.prefixLength(s);
                if (past[s] > 0) continue;                    // per layer, see layer(l)
                caches[s] = new CpuKvCache(1, c.numKvHeads(), c.headDim());
                caches[s].reserve(rec.seqStart[s + 1] - rec.seqStart[s]);
            }
        }

        /** Layer l's internals, in arrays reused by the next call. */
        Activations.Layer layer(int l) {
            Activations.Layer saved = rec.layers.get(l), lr = new Activations.Layer();
            for (int s = 0; s < caches.length; s++)
                if (past[s] > 0) {
                    caches[s] = rec.prefix[s].forkLayer(l);
                    caches[s].reserve(past[s] + rec.seqStart[s + 1] - rec.seqStart[s]);
                }
            System.arraycopy(saved.input, 0, x, 0, x.length);
            lr.input = saved.input;
            lr.ropeCos = saved.ropeCos;
            lr.ropeSin = saved.ropeSin;
            CpuBackend.this.layer(l, model.layer(l), 0, caches, past, rec.seqStart, x, saved.ropeCos, saved.ropeSin, work, null, lr, true, null);
            return lr;
        }
    }

    private static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }

    @Override
    public void close() { par.close(); }
}
