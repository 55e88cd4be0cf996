package io.rationale.cuda;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.BackendMemoryException;
import io.rationale.engine.Continuations;
import io.rationale.engine.FlipBatch;
import io.rationale.engine.FlipScores;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.LabelLogits;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Lora;
import io.rationale.engine.LrpRules;
import io.rationale.engine.Model;
import io.rationale.engine.RopeTables;
import io.rationale.engine.RuleMode;
import io.rationale.engine.SamplingParams;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.function.ObjIntConsumer;

/**
 * The forward and backward passes on a CUDA device (or the emulated one): Java orchestration of the kernels in
 * {@code cuda-kernels/} through JCuda ({@link Kernels}) and of cuBLAS GEMMs ({@link Cublas}), over weights in device
 * memory in their checkpoint dtype ({@link CudaWeights}) and KV caches of device blocks ({@link CudaKvCache}). For a
 * batch, all new tokens are packed into one {@code [tokens, hidden]} f32 residual stream x, then per layer, as
 * {@code CpuBackend} does ({@link #layerForward}):
 * <pre>
 *   xn    = RmsNorm(x)                        rmsnorm.cu
 *   qkv   = xn·[Wq|Wk|Wv]ᵀ (+ bias)            one GEMM (cuBLAS), or gemv.cu for a few rows
 *   q,k   = RoPE(q, k)                        rope.cu (host-computed tables, {@link RopeTables})
 *   append k, v to each sequence's blocks     kvcache.cu
 *   a     = attention(q, cache)               attention.cu (flash-style, block tables, the intervention)
 *   x    += a·Woᵀ (+ bias)                     GEMM, elementwise.cu
 *   xn    = RmsNorm(x)
 *   gu    = xn·[Wgate|Wup]ᵀ                    one GEMM
 *   x    += (silu(g)·u)·Wdownᵀ (+ bias)        swiglu.cu, GEMM, elementwise.cu
 * </pre>
 * then the final norm on the rows that get logits and the LM head. Arithmetic is f32 except a GEMM's input, which
 * is rounded to its weights' dtype (as PyTorch does with a bf16 or f16 model); a pass of at most
 * {@link Kernels#GEMV_MAX_ROWS} rows (decode) keeps every activation in f32 and reads the weights with the
 * bandwidth-bound {@code gemv} kernels instead.
 *
 * <p>{@link #backward} mirrors the forward over one record ({@link CudaRecord}, device memory), layer by layer in
 * reverse, each step the backward kernel beside its forward; see its comment. Thread-safe: calls take turns on the
 * device.
 *
 * <p>A model with an unmerged LoRA adapter ({@link Model#lora()}) runs its low-rank branch beside each targeted
 * projection wherever the projection runs (prefill, decode, batched and recorded forwards, a checkpointed record's
 * recomputation: all go through {@link #layerForward}): {@code y += scale·(x·Aᵀ)·Bᵀ} in f32 from the projection's f32
 * input ({@link CudaLora}); the backward adds the branch's input gradient {@code scale·(dy·B)·A} after each
 * projection's {@code dy·W} (where the CPU backend does, with the same rule-mode exceptions), and
 * {@link #backwardLora} its weight gradients.
 */
public final class CudaBackend implements Backend {
    private final Model model;
    private final CudaDevice device;
    private final Cublas cublas;
    private final Kernels kernels;
    private final CudaWeights weights;
    private final BlockPool pool;
    private final Workspace ws;
    private final RopeTables rope;
    private final int multiprocessors;
    private final CudaLora lora;                   // the model's unmerged adapter on the device, or null
    private BlockPool recomputePool;               // one-layer KV blocks for checkpointed records' backward passes
    private final List<CudaRecord.Memory> records = new ArrayList<>();          // live record allocations
    private final ArrayDeque<CudaRecord.Memory> garbage = new ArrayDeque<>();   // of records the collector found
    private boolean closed;

    /** Uploads {@code model}'s weights to {@code device}; the backend owns the device from then on (closes it). */
    public CudaBackend(Model model, CudaDevice device) {
        this.model = model;
        this.device = device;
        this.kernels = new Kernels(device);
        this.rope = new RopeTables(model.config());
        this.multiprocessors = device.attribute(16);          // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
        Cublas blas = null;
        CudaWeights w = null;
        CudaLora ad = null;
        Workspace work = new Workspace(device);
        try {
            blas = Cublas.open(device);
            w = new CudaWeights(device, model);
            if (model.lora() != null) ad = new CudaLora(device, blas, work, model.lora());
        } catch (RuntimeException e) {
            if (ad != null) ad.close();
            if (w != null) w.close();
            if (blas != null) blas.close();
            throw e;
        }
        this.cublas = blas;
        this.weights = w;
        this.lora = ad;
        this.pool = new BlockPool(device, model.config());
        this.ws = work;
    }

    @Override
    public Model model() { return model; }

    /** The device this backend runs on. */
    public CudaDevice cudaDevice() { return device; }

    CudaWeights weights() { return weights; }

    Cublas cublas() { return cublas; }

    /** Bytes of weights a decode step reads (see {@link CudaWeights#decodeBytes}). */
    public long weightBytes() { return weights.decodeBytes(); }

    /** {@code cuda:0 (NVIDIA H200, compute 9.0, driver 13.0, libcublas.so.13)}, or {@code cuda-emu (...)}. */
    @Override
    public String device() {
        if (device.isEmulated()) return "cuda-emu (the CUDA kernels emulated on the CPU, compute " + device.computeCapability() + ")";
        int v = device.driverVersion();
        return "cuda:" + device.ordinal() + " (" + device.name() + ", compute " + device.computeCapability() + ", driver "
                + v / 1000 + "." + (v % 1000) / 10 + ", " + java.nio.file.Path.of(cublas.library()).getFileName() + ")";
    }

    @Override
    public synchronized CudaKvCache newCache() {
        check();
        return new CudaKvCache(pool);
    }

    @Override
    public ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute) { return new CudaRecord(this, keepAttentionProbs, recompute); }

    /** New tokens per batched forward: up to 4096, fewer when a pass's buffers would take more than a quarter of free memory. */
    @Override
    public int forwardBatchTokens() {
        long perToken = workBytesPerToken();
        long free = device.memoryInfo().free();
        return (int) Math.max(1, Math.min(4096, free / 4 / perToken));
    }

    /** Half the free device memory. */
    @Override
    public long memoryBudget() { return device.memoryInfo().free() / 2; }

    /**
     * One sequence of t tokens in a recorded batch: its device record ({@link CudaRecord}: full, or only each layer's
     * input with {@code recompute}), the forward's and the backward's work buffers per token
     * ({@link #workBytesPerToken}, {@link #backwardBytesPerToken}; with {@code recompute} also one layer's recomputed
     * internals and its one-layer KV blocks), and per sequence its logits, seed and last rows.
     */
    @Override
    public long bytesPerRecordedSequence(int tokens, boolean recompute) {
        ModelConfig c = model.config();
        long t = tokens, H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize(), heads = c.numHeads(), V = c.vocabSize();
        long layerFull = 4L * (2 * H + Q + 2 * K + Q + 2 * heads + 2 * I + 2);
        long record = recompute ? 4L * c.numLayers() * H : c.numLayers() * layerFull;
        long recomputeWork = recompute ? layerFull + 4L * H + 8L * K : 0;
        long perSequence = 4L * (3 * V + 6 * H) + 3 * 256L * (c.numLayers() + 4);
        return t * (record + workBytesPerToken() + backwardBytesPerToken() + recomputeWork) + perSequence;
    }

    /**
     * Bytes of the forward's work buffers per packed token (x, xn, qkv, attention output, projection, gate|up, act;
     * with an unmerged adapter also its f32 inputs and u).
     */
    private long workBytesPerToken() {
        ModelConfig c = model.config();
        long H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
        return 4L * (3 * H + Q + 2 * K + Q + 3 * I) + 64
                + (lora == null ? 0 : 4L * (H + Q + I + lora.maxRank()));   // the adapter's f32 inputs (16-bit models) and u
    }

    /**
     * Bytes of the backward's work buffers per packed token: dx, d normed, d attention output, d q|k|v, d act,
     * d gate|up, Delta (f32), and the 16-bit copy of a GEMM's gradient input.
     */
    private long backwardBytesPerToken() {
        ModelConfig c = model.config();
        long H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
        return 4L * (2 * H + Q + (Q + 2 * K) + I + 2 * I + c.numHeads()) + 2L * Math.max(Math.max(Q + 2 * K, 2 * I), H) + 64
                + (lora == null ? 0 : 4L * (H + I + 2 * lora.maxRank()));   // the adapter's recomputed inputs, u and v
    }

    // ------------------------------------------------------------------ forward

    @Override
    public synchronized Logits forward(List<int[]> tokens, List<KvCache> cacheList, ForwardOptions options) {
        return (Logits) pass(tokens, null, null, cacheList, options, null);
    }

    @Override
    public synchronized Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) {
        return (Logits) pass(null, embeddings, null, null, options, null);
    }

    /** Picks each sequence's next token on the device ({@code argmax_rows}, {@code sample_rows}); only the ids come back. */
    @Override
    public synchronized int[] forwardAndSample(List<int[]> tokens, List<KvCache> caches, AttentionIntervention intervention,
                                               SamplingParams params, double[] draws) {
        if (draws.length != tokens.size()) throw new IllegalArgumentException(tokens.size() + " sequences but " + draws.length + " draws");
        return (int[]) pass(tokens, null, null, caches, ForwardOptions.of(LogitsMode.LAST).withIntervention(intervention), new Sampling(params, draws));
    }

    /** What a pass returns instead of the logits: picked on the device, only the picks come back. */
    private sealed interface Pick permits Sampling, Labels, Flip {}

    /** {@link #forwardAndSample}: each sequence's next token. */
    private record Sampling(SamplingParams params, double[] draws) implements Pick {}

    /** {@link #forwardLabelLogits}: each sequence's last logits reduced to label groups ({@code label_logits}). */
    private record Labels(int[][] labelTokens) implements Pick {}

    /**
     * {@inheritDoc}
     *
     * <p>On the device: each batch's last logits stay there; {@code label_logits} reduces them to the labels and only
     * the per-label logits, tokens and predictions come back.
     */
    @Override
    public int forwardLabelLogits(KvCache base, int[] prefixLengths, List<int[]> rests, int maxTokens, int[][] labelTokens,
                                  ObjIntConsumer<LabelLogits> labels) {
        LabelLogits.check(labelTokens, model.config().vocabSize());
        Labels pick = new Labels(labelTokens);
        return Continuations.run(this, base, prefixLengths, rests, maxTokens, (batch, caches) -> {
            synchronized (this) {
                return (LabelLogits[]) pass(batch, null, null, caches, ForwardOptions.of(LogitsMode.LAST), pick);
            }
        }, labels);
    }

    /**
     * {@link #flipEvaluation}: each sequence's last logits reduced to label groups ({@code label_logits}) into device
     * rows that stay there ({@code logit}, {@code token}, {@code pred} point at the batch's first variant's row).
     */
    private record Flip(int[][] labelTokens, DevicePointer logit, DevicePointer token, DevicePointer pred) implements Pick {}

    /**
     * {@inheritDoc}
     *
     * <p>On the device: the batch's tables go up once; per batched forward, {@code flip_build} writes the variants'
     * tokens from the rankings into a device buffer that the embedding reads, and {@code label_logits} reduces their
     * last logits into label rows that stay on the device; at the end {@code flip_scores} computes the probabilities
     * (double, the host's softmax operation for operation), predictions, flips, comprehensiveness and sufficiency.
     * Only those numbers (and each batch's built lengths, checked against the planned ones) come back. The batches,
     * forks and out-of-memory retries are {@link Continuations}'s.
     */
    @Override
    public FlipScores flipEvaluation(KvCache prefix, FlipBatch batch, int[][] labelTokens, int maxTokens, FlipBatch.Original original) {
        ModelConfig c = model.config();
        LabelLogits.check(labelTokens, c.vocabSize());
        int L = labelTokens.length, V = batch.variants(), R = batch.requests(), first = original == null ? 0 : 1;
        if (original != null && original.probs().length != L)
            throw new IllegalArgumentException("the original's " + original.probs().length + " probabilities for " + L + " labels");
        for (int id : batch.rest()) if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary");
        for (int id : batch.forms()) if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary");
        List<int[]> rows = new ArrayList<>(V - first);
        IdentityHashMap<int[], Integer> variantOf = new IdentityHashMap<>();
        int tokens = 0;
        for (int v = first; v < V; v++) {
            int len = batch.length(v);
            if (len == 0) throw new IllegalArgumentException("variant " + v + " has no tokens");
            int[] row = new int[len];                      // only its length is read: the tokens are built on the device
            rows.add(row);
            variantOf.put(row, v);
            tokens += len;
        }
        // the tables, one copy up
        int n = batch.words(), F = batch.fields();
        int[][] parts = new int[19][];
        parts[0] = batch.rest();
        parts[1] = bits(batch.glue());
        parts[2] = batch.fieldWords();
        parts[3] = batch.wordStart();
        parts[4] = batch.wordEnd();
        parts[5] = batch.breakBefore();
        parts[6] = batch.nextBreak();
        parts[7] = batch.forms();
        parts[8] = batch.formStart();
        parts[9] = batch.formLen();
        parts[10] = batch.emptyStart();
        parts[11] = batch.emptyLen();
        int[][] rk = batch.rankings();
        int[] rankStart = new int[rk.length + 1];
        for (int r = 0; r < rk.length; r++) rankStart[r + 1] = rankStart[r] + rk[r].length;
        int[] ranks = new int[rankStart[rk.length]];
        for (int r = 0; r < rk.length; r++) System.arraycopy(rk[r], 0, ranks, rankStart[r], rk[r].length);
        parts[12] = rankStart;
        parts[13] = ranks;
        parts[14] = batch.variantRanking();
        parts[15] = batch.variantSize();
        parts[16] = bits(batch.variantKeep());
        parts[17] = batch.requestRemove();
        parts[18] = batch.requestKeep();
        long[] at = new long[parts.length + 1];
        for (int i = 0; i < parts.length; i++) at[i + 1] = at[i] + Math.max(1, parts[i].length);
        int[] packed = new int[(int) at[parts.length]];
        for (int i = 0; i < parts.length; i++) System.arraycopy(parts[i], 0, packed, (int) at[i], parts[i].length);
        DevicePointer[] mem = new DevicePointer[9];
        int forwards;
        float[] logit = new float[V * L];
        int[] best = new int[V * L], pred = new int[V], flipped = new int[R];
        double[] probs = new double[V * L], comp = new double[R], suff = new double[R];
        try {
            synchronized (this) {
                check();
                try {
                    mem[0] = device.alloc(4L * packed.length);
                    mem[1] = device.alloc(4L * V * L);            // label logits
                    mem[2] = device.alloc(4L * V * L);            // label tokens
                    mem[3] = device.alloc(4L * V);                // predictions
                    mem[4] = device.alloc(8L * V * L);            // probabilities
                    mem[5] = device.alloc(4L * Math.max(1, R));   // flipped
                    mem[6] = device.alloc(8L * Math.max(1, R));   // comprehensiveness
                    mem[7] = device.alloc(8L * Math.max(1, R));   // sufficiency
                    mem[8] = device.alloc(8L * L);                // the given original's probabilities
                } catch (DeviceOutOfMemoryException e) {
                    throw new BackendMemoryException(e.getMessage() + " (the flip evaluation's tables)", e);
                }
                device.copyToDevice(mem[0], packed);
            }
            DevicePointer t0 = mem[0];
            Kernels.FlipTables tables = new Kernels.FlipTables(t0.plus(4 * at[0]), t0.plus(4 * at[1]), batch.rest().length, t0.plus(4 * at[2]), F,
                    t0.plus(4 * at[3]), t0.plus(4 * at[4]), t0.plus(4 * at[5]), t0.plus(4 * at[6]), n, batch.contexts(), batch.replace(),
                    t0.plus(4 * at[7]), t0.plus(4 * at[8]), t0.plus(4 * at[9]), t0.plus(4 * at[10]), t0.plus(4 * at[11]), t0.plus(4 * at[12]),
                    t0.plus(4 * at[13]), t0.plus(4 * at[14]), t0.plus(4 * at[15]), t0.plus(4 * at[16]));
            forwards = rows.isEmpty() ? 0 : Continuations.run(this, prefix, null, rows, maxTokens, (sub, caches) -> {
                synchronized (this) {
                    int v0 = variantOf.get(sub.getFirst()), cnt = sub.size(), total = 0;
                    int[] small = new int[3 * cnt], lengths = new int[cnt];
                    for (int b = 0; b < cnt; b++) {
                        lengths[b] = sub.get(b).length;
                        small[b] = total;                     // offsets
                        small[2 * cnt + b] = v0 + b;          // variants
                        total += lengths[b];
                    }
                    try {
                        DevicePointer ids = ws.get("flip.ids", 4L * total), sm = ws.get("flip.rows", 4L * small.length);
                        DevicePointer scratch = ws.get("flip.scratch", 4L * cnt * (n + F));
                        device.copyToDevice(sm, small);
                        kernels.flipBuild(ids, sm, sm.plus(4L * cnt), sm.plus(8L * cnt), scratch, cnt, tables);
                        int[] built = new int[cnt];
                        device.copyToHost(built, sm.plus(4L * cnt));
                        for (int b = 0; b < cnt; b++)
                            if (built[b] != lengths[b])
                                throw new IllegalStateException("variant " + (v0 + b) + ": built " + built[b] + " tokens on the device, planned " + lengths[b]);
                        pass(null, null, new DeviceInput(ids, lengths, true), caches, ForwardOptions.of(LogitsMode.LAST),
                                new Flip(labelTokens, mem[1].plus(4L * v0 * L), mem[2].plus(4L * v0 * L), mem[3].plus(4L * v0)));
                    } catch (DeviceOutOfMemoryException e) {
                        ws.close();
                        throw new BackendMemoryException(e.getMessage() + " (building " + cnt + " flip variants of " + total + " tokens)", e);
                    }
                    return new Boolean[cnt];
                }
            }, (r, i) -> {});
            synchronized (this) {
                check();
                if (original != null) device.copyToDevice(mem[8], original.probs());
                kernels.flipScores(mem[4], mem[1], mem[3], V, L, original != null, mem[8], original == null ? 0 : original.predicted(),
                        t0.plus(4 * at[17]), t0.plus(4 * at[18]), R, mem[5], mem[6], mem[7]);
                device.copyToHost(logit, mem[1]);
                device.copyToHost(best, mem[2]);
                device.copyToHost(pred, mem[3]);
                device.copyToHost(probs, mem[4]);
                if (R > 0) {
                    device.copyToHost(flipped, mem[5]);
                    device.copyToHost(comp, mem[6]);
                    device.copyToHost(suff, mem[7]);
                }
            }
        } finally {
            synchronized (this) {
                for (DevicePointer m : mem) if (m != null) device.free(m);
            }
        }
        float[][] labelLogits = new float[V][];
        int[][] bestTokens = new int[V][];
        double[][] p = new double[V][];
        for (int v = 0; v < V; v++) {
            p[v] = Arrays.copyOfRange(probs, v * L, (v + 1) * L);
            if (v < first) continue;
            labelLogits[v] = Arrays.copyOfRange(logit, v * L, (v + 1) * L);
            bestTokens[v] = Arrays.copyOfRange(best, v * L, (v + 1) * L);
        }
        boolean[] f = new boolean[R];
        for (int r = 0; r < R; r++) f[r] = flipped[r] != 0;
        return new FlipScores(labelLogits, bestTokens, p, pred, f, comp, suff, forwards, tokens);
    }

    private static int[] bits(boolean[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] ? 1 : 0;
        return out;
    }

    /**
     * Input already on the device: sequences of {@code lengths} tokens packed at {@code x}, as embeddings ({@code [n, H]}
     * f32) or, with {@code ids}, as token ids ({@code [n]} int, read by the embedding).
     */
    private record DeviceInput(DevicePointer x, int[] lengths, boolean ids) {
        DeviceInput(DevicePointer x, int[] lengths) { this(x, lengths, false); }
    }

    /**
     * One forward from token ids, host embeddings or device embeddings (one of the three); returns {@link Logits}, or
     * the sampled ids when {@code sampling} is given.
     */
    private Object pass(List<int[]> tokens, List<float[]> embeddings, DeviceInput deviceInput, List<KvCache> cacheList,
                        ForwardOptions options, Pick pick) {
        check();
        freeGarbage();
        if (lora != null) lora.refresh();
        ModelConfig c = model.config();
        int seqs = tokens != null ? tokens.size() : embeddings != null ? embeddings.size() : deviceInput.lengths().length, H = c.hiddenSize();
        if (seqs == 0) throw new IllegalArgumentException("no sequences");
        if (cacheList != null && cacheList.size() != seqs)
            throw new IllegalArgumentException(seqs + " sequences but " + cacheList.size() + " caches");
        CudaKvCache[] caches = new CudaKvCache[seqs];
        boolean[] throwaway = new boolean[seqs];
        int[] seqStart = new int[seqs + 1], past = new int[seqs];
        IdentityHashMap<KvCache, Boolean> seen = new IdentityHashMap<>();
        for (int s = 0; s < seqs; s++) {
            int len;
            if (tokens != null) {
                int[] tk = tokens.get(s);
                if (tk.length == 0) throw new IllegalArgumentException("sequence " + s + " has no new tokens");
                for (int id : tk)
                    if (id < 0 || id >= c.vocabSize()) throw new IllegalArgumentException("sequence " + s + ": token id " + id + " outside [0, " + c.vocabSize() + ")");
                len = tk.length;
            } else if (deviceInput != null) {
                len = deviceInput.lengths()[s];
            } else {
                float[] e = embeddings.get(s);
                if (e == null || e.length == 0 || e.length % H != 0)
                    throw new IllegalArgumentException("sequence " + s + ": embeddings must be a non-empty multiple of hidden size " + H
                            + (e == null ? ", got null" : ", got " + e.length + " floats"));
                len = e.length / H;
            }
            KvCache given = cacheList == null ? null : cacheList.get(s);
            if (given != null && !(given instanceof CudaKvCache kc && kc.pool() == pool))
                throw new IllegalArgumentException("sequence " + s + ": the KV cache belongs to another backend (" + given.getClass().getSimpleName() + ")");
            if (given != null && seen.put(given, Boolean.TRUE) != null)
                throw new IllegalArgumentException("sequence " + s + " shares its cache object with another sequence");
            throwaway[s] = given == null;
            caches[s] = given == null ? new CudaKvCache(pool) : (CudaKvCache) given;
            past[s] = caches[s].length();
            seqStart[s + 1] = seqStart[s] + len;
        }
        CudaRecord rec = record(options.record());
        AttentionIntervention iv = options.intervention();
        if (iv != null) iv.check(c, seqs);
        try {
            for (int s = 0; s < seqs; s++) caches[s].reserve(past[s] + seqStart[s + 1] - seqStart[s]);
            Object out = run(tokens, embeddings, deviceInput, seqStart, past, caches, options.logits(), rec, iv, pick);
            for (int s = 0; s < seqs; s++) caches[s].setLength(past[s] + seqStart[s + 1] - seqStart[s]);
            return out;
        } catch (DeviceOutOfMemoryException e) {
            for (int s = 0; s < seqs; s++) if (!throwaway[s]) caches[s].truncate(past[s]);
            if (rec != null) rec.close();
            ws.close();                                     // the work buffers grown for this batch: a smaller retry starts clean
            throw new BackendMemoryException(e.getMessage() + " (a forward of " + seqStart[seqs] + " tokens in " + seqs + " sequences"
                    + (rec != null ? ", recorded" : "") + ")", e);
        } finally {
            for (int s = 0; s < seqs; s++) if (throwaway[s]) caches[s].close();
        }
    }

    private CudaRecord record(ForwardRecord r) {
        if (r == null) return null;
        if (!(r instanceof CudaRecord cr) || cr.owner != this)
            throw new IllegalArgumentException("the record belongs to another backend (" + r.getClass().getSimpleName() + "): make it with this backend's newRecord");
        return cr;
    }

    /** The GEMM input type for {@code rows} rows against {@code w}: f32 when gemv serves them, else the weights' dtype. */
    private static DataType actType(int rows, CudaWeights.Matrix w) {
        return rows <= Kernels.GEMV_MAX_ROWS ? DataType.F32 : w.type();
    }

    /** y[rows, out] (f32) = x[rows, in]·Wᵀ (+ bias), x of {@link #actType}. */
    private void linear(DevicePointer y, DevicePointer x, int rows, CudaWeights.Matrix w, DevicePointer bias) {
        if (rows <= Kernels.GEMV_MAX_ROWS) {
            kernels.gemv(w.type(), y, w.rows(), x, w.cols(), w.ptr(), bias, rows, w.rows(), w.cols());
            return;
        }
        cublas.matmulTransposed(y, x, w.ptr(), w.type(), rows, w.cols(), w.rows());
        if (bias.address() != 0) kernels.biasAdd(y, w.rows(), bias, rows, w.rows());
    }

    /**
     * The shapes and the packed little arrays of one pass over a batch (sequence s: rows [seqStart[s], seqStart[s+1])
     * at positions past[s] + i), on the device at {@link #base} once {@link #upload}ed: token → sequence and position,
     * contexts, block tables, RoPE tables; and the launch decisions every layer shares.
     */
    private final class Pass {
        final int seqs, n;
        final int[] seqStart, past, seqCtx;
        final boolean decode;
        final int splits;
        final AttentionIntervention iv;
        private final int aTokSeq, aTokPos, aSeqCtx, aSeqTable, aBlocks, aCos, aSin;
        private final Steering st;
        DevicePointer base;

        /** Adds the pass's arrays to {@code args}; {@code recorded}: one split (the row statistics are kept). */
        Pass(Workspace.Args args, int[] seqStart, int[] past, CudaKvCache[] caches, AttentionIntervention iv, boolean recorded) {
            ModelConfig c = model.config();
            this.seqs = caches.length;
            this.n = seqStart[seqs];
            this.seqStart = seqStart;
            this.past = past;
            this.iv = iv;
            int half = c.headDim() / 2;
            int[] tokSeq = new int[n], tokPos = new int[n], seqTable = new int[seqs];
            seqCtx = new int[seqs];
            long[][] tables = new long[seqs][];
            int tableLen = 0;
            for (int s = 0; s < seqs; s++) {
                for (int t = seqStart[s]; t < seqStart[s + 1]; t++) {
                    tokSeq[t] = s;
                    tokPos[t] = past[s] + t - seqStart[s];
                }
                seqCtx[s] = past[s] + seqStart[s + 1] - seqStart[s];
                tables[s] = caches[s].blockAddresses();
                seqTable[s] = tableLen;
                tableLen += tables[s].length;
            }
            long[] blockPtrs = new long[Math.max(1, tableLen)];
            for (int s = 0; s < seqs; s++) System.arraycopy(tables[s], 0, blockPtrs, seqTable[s], tables[s].length);
            float[] cos = new float[n * half], sin = new float[n * half];
            rope.tables(tokPos, cos, sin);
            aTokSeq = args.ints(tokSeq);
            aTokPos = args.ints(tokPos);
            aSeqCtx = args.ints(seqCtx);
            aSeqTable = args.ints(seqTable);
            aBlocks = args.longs(blockPtrs);
            aCos = args.floats(cos);
            aSin = args.floats(sin);
            st = iv == null ? null : Steering.pack(iv, args, seqs, seqCtx, c.numHeads());
            decode = n == seqs;
            int maxCtx = 0;
            for (int x : seqCtx) maxCtx = Math.max(maxCtx, x);
            splits = decode && !recorded
                    ? Kernels.decodeSplits(Kernels.decodeBlocks(n, c.numHeads(), c.numKvHeads(), c.headDim()), multiprocessors, maxCtx) : 1;
        }

        /** Copies the packed arguments to the device buffer {@code name}. */
        void upload(Workspace.Args args, String name) {
            byte[] packed = args.bytes();
            base = ws.get(name, packed.length);
            device.copyToDevice(base, packed);
        }

        DevicePointer at(int offset) { return base.plus(offset); }

        /** The attention call of layer l (cache offsets kOff, vOff), output {@code out} with row stride ldo. */
        Kernels.Attention attention(int l, DevicePointer out, int ldo, DevicePointer qkv, long kOff, long vOff, DevicePointer stats) {
            ModelConfig c = model.config();
            int QKV = c.qDim() + 2 * c.kvDim();
            boolean steer = st != null && iv.atLayer(l);
            return new Kernels.Attention(out, ldo, qkv, QKV, at(aBlocks), at(aSeqTable), kOff, vOff, at(aTokSeq), at(aTokPos), at(aSeqCtx),
                    n, c.numHeads(), c.numKvHeads(), c.headDim(), c.slidingWindow(), (float) (1.0 / Math.sqrt(c.headDim())), stats,
                    steer ? st.mode : 0, steer ? st.causal : 1, steer ? at(st.start) : DevicePointer.NULL,
                    steer ? at(st.pos) : DevicePointer.NULL, steer ? at(st.bias) : DevicePointer.NULL,
                    steer && st.heads >= 0 ? at(st.heads) : DevicePointer.NULL, steer ? at(st.from) : DevicePointer.NULL);
        }
    }

    /**
     * Work buffers for one layer's internals (no record, or a checkpointed one): q|k|v and gate|up always; with
     * {@code internals} also the norms' 1/rms, the f32 attention output and the row statistics (NULL otherwise).
     */
    private CudaRecord.Layer workLayer(int n, boolean internals) {
        ModelConfig c = model.config();
        int Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
        DevicePointer N = DevicePointer.NULL;
        return new CudaRecord.Layer(N, internals ? ws.get("inv1", 4L * n) : N, ws.get("qkv", 4L * n * (Q + 2 * K)),
                internals ? ws.get("o", 4L * n * Q) : N, internals ? ws.get("stats", 8L * n * c.numHeads()) : N, N,
                internals ? ws.get("inv2", 4L * n) : N, ws.get("gu", 4L * n * 2 * I));
    }

    /** Where a pass puts the attention probabilities it keeps (per layer and sequence, host copies). */
    private record Probs(DevicePointer device, DevicePointer offsets, DevicePointer seqStart, long[] hostOffsets, float[][][] host) {}

    /**
     * One decoder layer's forward on the packed residual stream x, in place, writing its internals where {@code out}
     * says: {@code input} (a copy of x before the layer; NULL: none), the norms' 1/rms, q|k|v, the f32 attention output
     * O (NULL: the attention writes its GEMM input type directly), the row statistics, {@code mid} (a copy of x after
     * the attention block; NULL or x itself: none) and gate|up. {@code mlp} false stops after gate|up (a backward's
     * recomputation: all it needs). Keys and values go to the caches of {@code p} at layer offsets kOff, vOff.
     * {@code probs}: null, or where the probabilities go (they need the row statistics).
     */
    private void layerForward(int l, Pass p, DevicePointer x, CudaRecord.Layer out, long kOff, long vOff, boolean mlp, Probs probs) {
        ModelConfig c = model.config();
        int n = p.n, H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize(), QKV = Q + 2 * K;
        float eps = (float) c.rmsNormEps();
        CudaWeights.Layer w = weights.layers.get(l);
        DevicePointer xn = ws.get("xn", 4L * n * Math.max(H, I)), attn = ws.get("attn", 4L * n * Q), proj = ws.get("proj", 4L * n * H);
        if (out.input().address() != 0 && out.input().address() != x.address()) device.copy(out.input(), x, 4L * n * H);
        // attention block
        kernels.rmsnorm(actType(n, w.qkv()), xn, x, w.inputNorm(), DevicePointer.NULL, out.inv1(), n, H, eps);
        linear(out.qkv(), xn, n, w.qkv(), w.qkvBias());
        if (lora != null && (lora.has(l, Lora.Projection.Q) || lora.has(l, Lora.Projection.K) || lora.has(l, Lora.Projection.V))) {
            DevicePointer lx = loraInput(xn, x, w.inputNorm(), n, actType(n, w.qkv()));   // the adapter's branches (LoraBranch.forward)
            lora.forward(l, Lora.Projection.Q, lx, H, n, out.qkv(), QKV);
            lora.forward(l, Lora.Projection.K, lx, H, n, out.qkv().plus(4L * Q), QKV);
            lora.forward(l, Lora.Projection.V, lx, H, n, out.qkv().plus(4L * (Q + K)), QKV);
        }
        DevicePointer k = out.qkv().plus(4L * Q), v = out.qkv().plus(4L * (Q + K));
        kernels.rope(out.qkv(), k, p.at(p.aCos), p.at(p.aSin), n, c.numHeads(), c.numKvHeads(), c.headDim(), QKV);
        kernels.kvAppend(k, v, QKV, p.at(p.aTokSeq), p.at(p.aTokPos), p.at(p.aBlocks), p.at(p.aSeqTable), kOff, vOff, n, c.numKvHeads(), c.headDim());
        DataType oType = actType(n, w.o());
        // O in f32 for the record, or for an adapter on o_proj whose GEMM input is 16-bit (its branch reads f32)
        DevicePointer o32 = out.o().address() != 0 ? out.o()
                : lora != null && lora.has(l, Lora.Projection.O) && oType != DataType.F32 ? ws.get("lora.o", 4L * n * Q) : DevicePointer.NULL;
        boolean f32Out = o32.address() != 0;
        Kernels.Attention a = p.attention(l, f32Out ? o32 : attn, Q, out.qkv(), kOff, vOff, out.stats());
        int splits = p.splits;
        DevicePointer partO = splits > 1 ? ws.get("partO", 4L * splits * n * Q) : DevicePointer.NULL;
        DevicePointer partMl = splits > 1 ? ws.get("partMl", 8L * splits * n * c.numHeads()) : DevicePointer.NULL;
        kernels.attention(f32Out ? DataType.F32 : oType, p.decode, splits, partO, partMl, a);
        if (probs != null) {
            kernels.attentionProbs(probs.device(), probs.offsets(), probs.seqStart(), a);
            long[] off = probs.hostOffsets();
            float[] host = new float[(int) off[p.seqs]];
            device.copyToHost(host, probs.device());
            for (int s = 0; s < p.seqs; s++) probs.host()[l][s] = Arrays.copyOfRange(host, (int) off[s], (int) off[s + 1]);
        }
        DevicePointer oIn = attn;
        if (f32Out) {
            if (oType == DataType.F32) oIn = o32;
            else kernels.convert(oType, attn, Q, o32, Q, n, Q);   // the rounding the kernel's own bf16/f16 output does
        }
        linear(proj, oIn, n, w.o(), DevicePointer.NULL);
        if (lora != null) lora.forward(l, Lora.Projection.O, f32Out ? o32 : oIn, Q, n, proj, H);
        kernels.residualAdd(x, H, proj, H, w.oBias(), n, H);
        if (out.mid().address() != 0 && out.mid().address() != x.address()) device.copy(out.mid(), x, 4L * n * H);
        // MLP block
        kernels.rmsnorm(actType(n, w.gateUp()), xn, x, w.postNorm(), DevicePointer.NULL, out.inv2(), n, H, eps);
        linear(out.gu(), xn, n, w.gateUp(), DevicePointer.NULL);
        if (lora != null && (lora.has(l, Lora.Projection.GATE) || lora.has(l, Lora.Projection.UP))) {
            DevicePointer lx = loraInput(xn, x, w.postNorm(), n, actType(n, w.gateUp()));   // before the MLP biases, which swiglu adds
            lora.forward(l, Lora.Projection.GATE, lx, H, n, out.gu(), 2 * I);
            lora.forward(l, Lora.Projection.UP, lx, H, n, out.gu().plus(4L * I), 2 * I);
        }
        if (!mlp) return;
        DevicePointer act = ws.get("act", 4L * n * I);
        kernels.swiglu(actType(n, w.down()), act, I, out.gu(), 2 * I, w.gateBias(), w.upBias(), n, I);
        linear(proj, act, n, w.down(), DevicePointer.NULL);
        if (lora != null && lora.has(l, Lora.Projection.DOWN)) {
            DevicePointer la = act;
            if (actType(n, w.down()) != DataType.F32) {      // the branch reads silu(gate)·up in f32
                la = ws.get("lora.act", 4L * n * I);
                kernels.swiglu(DataType.F32, la, I, out.gu(), 2 * I, w.gateBias(), w.upBias(), n, I);
            }
            lora.forward(l, Lora.Projection.DOWN, la, I, n, proj, H);
        }
        kernels.residualAdd(x, H, proj, H, w.downBias(), n, H);
    }

    /**
     * The f32 input of an adapter's branch beside a projection that reads {@code norm(x)}: {@code xn} itself when the
     * pass's GEMM input is f32, else {@code norm(x)} again in f32 (the branch never reads the 16-bit rounding).
     */
    private DevicePointer loraInput(DevicePointer xn, DevicePointer x, DevicePointer norm, int n, DataType gemmInput) {
        if (gemmInput == DataType.F32) return xn;
        ModelConfig c = model.config();
        DevicePointer out = ws.get("lora.x", 4L * n * c.hiddenSize());
        kernels.rmsnorm(DataType.F32, out, x, norm, DevicePointer.NULL, DevicePointer.NULL, n, c.hiddenSize(), (float) c.rmsNormEps());
        return out;
    }

    private Object run(List<int[]> tokens, List<float[]> embeddings, DeviceInput deviceInput, int[] seqStart, int[] past,
                       CudaKvCache[] caches, LogitsMode mode, CudaRecord rec, AttentionIntervention iv, Pick pick) {
        ModelConfig c = model.config();
        int seqs = caches.length, n = seqStart[seqs];
        int H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize(), V = c.vocabSize(), heads = c.numHeads();
        int L = c.numLayers();

        // the little arrays of this pass, one copy to the device
        Workspace.Args args = new Workspace.Args();
        Pass p = new Pass(args, seqStart, past, caches, iv, rec != null);
        int aSeqStart = args.ints(seqStart);
        int aIds = -1;
        if (tokens != null) {
            int[] ids = new int[n];
            for (int s = 0; s < seqs; s++) System.arraycopy(tokens.get(s), 0, ids, seqStart[s], seqStart[s + 1] - seqStart[s]);
            aIds = args.ints(ids);
        }
        int m = mode == LogitsMode.NONE ? 0 : mode == LogitsMode.LAST ? seqs : n;
        int[] last = new int[seqs];
        for (int s = 0; s < seqs; s++) last[s] = seqStart[s + 1] - 1;
        int aLast = args.ints(last);
        long[] probsOff = null;
        int aProbsOff = -1;
        boolean keepProbs = rec != null && rec.keepsAttentionProbs();
        if (keepProbs) {
            probsOff = new long[seqs + 1];
            for (int s = 0; s < seqs; s++) probsOff[s + 1] = probsOff[s] + (long) heads * (seqStart[s + 1] - seqStart[s]) * p.seqCtx[s];
            if (probsOff[seqs] > Integer.MAX_VALUE) throw new IllegalArgumentException("the attention probabilities of this batch exceed 2^31 floats");
            aProbsOff = args.longs(probsOff);
        }
        int aDraws = -1, aTemp = -1, aTopP = -1, aLabelStart = -1, aLabelIds = -1;
        Sampling sampling = pick instanceof Sampling x ? x : null;
        if (sampling != null && !sampling.params().isGreedy()) {
            double[] t = new double[seqs], tp = new double[seqs];
            Arrays.fill(t, sampling.params().temperature());
            Arrays.fill(tp, sampling.params().topP());
            aDraws = args.doubles(sampling.draws());
            aTemp = args.doubles(t);
            aTopP = args.doubles(tp);
        }
        int[][] labelTokens = pick instanceof Labels x ? x.labelTokens() : pick instanceof Flip x ? x.labelTokens() : null;
        Labels labelPick = pick instanceof Labels x ? x : null;
        if (labelTokens != null) {
            int[][] lt = labelTokens;
            int[] start = new int[lt.length + 1];
            for (int g = 0; g < lt.length; g++) start[g + 1] = start[g] + lt[g].length;
            int[] ids = new int[start[lt.length]];
            for (int g = 0; g < lt.length; g++) System.arraycopy(lt[g], 0, ids, start[g], lt[g].length);
            aLabelStart = args.ints(start);
            aLabelIds = args.ints(ids);
        }
        p.upload(args, "args");

        if (rec != null) {
            rec.close();                                    // a refilled record gives its previous memory back first
            rec.attach(allocRecord(CudaRecord.deviceBytes(rec.recomputes(), n, seqs, L, H, Q, K, I, heads, V)), n, seqs, L, H, Q, K, I, heads, V);
            rec.seqStart = seqStart.clone();
            rec.layers = L;
            rec.probs = keepProbs ? new float[L][seqs][] : null;
            rec.lastLogits = null;
            rec.past = past.clone();
            rec.prefix = new CudaKvCache[seqs];
            for (int s = 0; s < seqs; s++)
                if (past[s] > 0) {                          // the cached prefix: constants of the backward
                    try {
                        rec.prefix[s] = caches[s].forkPrefix(past[s]);
                    } catch (BackendMemoryException e) {
                        if (e.getCause() instanceof DeviceOutOfMemoryException d) throw d;   // the pass's handler undoes the rest
                        throw e;
                    }
                }
        }
        DevicePointer x = ws.get("x", 4L * n * H);
        if (tokens != null) {
            kernels.embedding(weights.embed.type(), x, weights.embed.ptr(), p.at(aIds), n, H);
        } else if (deviceInput != null && deviceInput.ids()) {
            kernels.embedding(weights.embed.type(), x, weights.embed.ptr(), deviceInput.x(), n, H);
        } else if (deviceInput != null) {
            device.copy(x, deviceInput.x(), 4L * n * H);
        } else {
            float[] all = new float[n * H];
            for (int s = 0; s < seqs; s++) System.arraycopy(embeddings.get(s), 0, all, seqStart[s] * H, embeddings.get(s).length);
            device.copyToDevice(x, all);
        }
        Probs probs = keepProbs ? new Probs(ws.get("probs", 4 * probsOff[seqs]), p.at(aProbsOff), p.at(aSeqStart), probsOff, rec.probs) : null;
        boolean full = rec != null && !rec.recomputes();
        CudaRecord.Layer work = full ? null : workLayer(n, keepProbs);
        for (int l = 0; l < L; l++) {
            CudaRecord.Layer out = full ? rec.layer[l] : work;
            if (rec != null && !full)                       // checkpointed: only the layer's input is kept
                out = new CudaRecord.Layer(rec.layer[l].input(), out.inv1(), out.qkv(), out.o(), out.stats(), out.mid(), out.inv2(), out.gu());
            layerForward(l, p, x, out, pool.keyOffset(l), pool.valueOffset(l), true, probs);
        }
        if (rec != null) kernels.gatherRows(rec.finalX, H, x, H, p.at(aLast), seqs, H);

        // final norm and LM head on the rows that get logits
        int[] firstRow = new int[seqs + 1];
        if (mode == LogitsMode.LAST) for (int s = 0; s < seqs; s++) firstRow[s + 1] = s + 1;
        else if (mode == LogitsMode.ALL) System.arraycopy(seqStart, 0, firstRow, 0, seqs + 1);
        if (m == 0) return new Logits(V, new float[0], firstRow);
        DevicePointer logits = ws.get("logits", 4L * m * V), xn = ws.get("xn", 4L * n * Math.max(H, I));
        kernels.rmsnorm(actType(m, weights.lmHead), xn, x, weights.finalNorm, mode == LogitsMode.LAST ? p.at(aLast) : DevicePointer.NULL,
                DevicePointer.NULL, m, H, (float) c.rmsNormEps());
        linear(logits, xn, m, weights.lmHead, DevicePointer.NULL);
        if (sampling != null) {
            DevicePointer picked = ws.get("picked", 4L * seqs);
            if (sampling.params().isGreedy()) kernels.argmax(picked, logits, V, seqs, V);
            else kernels.sample(picked, logits, V, seqs, V, p.at(aDraws), p.at(aTemp), p.at(aTopP));
            int[] ids = new int[seqs];
            device.copyToHost(ids, picked);
            return ids;
        }
        if (pick instanceof Flip fl) {
            kernels.labelLogits(fl.logit(), fl.token(), fl.pred(), logits, V, p.at(aLabelStart), p.at(aLabelIds), m, labelTokens.length);
            return null;
        }
        if (labelPick != null) {
            int labels = labelPick.labelTokens().length;
            DevicePointer lLogit = ws.get("l.logit", 4L * m * labels), lToken = ws.get("l.token", 4L * m * labels), lPred = ws.get("l.pred", 4L * m);
            kernels.labelLogits(lLogit, lToken, lPred, logits, V, p.at(aLabelStart), p.at(aLabelIds), m, labels);
            float[] lv = new float[m * labels];
            int[] lt = new int[m * labels], lp = new int[m];
            device.copyToHost(lv, lLogit);
            device.copyToHost(lt, lToken);
            device.copyToHost(lp, lPred);
            LabelLogits[] out = new LabelLogits[seqs];
            for (int s = 0; s < seqs; s++) {
                int row = firstRow[s + 1] - 1;
                out[s] = new LabelLogits(Arrays.copyOfRange(lv, row * labels, (row + 1) * labels),
                        Arrays.copyOfRange(lt, row * labels, (row + 1) * labels), lp[row]);
            }
            return out;
        }
        float[] host = new float[m * V];
        device.copyToHost(host, logits);
        if (rec != null) {
            if (mode == LogitsMode.LAST) device.copy(rec.logits, logits, 4L * seqs * V);
            else kernels.gatherRows(rec.logits, V, logits, V, p.at(aLast), seqs, V);
            rec.lastLogits = new float[seqs][];
            for (int s = 0; s < seqs; s++) rec.lastLogits[s] = Arrays.copyOfRange(host, (firstRow[s + 1] - 1) * V, firstRow[s + 1] * V);
        }
        return new Logits(V, host, firstRow);
    }

    // ------------------------------------------------------------------ backward

    @Override
    public boolean supportsBackward() { return true; }

    /**
     * {@inheritDoc}
     *
     * <p>The record keeps a fork of each such sequence's cache at its prefix ({@link CudaRecord#prefix}); the backward
     * is the same pass with the prefix's length as each sequence's {@code past}: RoPE⁻¹ at the recorded positions, the
     * attention backward's dq over the prefix's keys and values (read from the fork's blocks, constants) and the
     * recorded ones, dk and dv for the recorded keys only; a checkpointed record's recomputation attends to the same
     * prefix (copied, per layer, into its one-layer KV blocks).
     */
    @Override
    public boolean supportsPrefixRecord() { return true; }

    /**
     * {@inheritDoc}
     *
     * <p>The forward in reverse over one record, each step the backward kernel beside its forward (llm.c's
     * {@code gpt2_backward} style): the seed {@code d target / d logits} of each sequence's last row on the device
     * ({@code target_grad}), {@code dy·W} through the LM head ({@link #linearBackward}), the final norm's backward on
     * the last rows scattered into a zero dx, then per layer from the last:
     * <pre>
     *   d act     = dx·Wdown                          linear backward (gemv_t, or cuBLAS dy·W)
     *   d g|u     = swiglu backward (rules)           swiglu.cu
     *   d xn      = d g|u·[Wgate|Wup]                 one GEMM over the fused weights
     *   dx       += rmsnorm backward (post norm)       rmsnorm.cu (plain, or 1/rms constant)
     *   d a       = dx·Wo
     *   Delta     = rowsum(O∘d a)                      attention.cu
     *   dq|dk|dv  = flash attention backward (rules)   attention.cu (dk, dv per key tile; dq per query tile)
     *   dq, dk    = RoPE⁻¹                            rope.cu with −sin
     *   d xn      = dq|dk|dv·[Wq|Wk|Wv]                one GEMM
     *   dx       += rmsnorm backward (input norm)
     * </pre>
     * Every rule decision comes from {@link LrpRules} and reaches the kernels as parameters. A checkpointed record
     * recomputes each layer's internals first ({@link #layerForward} without the MLP's down projection, into one-layer
     * KV blocks): the same kernels and launch decisions as the recorded forward, so the same bits.
     *
     * <p>Precision: f32 throughout, except that a GEMM of more than {@link Kernels#GEMV_MAX_ROWS} rows against 16-bit
     * weights rounds its gradient input to the weights' dtype (cuBLAS takes one type for both; PyTorch's backward of a
     * bf16 model does the same); a pass of at most that many rows keeps f32 ({@code gemv_t}).
     *
     * <p>Memory besides the record: the work buffers of {@link #backwardBytesPerToken} per token, the seed
     * {@code 4·S·V}, and with a checkpointed record one layer's internals plus its one-layer KV blocks.
     */
    @Override
    public synchronized float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) {
        check();
        freeGarbage();
        CudaRecord rec = checkedRecord(record, targets, mode);
        int seqs = rec.numSequences(), n = rec.numTokens(), H = model.config().hiddenSize(), V = model.config().vocabSize();
        int[] kind = new int[seqs], token = new int[seqs], foil = new int[seqs];
        targetArrays(targets, V, kind, token, foil);
        try {
            DevicePointer dx = backwardPass(rec, mode.rules(), kind, token, foil);
            float[] all = download(dx, (long) n * H);
            float[][] out = new float[seqs][];
            for (int s = 0; s < seqs; s++) out[s] = Arrays.copyOfRange(all, rec.seqStart[s] * H, rec.seqStart[s + 1] * H);
            return out;
        } catch (DeviceOutOfMemoryException e) {
            ws.close();
            throw new BackendMemoryException(e.getMessage() + " (a backward pass of " + n + " tokens in " + seqs + " sequences)", e);
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>On the device: the backward of {@link #backward}, then {@code token_scores} over its dx and the record's
     * embeddings; only two doubles per token come back.
     */
    @Override
    public synchronized double[][][] backwardTokenScores(ForwardRecord record, List<Target> targets, RuleMode mode) {
        check();
        freeGarbage();
        CudaRecord rec = checkedRecord(record, targets, mode);
        int seqs = rec.numSequences(), n = rec.numTokens(), H = model.config().hiddenSize();
        int[] kind = new int[seqs], token = new int[seqs], foil = new int[seqs];
        targetArrays(targets, model.config().vocabSize(), kind, token, foil);
        try {
            DevicePointer dx = backwardPass(rec, mode.rules(), kind, token, foil);
            DevicePointer scores = ws.get("b.scores", 16L * n);
            kernels.tokenScores(scores, rec.layer[0].input(), dx, n, H);
            double[] all = new double[2 * n];
            device.copyToHost(all, scores);
            double[][][] out = new double[seqs][2][];
            for (int s = 0; s < seqs; s++) {
                int a = rec.seqStart[s], len = rec.seqStart[s + 1] - a;
                out[s][0] = new double[len];
                out[s][1] = new double[len];
                for (int i = 0; i < len; i++) {
                    out[s][0][i] = all[2 * (a + i)];
                    out[s][1][i] = all[2 * (a + i) + 1];
                }
            }
            return out;
        } catch (DeviceOutOfMemoryException e) {
            ws.close();
            throw new BackendMemoryException(e.getMessage() + " (a backward pass of " + n + " tokens in " + seqs + " sequences)", e);
        }
    }

    @Override
    public boolean supportsLoraGradients() { return true; }

    /**
     * {@inheritDoc}
     *
     * <p>The pass of {@link #backward} under {@link RuleMode#GRADIENT}, seeded with the given logit gradients; at each
     * targeted projection {@link CudaLora#backward} reads the projection's f32 input (q, k, v, gate, up: the norm of
     * the recorded residual stream, recomputed; o: the record's f32 attention output; down: silu(gate)·up, recomputed)
     * and its output gradient as the pass computes it, and accumulates dA and dB in f32 device buffers, which are
     * added into {@code grads} at the end (as the CPU backend's {@code LoraBranch.weightGrad} does).
     */
    @Override
    public synchronized void backwardLora(ForwardRecord record, List<float[]> logitGradients, Lora.Gradients grads) {
        check();
        freeGarbage();
        if (lora == null) throw new IllegalArgumentException("the model has no unmerged LoRA adapter");
        if (grads == null) throw new IllegalArgumentException("no gradient buffers");
        int V = model.config().vocabSize();
        CudaRecord rec = checkedRecord(record, Collections.nCopies(logitGradients.size(), new Target.Logit(0)), RuleMode.GRADIENT);
        int seqs = rec.numSequences(), n = rec.numTokens();
        float[] dLogits = new float[seqs * V];
        for (int s = 0; s < seqs; s++) {
            float[] g = logitGradients.get(s);
            if (g == null || g.length != V) throw new IllegalArgumentException("sequence " + s + ": the logit gradient must hold " + V + " values");
            System.arraycopy(g, 0, dLogits, s * V, V);
        }
        int[] zero = new int[seqs];
        try {
            backwardPass(rec, RuleMode.GRADIENT.rules(), zero, zero, zero, dLogits, true);
            lora.addGradientsTo(grads);
        } catch (DeviceOutOfMemoryException e) {
            ws.close();
            throw new BackendMemoryException(e.getMessage() + " (a LoRA backward pass of " + n + " tokens in " + seqs + " sequences)", e);
        }
    }

    /** The record as {@link #backward} requires it (filled by this backend, with logits). */
    private CudaRecord checkedRecord(ForwardRecord record, List<Target> targets, RuleMode mode) {
        CudaRecord rec = record(record);
        if (rec == null || !rec.filled()) throw new IllegalArgumentException("the record was not filled by a forward pass (or is closed)");
        if (mode == null) throw new IllegalArgumentException("no rule mode");
        if (rec.layers != model.numLayers() || rec.hidden != model.config().hiddenSize())
            throw new IllegalArgumentException("the record does not come from this model");
        if (rec.lastLogits == null) throw new IllegalArgumentException("the record has no logits: record with LogitsMode.LAST or ALL");
        if (targets.size() != rec.numSequences())
            throw new IllegalArgumentException(rec.numSequences() + " sequences but " + targets.size() + " targets");
        return rec;
    }

    /** The target kinds, ids and foils of {@code target_grad}; ids checked against the vocabulary. */
    private static void targetArrays(List<Target> targets, int V, int[] kind, int[] token, int[] foil) {
        for (int s = 0; s < targets.size(); s++) {
            Target t = targets.get(s);
            switch (t) {
                case null -> throw new IllegalArgumentException("sequence " + s + " has no target");
                case Target.Logit x -> {
                    kind[s] = Kernels.TARGET_LOGIT;
                    token[s] = x.tokenId();
                }
                case Target.LogProb x -> {
                    kind[s] = Kernels.TARGET_LOGPROB;
                    token[s] = x.tokenId();
                }
                case Target.Contrast x -> {
                    kind[s] = Kernels.TARGET_CONTRAST;
                    token[s] = x.tokenId();
                    foil[s] = x.foilId();
                }
            }
            if (token[s] >= V || foil[s] >= V)
                throw new IllegalArgumentException("sequence " + s + ": token id " + Math.max(token[s], foil[s]) + " outside [0, " + V + ")");
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>On the device: e, b and acc go up once; {@code ig_interpolate} builds the batch's inputs, a recorded forward
     * from them and one backward run as {@link #forwardEmbeddings} and {@link #backward} do, {@code ig_accumulate}
     * adds the weighted gradients to acc in the host's order and arithmetic, and only acc comes back.
     */
    @Override
    public synchronized void integratedGradientsBatch(float[] e, float[] b, double[] alpha, double[] weight, int from, int to,
                                                      Target target, boolean recompute, double[] acc) {
        check();
        freeGarbage();
        ModelConfig c = model.config();
        int H = c.hiddenSize(), steps = to - from;
        if (from < 0 || to > alpha.length || to > weight.length || steps <= 0)
            throw new IllegalArgumentException("steps [" + from + ", " + to + ") of " + alpha.length);
        if (e.length == 0 || e.length % H != 0 || b.length != e.length || acc.length != e.length)
            throw new IllegalArgumentException("input, baseline and sum must be the same non-empty multiple of hidden size " + H);
        long len = e.length;
        int[] kind = new int[steps], token = new int[steps], foil = new int[steps], lengths = new int[steps];
        targetArrays(Collections.nCopies(steps, target), c.vocabSize(), kind, token, foil);
        Arrays.fill(lengths, e.length / H);
        try (CudaRecord rec = new CudaRecord(this, false, recompute)) {
            Workspace.Args args = new Workspace.Args();
            int aAlpha = args.doubles(Arrays.copyOfRange(alpha, from, to)), aWeight = args.doubles(Arrays.copyOfRange(weight, from, to));
            byte[] packed = args.bytes();
            DevicePointer base = ws.get("ig.args", packed.length);
            device.copyToDevice(base, packed);
            DevicePointer de = ws.get("ig.e", 4 * len), db = ws.get("ig.b", 4 * len), dacc = ws.get("ig.acc", 8 * len);
            DevicePointer x = ws.get("ig.x", 4 * len * steps);
            device.copyToDevice(de, e);
            device.copyToDevice(db, b);
            device.copyToDevice(dacc, acc);
            kernels.igInterpolate(x, de, db, base.plus(aAlpha), steps, len);
            pass(null, null, new DeviceInput(x, lengths), null, ForwardOptions.of(LogitsMode.LAST).withRecord(rec), null);
            DevicePointer g = backwardPass(rec, RuleMode.GRADIENT.rules(), kind, token, foil);
            kernels.igAccumulate(dacc, g, len, base.plus(aWeight), steps, len);
            device.copyToHost(acc, dacc);
        } catch (DeviceOutOfMemoryException x) {
            ws.close();
            throw new BackendMemoryException(x.getMessage() + " (integrated gradients: " + steps + " steps of " + e.length / H + " tokens)", x);
        }
    }

    /** The backward pass (see {@link #backward}); returns dx, the gradient of the input embeddings {@code [n, H]} (a work buffer). */
    private DevicePointer backwardPass(CudaRecord rec, LrpRules rules, int[] kind, int[] token, int[] foil) {
        return backwardPass(rec, rules, kind, token, foil, null, false);
    }

    /**
     * The backward pass seeded by the targets ({@code kind}, {@code token}, {@code foil}) or, with {@code seedLogits}
     * ({@code [S·V]}), by those logit gradients; {@code loraGrads}: also the adapter's weight gradients, into its
     * device buffers (zeroed here).
     */
    private DevicePointer backwardPass(CudaRecord rec, LrpRules rules, int[] kind, int[] token, int[] foil, float[] seedLogits,
                                       boolean loraGrads) {
        if (lora != null) {
            lora.refresh();
            if (loraGrads) lora.zeroGradients();
        }
        ModelConfig c = model.config();
        int seqs = rec.numSequences(), n = rec.numTokens(), H = c.hiddenSize(), V = c.vocabSize(), Q = c.qDim(), K = c.kvDim();
        int I = c.intermediateSize(), QKV = Q + 2 * K, heads = c.numHeads(), hd = c.headDim(), half = hd / 2;
        int[] seqStart = rec.seqStart;

        // the backward's little arrays: targets, last rows, tiles, RoPE tables with −sin
        Workspace.Args args = new Workspace.Args();
        int aKind = args.ints(kind), aToken = args.ints(token), aFoil = args.ints(foil), aSeqStart = args.ints(seqStart);
        int[] last = new int[seqs], pos = new int[n];
        for (int s = 0; s < seqs; s++) {
            last[s] = seqStart[s + 1] - 1;
            for (int t = seqStart[s]; t < seqStart[s + 1]; t++) pos[t] = rec.prefixLength(s) + t - seqStart[s];
        }
        int aLast = args.ints(last);
        // after a cached prefix: each sequence's past and the block table of the record's prefix forks
        boolean prefixed = rec.hasPrefix();
        int aPast = -1, aPrefixTable = -1, aPrefixBlocks = -1;
        if (prefixed) {
            int[] table = new int[seqs];
            List<Long> blocks = new ArrayList<>();
            for (int s = 0; s < seqs; s++) {
                table[s] = blocks.size();
                if (rec.prefix[s] != null) for (long b : rec.prefix[s].blockAddresses()) blocks.add(b);
            }
            aPast = args.ints(rec.past);
            aPrefixTable = args.ints(table);
            aPrefixBlocks = args.longs(blocks.stream().mapToLong(Long::longValue).toArray());
        }
        int bt = Kernels.attentionBackwardTile(Kernels.attentionVariant(hd));
        List<Integer> tileList = new ArrayList<>();
        for (int s = 0; s < seqs; s++)
            for (int t = seqStart[s]; t < seqStart[s + 1]; t += bt) {
                tileList.add(t);
                tileList.add(s);
            }
        int[] tiles = tileList.stream().mapToInt(Integer::intValue).toArray();
        int aTiles = args.ints(tiles);
        float[] cos = new float[n * half], negSin = new float[n * half];
        rope.tables(pos, cos, negSin);
        for (int i = 0; i < negSin.length; i++) negSin[i] = -negSin[i];
        int aCos = args.floats(cos), aNegSin = args.floats(negSin);
        byte[] packed = args.bytes();
        DevicePointer base = ws.get("bargs", packed.length);
        device.copyToDevice(base, packed);

        DevicePointer dlogits = ws.get("b.dlogits", 4L * seqs * V), dnormed = ws.get("b.dnormed", 4L * seqs * H);
        DevicePointer rowsTmp = ws.get("b.rows", 4L * seqs * H), inv = ws.get("b.inv", 4L * seqs), dlast = ws.get("b.dlast", 4L * seqs * H);
        DevicePointer dx = ws.get("b.dx", 4L * n * H), dxn = ws.get("b.dxn", 4L * n * H), dattn = ws.get("b.dattn", 4L * n * Q);
        DevicePointer dqkv = ws.get("b.dqkv", 4L * n * QKV), dact = ws.get("b.dact", 4L * n * I), dgu = ws.get("b.dgu", 4L * n * 2 * I);
        DevicePointer delta = ws.get("b.delta", 4L * n * heads);

        // the LM head and the final norm, on each sequence's last row
        if (seedLogits != null) device.copyToDevice(dlogits, seedLogits);
        else kernels.targetGradient(dlogits, V, rec.logits, V, base.plus(aKind), base.plus(aToken), base.plus(aFoil), seqs, V);
        linearBackward(dnormed, dlogits, seqs, weights.lmHead, false);
        float eps = (float) c.rmsNormEps();
        kernels.rmsnorm(DataType.F32, rowsTmp, rec.finalX, weights.finalNorm, DevicePointer.NULL, inv, seqs, H, eps);   // the forward's 1/rms
        kernels.rmsnormBackward(dlast, dnormed, rec.finalX, weights.finalNorm, inv, seqs, H, rules.constantRms(), false);
        device.memset(dx, (byte) 0, 4L * n * H);
        kernels.scatterRows(dx, H, dlast, H, base.plus(aLast), seqs, H);

        float scale = (float) (1.0 / Math.sqrt(hd));
        try (Recompute re = rec.recomputes() ? new Recompute(rec) : null) {
            for (int l = c.numLayers() - 1; l >= 0; l--) {
                CudaWeights.Layer w = weights.layers.get(l);
                CudaRecord.Layer lr = re == null ? rec.layer[l] : re.layer(l);
                // x_out = mid + down(swiglu(gate|up(norm(mid))))
                linearBackward(dact, dx, n, w.down(), false);
                if (lora != null && lora.has(l, Lora.Projection.DOWN)) {   // input: silu(gate)·up, recomputed in f32
                    DevicePointer act = DevicePointer.NULL;
                    if (loraGrads) {
                        act = ws.get("b.lact", 4L * n * I);
                        kernels.swiglu(DataType.F32, act, I, lr.gu(), 2 * I, w.gateBias(), w.upBias(), n, I);
                    }
                    lora.backward(l, Lora.Projection.DOWN, act, I, dx, H, n, dact, I, loraGrads);
                }
                kernels.swigluBackward(dgu, 2 * I, dact, I, lr.gu(), 2 * I, w.gateBias(), w.upBias(), n, I, rules.gateProductShare(),
                        rules.siluIdentity(), rules.stopGradientGate());
                linearBackward(dxn, dgu, n, w.gateUp(), false);
                if (lora != null && (lora.has(l, Lora.Projection.GATE) || lora.has(l, Lora.Projection.UP))) {
                    DevicePointer xn = loraGrads ? normed(lr.mid(), w.postNorm(), n) : DevicePointer.NULL;
                    if (!rules.stopGradientGate()) lora.backward(l, Lora.Projection.GATE, xn, H, dgu, 2 * I, n, dxn, H, loraGrads);
                    lora.backward(l, Lora.Projection.UP, xn, H, dgu.plus(4L * I), 2 * I, n, dxn, H, loraGrads);
                }
                kernels.rmsnormBackward(dx, dxn, lr.mid(), w.postNorm(), lr.inv2(), n, H, rules.constantRms(), true);
                // mid = input + o(attention(rope(q), rope(k), v)) with q|k|v projections of norm(input)
                linearBackward(dattn, dx, n, w.o(), false);
                if (lora != null) lora.backward(l, Lora.Projection.O, lr.o(), Q, dx, H, n, dattn, Q, loraGrads);   // input: the f32 O
                kernels.attentionBackwardDelta(delta, lr.o(), Q, dattn, Q, n, heads, hd);
                kernels.attentionBackward(new Kernels.AttentionBackward(dqkv, dqkv.plus(4L * Q), dqkv.plus(4L * (Q + K)), QKV,
                        lr.qkv(), lr.qkv().plus(4L * Q), lr.qkv().plus(4L * (Q + K)), QKV, dattn, Q, lr.stats(), delta,
                        base.plus(aTiles), tiles.length / 2, base.plus(aSeqStart), n, heads, c.numKvHeads(), hd, c.slidingWindow(), scale,
                        // RoPE's backward is linear: PE-LRP's share of its products scales dq and dk with AttnLRP's factor
                        rules.qkGradientScale() * rules.ropeProductShare(), rules.vGradientScale(), rules.stopGradientQK(),
                        prefixed ? base.plus(aPrefixBlocks) : DevicePointer.NULL, prefixed ? base.plus(aPrefixTable) : DevicePointer.NULL,
                        pool.keyOffset(l), pool.valueOffset(l), prefixed ? base.plus(aPast) : DevicePointer.NULL));
                kernels.ropeInverse(dqkv, dqkv.plus(4L * Q), base.plus(aCos), base.plus(aNegSin), n, heads, c.numKvHeads(), hd, QKV);
                linearBackward(dxn, dqkv, n, w.qkv(), false);
                if (lora != null && (lora.has(l, Lora.Projection.Q) || lora.has(l, Lora.Projection.K) || lora.has(l, Lora.Projection.V))) {
                    DevicePointer xn = loraGrads ? normed(lr.input(), w.inputNorm(), n) : DevicePointer.NULL;
                    if (!rules.stopGradientQK()) {             // else dq and dk are zero
                        lora.backward(l, Lora.Projection.Q, xn, H, dqkv, QKV, n, dxn, H, loraGrads);
                        lora.backward(l, Lora.Projection.K, xn, H, dqkv.plus(4L * Q), QKV, n, dxn, H, loraGrads);
                    }
                    lora.backward(l, Lora.Projection.V, xn, H, dqkv.plus(4L * (Q + K)), QKV, n, dxn, H, loraGrads);
                }
                kernels.rmsnormBackward(dx, dxn, lr.input(), w.inputNorm(), lr.inv1(), n, H, rules.constantRms(), true);
            }
        }
        return dx;
    }

    /** RmsNorm of n rows of x with weight w in f32, as the forward computed it before rounding (a work buffer). */
    private DevicePointer normed(DevicePointer x, DevicePointer w, int n) {
        ModelConfig c = model.config();
        DevicePointer out = ws.get("b.lxn", 4L * n * c.hiddenSize());
        kernels.rmsnorm(DataType.F32, out, x, w, DevicePointer.NULL, DevicePointer.NULL, n, c.hiddenSize(), (float) c.rmsNormEps());
        return out;
    }

    /**
     * dx[rows, in] (+)= dy[rows, out]·W ({@code W [out, in]}): {@code gemv_t} in f32 for at most
     * {@link Kernels#GEMV_MAX_ROWS} rows, else cuBLAS with dy rounded to W's dtype (when it is 16-bit).
     */
    private void linearBackward(DevicePointer dx, DevicePointer dy, int rows, CudaWeights.Matrix w, boolean accumulate) {
        if (rows <= Kernels.GEMV_MAX_ROWS) {
            kernels.gemvTransposed(w.type(), dx, w.cols(), dy, w.rows(), w.ptr(), rows, w.rows(), w.cols(), accumulate);
            return;
        }
        DevicePointer in = dy;
        if (w.type() != DataType.F32) {
            in = ws.get("b.conv", (long) w.type().bytes * rows * w.rows());
            kernels.convert(w.type(), in, w.rows(), dy, w.rows(), rows, w.rows());
        }
        cublas.matmulBackward(dx, in, w.ptr(), w.type(), rows, w.cols(), w.rows(), accumulate);
    }

    /**
     * A checkpointed record's layers, recomputed one at a time from their recorded inputs (see {@link #backward}), into
     * one-layer KV blocks; a sequence recorded after a cached prefix gets, per layer, that layer's keys and values of
     * the prefix copied from the record's fork into its first blocks, so its queries attend to the same context.
     */
    private final class Recompute implements AutoCloseable {
        final CudaRecord rec;
        final Pass p;
        final CudaKvCache[] caches;
        final DevicePointer x;
        final CudaRecord.Layer work;

        Recompute(CudaRecord rec) {
            this.rec = rec;
            ModelConfig c = model.config();
            int seqs = rec.numSequences(), n = rec.numTokens();
            if (recomputePool == null) recomputePool = new BlockPool(device, 1, c.numKvHeads(), c.headDim());
            caches = new CudaKvCache[seqs];
            try {
                int[] past = new int[seqs];
                for (int s = 0; s < seqs; s++) {
                    past[s] = rec.prefixLength(s);
                    caches[s] = new CudaKvCache(recomputePool);
                    caches[s].reserve(past[s] + rec.sequenceLength(s));
                }
                Workspace.Args args = new Workspace.Args();
                p = new Pass(args, rec.seqStart, past, caches, null, true);
                p.upload(args, "rargs");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
            x = ws.get("r.x", 4L * n * c.hiddenSize());
            CudaRecord.Layer wl = workLayer(n, true);
            work = new CudaRecord.Layer(DevicePointer.NULL, wl.inv1(), wl.qkv(), wl.o(), wl.stats(), x, wl.inv2(), wl.gu());
        }

        /** Layer l's internals, in buffers the next call reuses; mid is the work copy of x. */
        CudaRecord.Layer layer(int l) {
            long layerBytes = 8L * recomputePool.valueOffset(0);   // one layer's keys and values of a block (adjacent)
            for (int s = 0; s < caches.length; s++) {
                if (p.past[s] == 0) continue;
                long[] from = rec.prefix[s].blockAddresses(), to = caches[s].blockAddresses();
                for (int b = 0; b < (p.past[s] + BlockPool.BLOCK - 1) / BlockPool.BLOCK; b++)
                    device.copy(DevicePointer.of(to[b]).plus(4 * recomputePool.keyOffset(0)), DevicePointer.of(from[b]).plus(4 * pool.keyOffset(l)), layerBytes);
            }
            device.copy(x, rec.layer[l].input(), 4L * p.n * model.config().hiddenSize());
            layerForward(l, p, x, work, recomputePool.keyOffset(0), recomputePool.valueOffset(0), false, null);
            return new CudaRecord.Layer(rec.layer[l].input(), work.inv1(), work.qkv(), work.o(), work.stats(), x, work.inv2(), work.gu());
        }

        @Override
        public void close() {
            for (CudaKvCache k : caches) if (k != null) k.close();
        }
    }

    // ------------------------------------------------------------------ device memory of records

    /** Copies {@code count} floats from the device. */
    synchronized float[] download(DevicePointer src, long count) {
        check();
        if (count > Integer.MAX_VALUE) throw new IllegalArgumentException(count + " floats do not fit a Java array");
        float[] out = new float[(int) count];
        device.copyToHost(out, src);
        return out;
    }

    /**
     * A record's device allocation. When the device is out of memory, records that became garbage are collected
     * and freed first, then it is tried once more.
     */
    private CudaRecord.Memory allocRecord(long bytes) {
        DevicePointer ptr;
        try {
            ptr = device.alloc(bytes);
        } catch (DeviceOutOfMemoryException e) {
            if (!reclaimGarbage()) throw e;
            ptr = device.alloc(bytes);
        }
        CudaRecord.Memory m = new CudaRecord.Memory(this, ptr, bytes);
        records.add(m);
        return m;
    }

    /** Runs the collector and frees the records it finds unreachable; true when it freed any. */
    private boolean reclaimGarbage() {
        int before = records.size();
        System.gc();
        long until = System.nanoTime() + 200_000_000L;
        do {
            synchronized (garbage) {
                if (!garbage.isEmpty()) break;
            }
            Thread.onSpinWait();
        } while (System.nanoTime() < until);
        freeGarbage();
        return records.size() < before;
    }

    /** The cleaner's path (any thread): queued, freed at the backend's next call. */
    void releaseLater(CudaRecord.Memory m) {
        synchronized (garbage) {
            garbage.add(m);
        }
    }

    /** {@link CudaRecord#close}: freed now. */
    synchronized void releaseNow(CudaRecord.Memory m) {
        if (!m.release()) return;
        records.remove(m);
        if (!closed) device.free(m.ptr);
    }

    private synchronized void freeGarbage() {
        while (true) {
            CudaRecord.Memory m;
            synchronized (garbage) {
                m = garbage.poll();
            }
            if (m == null) return;
            releaseNow(m);
        }
    }

    /** An intervention packed into a pass's arguments (offsets into them). */
    private record Steering(int mode, int causal, int start, int pos, int bias, int heads, int from) {
        static Steering pack(AttentionIntervention iv, Workspace.Args args, int seqs, int[] ctx, int numHeads) {
            int[] start = new int[seqs + 1], from = new int[seqs];
            int total = 0;
            for (int s = 0; s < seqs; s++) {
                AttentionIntervention.KeyBias kb = iv.bias(s, seqs);
                if (kb != null) for (int p : kb.positions()) if (p < ctx[s]) total++;
            }
            int[] pos = new int[Math.max(1, total)];
            float[] val = new float[Math.max(1, total)];
            int e = 0;
            for (int s = 0; s < seqs; s++) {
                AttentionIntervention.KeyBias kb = iv.bias(s, seqs);
                start[s] = e;
                if (kb == null) continue;
                int[] p = kb.positions();
                float[] v = kb.values();
                for (int i = 0; i < p.length; i++)
                    if (p[i] < ctx[s]) {
                        pos[e] = p[i];
                        val[e++] = v[i];
                    }
                from[s] = kb.fromQuery();
            }
            start[seqs] = e;
            int heads = -1;
            if (iv.heads() != null) {
                int[] mask = new int[numHeads];
                for (int h = 0; h < numHeads; h++) mask[h] = iv.atHead(h) ? 1 : 0;
                heads = args.ints(mask);
            }
            return new Steering(Kernels.interventionMode(iv.site()), iv.causal() ? 1 : 0, args.ints(start), args.ints(pos), args.floats(val), heads, args.ints(from));
        }
    }

    private void check() {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        for (CudaRecord.Memory m : records) if (m.release()) device.free(m.ptr);
        records.clear();
        closed = true;
        ws.close();
        pool.close();
        if (recomputePool != null) recomputePool.close();
        if (lora != null) lora.close();
        weights.close();
        cublas.close();
        device.close();
    }
}
