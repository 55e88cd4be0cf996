package io.rationale.cpu;

import io.rationale.engine.Activations;
import io.rationale.engine.Backend;
import io.rationale.engine.KvCache;
import io.rationale.engine.LayerWeights;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;

import java.util.IdentityHashMap;
import java.util.List;

/**
 * The forward pass on the CPU, in f32 with the Vector API and all cores. For a batch: embed all new tokens into
 * one packed {@code [tokens, hidden]} matrix x, then per layer
 * <pre>
 *   xn  = RmsNorm(x)                        (input_layernorm)
 *   q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ (+bias)   (one fused pass)
 *   q,k = RoPE(q,k) at each token's position
 *   append k,v to each sequence's cache; a = attention per sequence and head
 *   x  += a·Woᵀ (+bias)
 *   xn  = RmsNorm(x)                        (post_attention_layernorm)
 *   x  += Mlp(xn)
 * </pre>
 * then the final norm and the LM head on the rows that need logits. Thread-safe: concurrent calls take turns on
 * the pool.
 */
public final class CpuBackend implements Backend {
    private final Model model;
    private final ModelConfig c;
    private final Parallel par;
    private final Rope rope;
    private final Attention.Shape shape;

    /** A backend on all available processors. */
    public CpuBackend(Model model) {
        this(model, Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(Model model, int threads) {
        this.model = model;
        this.c = model.config();
        this.par = new Parallel(threads);
        this.rope = new Rope(c);
        this.shape = new Attention.Shape(c.numHeads(), c.numKvHeads(), c.headDim(), c.slidingWindow());
    }

    @Override
    public Model model() { return model; }

    public int threads() { return par.threads(); }

    /** The packed batch: sequence s owns rows [seqStart[s], seqStart[s+1]) and continues after past[s] cached positions. */
    private record Batch(int n, int[] ids, int[] positions, int[] seqStart, int[] past, KvCache[] caches) {
        int sequences() { return caches.length; }

        int newTokens(int s) { return seqStart[s + 1] - seqStart[s]; }
    }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> caches, LogitsMode mode, Activations rec) {
        Batch b = pack(tokens, caches);
        int n = b.n, hidden = c.hiddenSize();
        float[] x = new float[n * hidden];
        Embedding.lookup(model.embedTokens(), b.ids, x);
        float[] cos = new float[n * c.headDim() / 2], sin = new float[n * c.headDim() / 2];
        rope.tables(b.positions, cos, sin);
        if (rec != null) {
            rec.seqStart = b.seqStart.clone();
            rec.positions = b.positions.clone();
            rec.tokens = b.ids.clone();
            rec.embeddings = x.clone();
        }
        for (int l = 0; l < model.numLayers(); l++) {
            Activations.Layer lr = rec == null ? null : new Activations.Layer();
            attentionBlock(l, b, x, cos, sin, lr, rec != null && rec.keepAttentionProbs);
            mlpBlock(l, b, x, lr);
            if (rec != null) rec.layers.add(lr);
        }
        for (int s = 0; s < b.sequences(); s++) b.caches[s].setLength(b.past[s] + b.newTokens(s));
        return logits(b, x, mode, rec);
    }

    /** Validates the batch, packs its tokens and reserves cache room. */
    private Batch pack(List<int[]> tokens, List<KvCache> cacheList) {
        int seqs = tokens.size();
        if (cacheList != null && cacheList.size() != seqs)
            throw new IllegalArgumentException(seqs + " sequences but " + cacheList.size() + " caches");
        KvCache[] caches = new KvCache[seqs];
        IdentityHashMap<KvCache, Boolean> seen = new IdentityHashMap<>();
        int[] seqStart = new int[seqs + 1], past = new int[seqs];
        for (int s = 0; s < seqs; s++) {
            int[] tk = tokens.get(s);
            if (tk.length == 0) throw new IllegalArgumentException("sequence " + s + " has no new tokens");
            for (int id : tk)
                if (id < 0 || id >= c.vocabSize())
                    throw new IllegalArgumentException("sequence " + s + ": token id " + id + " outside [0, " + c.vocabSize() + ")");
            KvCache kc = cacheList == null ? null : cacheList.get(s);
            if (kc == null) kc = newCache();
            if (kc.numLayers() != c.numLayers() || kc.kvHeads() != c.numKvHeads() || kc.headDim() != c.headDim())
                throw new IllegalArgumentException("sequence " + s + ": cache shape does not match the model");
            if (seen.put(kc, Boolean.TRUE) != null)
                throw new IllegalArgumentException("sequence " + s + " shares its cache object with another sequence");
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
        return new Batch(n, ids, positions, seqStart, past, caches);
    }

    /** x += o_proj(attention(RoPE(q), RoPE(k), v)) with q, k, v projections of input_layernorm(x). */
    private void attentionBlock(int l, Batch b, float[] x, float[] cos, float[] sin, Activations.Layer lr, boolean keepProbs) {
        LayerWeights w = model.layer(l);
        int n = b.n, hidden = c.hiddenSize();
        if (lr != null) lr.input = x.clone();
        float[] xn = new float[n * hidden];
        float[] invRms = RmsNorm.forward(x, n, hidden, w.inputNorm(), c.rmsNormEps(), xn);
        float[] q = new float[n * c.qDim()], k = new float[n * c.kvDim()], v = new float[n * c.kvDim()];
        MatMul.linear(par, xn, n, hidden,
                new MatMul.Out(w.q(), w.qBias(), q), new MatMul.Out(w.k(), w.kBias(), k), new MatMul.Out(w.v(), w.vBias(), v));
        Rope.apply(q, n, c.numHeads(), c.headDim(), cos, sin);
        Rope.apply(k, n, c.numKvHeads(), c.headDim(), cos, sin);
        Attention.append(l, shape, k, v, b.seqStart, b.caches, b.past);
        float[][] probs = null;
        if (keepProbs) {
            probs = new float[b.sequences()][];
            for (int s = 0; s < b.sequences(); s++) probs[s] = new float[c.numHeads() * b.newTokens(s) * (b.past[s] + b.newTokens(s))];
        }
        float[] attn = new float[n * c.qDim()];
        Attention.forward(par, l, shape, q, b.seqStart, b.caches, b.past, attn, probs);
        float[] o = new float[n * hidden];
        MatMul.linear(par, attn, n, c.qDim(), new MatMul.Out(w.o(), w.oBias(), o));
        add(x, o);
        if (lr != null) {
            lr.attnInvRms = invRms;
            lr.attnNormed = xn;
            lr.q = q;
            lr.k = k;
            lr.v = v;
            lr.ropeCos = cos;
            lr.ropeSin = sin;
            lr.attnProbs = probs;
            lr.attnOut = attn;
            lr.mid = x.clone();
        }
    }

    /** x += mlp(post_attention_layernorm(x)). */
    private void mlpBlock(int l, Batch b, float[] x, Activations.Layer lr) {
        LayerWeights w = model.layer(l);
        int n = b.n, hidden = c.hiddenSize();
        float[] xn = new float[n * hidden], out = new float[n * hidden];
        float[] invRms = RmsNorm.forward(x, n, hidden, w.postAttentionNorm(), c.rmsNormEps(), xn);
        Mlp.Saved mlp = Mlp.forward(par, xn, n, hidden, w, out);
        add(x, out);
        if (lr != null) {
            lr.mlpInvRms = invRms;
            lr.mlpNormed = xn;
            lr.gate = mlp.gate();
            lr.up = mlp.up();
            lr.act = mlp.act();
        }
    }

    /** Final norm and LM head, only on the rows that get logits. */
    private Logits logits(Batch b, float[] x, LogitsMode mode, Activations rec) {
        int seqs = b.sequences(), hidden = c.hiddenSize(), vocab = c.vocabSize();
        int[] firstRow = new int[seqs + 1];
        int[] rows;
        switch (mode) {
            case NONE -> rows = new int[0];
            case LAST -> {
                rows = new int[seqs];
                for (int s = 0; s < seqs; s++) {
                    rows[s] = b.seqStart[s + 1] - 1;
                    firstRow[s + 1] = s + 1;
                }
            }
            case ALL -> {
                rows = new int[b.n];
                for (int t = 0; t < b.n; t++) rows[t] = t;
                System.arraycopy(b.seqStart, 0, firstRow, 0, seqs + 1);
            }
            default -> throw new IllegalArgumentException("mode " + mode);
        }
        int m = rows.length;
        float[] h = new float[m * hidden], normed = new float[m * hidden];
        for (int r = 0; r < m; r++) System.arraycopy(x, rows[r] * hidden, h, r * hidden, hidden);
        float[] invRms = RmsNorm.forward(h, m, hidden, model.finalNorm(), c.rmsNormEps(), normed);
        if (rec != null) {
            rec.finalNormInput = h;
            rec.finalInvRms = invRms;
            rec.logitRows = rows;
        }
        float[] logits = new float[m * vocab];
        if (m > 0) MatMul.linear(par, normed, m, hidden, new MatMul.Out(model.lmHead(), null, logits));
        return new Logits(vocab, logits, firstRow);
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    @Override
    public void close() { par.close(); }
}
