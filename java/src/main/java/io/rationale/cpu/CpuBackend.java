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
 *   xn  = RmsNorm(x)                      (input_layernorm)
 *   q,k,v = xn·Wqᵀ, xn·Wkᵀ, xn·Wvᵀ (+bias)  (one fused pass)
 *   q,k = RoPE(q,k) at each token's position
 *   append k,v to each sequence's cache; a = attention per sequence and head
 *   x  += a·Woᵀ (+bias)
 *   xn  = RmsNorm(x)                      (post_attention_layernorm)
 *   x  += Mlp(xn)
 * </pre>
 * then the final norm and the LM head on the rows that need logits.
 */
public final class CpuBackend implements Backend {
    private final Model model;
    private final Parallel par;
    private final Rope rope;

    /** A backend on all available processors. */
    public CpuBackend(Model model) {
        this(model, Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(Model model, int threads) {
        this.model = model;
        this.par = new Parallel(threads);
        this.rope = new Rope(model.config());
    }

    @Override
    public Model model() { return model; }

    public int threads() { return par.threads(); }

    @Override
    public Logits forward(List<int[]> tokens, List<KvCache> cacheList, LogitsMode mode, Activations rec) {
        ModelConfig c = model.config();
        int seqs = tokens.size();
        if (cacheList != null && cacheList.size() != seqs)
            throw new IllegalArgumentException(seqs + " sequences but " + cacheList.size() + " caches");
        KvCache[] caches = new KvCache[seqs];
        IdentityHashMap<KvCache, Boolean> seen = new IdentityHashMap<>();
        int[] seqStart = new int[seqs + 1];
        int[] past = new int[seqs];
        for (int s = 0; s < seqs; s++) {
            int[] tk = tokens.get(s);
            if (tk.length == 0) throw new IllegalArgumentException("sequence " + s + " has no new tokens");
            for (int id : tk)
                if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("sequence " + s + ": token id " + id + " outside [0, " + c.vocabSize() + ")");
            KvCache kc = cacheList == null ? null : cacheList.get(s);
            if (kc == null) kc = newCache();
            if (kc.numLayers() != c.numLayers() || kc.kvHeads() != c.numKvHeads() || kc.headDim() != c.headDim())
                throw new IllegalArgumentException("sequence " + s + ": cache shape does not match the model");
            if (seen.put(kc, Boolean.TRUE) != null) throw new IllegalArgumentException("sequence " + s + " shares its cache object with another sequence");
            caches[s] = kc;
            past[s] = kc.length();
            seqStart[s + 1] = seqStart[s] + tk.length;
        }
        int n = seqStart[seqs], hidden = c.hiddenSize();
        int[] ids = new int[n], positions = new int[n];
        for (int s = 0; s < seqs; s++) {
            int[] tk = tokens.get(s);
            System.arraycopy(tk, 0, ids, seqStart[s], tk.length);
            for (int i = 0; i < tk.length; i++) positions[seqStart[s] + i] = past[s] + i;
            caches[s].reserve(past[s] + tk.length);
        }

        float[] x = new float[n * hidden];
        Embedding.lookup(model.embedTokens(), ids, x);
        int half = c.headDim() / 2;
        float[] cos = new float[n * half], sin = new float[n * half];
        rope.tables(positions, cos, sin);
        if (rec != null) {
            rec.seqStart = seqStart.clone();
            rec.positions = positions.clone();
            rec.tokens = ids.clone();
            rec.embeddings = x.clone();
        }

        Attention.Shape shape = new Attention.Shape(c.numHeads(), c.numKvHeads(), c.headDim(), c.slidingWindow());
        float[] xn = new float[n * hidden];
        float[] q = new float[n * c.qDim()], k = new float[n * c.kvDim()], v = new float[n * c.kvDim()];
        float[] attn = new float[n * c.qDim()], proj = new float[n * hidden];
        for (int l = 0; l < model.numLayers(); l++) {
            LayerWeights w = model.layer(l);
            Activations.Layer lr = rec == null ? null : new Activations.Layer();
            if (lr != null) lr.input = x.clone();

            float[] inv = RmsNorm.forward(x, n, hidden, w.inputNorm(), c.rmsNormEps(), xn);
            MatMul.linear(par, xn, n, hidden,
                    new MatMul.Out(w.q(), w.qBias(), q), new MatMul.Out(w.k(), w.kBias(), k), new MatMul.Out(w.v(), w.vBias(), v));
            Rope.apply(q, n, c.numHeads(), c.headDim(), cos, sin);
            Rope.apply(k, n, c.numKvHeads(), c.headDim(), cos, sin);
            Attention.append(l, shape, k, v, seqStart, caches, past);
            float[][] probs = null;
            if (lr != null && rec.keepAttentionProbs) {
                probs = new float[seqs][];
                for (int s = 0; s < seqs; s++) {
                    int ns = seqStart[s + 1] - seqStart[s];
                    probs[s] = new float[c.numHeads() * ns * (past[s] + ns)];
                }
            }
            Attention.forward(par, l, shape, q, seqStart, caches, past, attn, probs);
            if (lr != null) {
                lr.attnInvRms = inv;
                lr.attnNormed = xn.clone();
                lr.q = q.clone();
                lr.k = k.clone();
                lr.v = v.clone();
                lr.ropeCos = cos;
                lr.ropeSin = sin;
                lr.attnProbs = probs;
                lr.attnOut = attn.clone();
            }
            MatMul.linear(par, attn, n, c.qDim(), new MatMul.Out(w.o(), w.oBias(), proj));
            add(x, proj, n * hidden);
            if (lr != null) lr.mid = x.clone();

            inv = RmsNorm.forward(x, n, hidden, w.postAttentionNorm(), c.rmsNormEps(), xn);
            Mlp.Saved mlp = Mlp.forward(par, xn, n, hidden, w, proj);
            add(x, proj, n * hidden);
            if (lr != null) {
                lr.mlpInvRms = inv;
                lr.mlpNormed = xn.clone();
                lr.gate = mlp.gate();
                lr.up = mlp.up();
                lr.act = mlp.act();
                rec.layers.add(lr);
            }
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
        if (rec != null) {
            rec.finalNormInput = last;
            rec.finalInvRms = inv;
            rec.logitRows = rows;
        }
        float[] logits = new float[m * vocab];
        if (m > 0) MatMul.linear(par, normed, m, hidden, new MatMul.Out(model.lmHead(), null, logits));
        return new Logits(vocab, logits, firstRow);
    }

    @Override
    public Logits forwardEmbeddings(List<float[]> embeddings, LogitsMode mode, Activations rec) {
        throw new UnsupportedOperationException("not yet");   // contract commit: implemented on this branch next
    }

    @Override
    public float[][] backward(Activations rec, List<io.rationale.engine.Target> targets, io.rationale.engine.RuleMode mode) {
        throw new UnsupportedOperationException("not yet");   // contract commit: implemented on this branch next
    }

    private static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }

    @Override
    public void close() { par.close(); }
}
