package io.rationale.cuda;

import io.rationale.engine.AttentionIntervention;
import io.rationale.engine.Backend;
import io.rationale.engine.BackendMemoryException;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.RopeTables;
import io.rationale.engine.RuleMode;
import io.rationale.engine.SamplingParams;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;

/**
 * The forward pass on a CUDA device (or the emulated one): Java orchestration of the kernels in
 * {@code cuda-kernels/} through JCuda ({@link Kernels}) and of cuBLAS GEMMs ({@link Cublas}), over weights in device
 * memory in their checkpoint dtype ({@link CudaWeights}) and KV caches of device blocks ({@link CudaKvCache}). For a
 * batch, all new tokens are packed into one {@code [tokens, hidden]} f32 residual stream x, then per layer, as
 * {@code CpuBackend} does:
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
 * <p>Records keep what the forward-only attribution methods need (see {@link CudaRecord}); the backward pass is not
 * written yet ({@link #supportsBackward()} is false). Thread-safe: calls take turns on the device.
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
        try {
            blas = Cublas.open(device);
            w = new CudaWeights(device, model);
        } catch (RuntimeException e) {
            if (w != null) w.close();
            if (blas != null) blas.close();
            throw e;
        }
        this.cublas = blas;
        this.weights = w;
        this.pool = new BlockPool(device, model.config());
        this.ws = new Workspace(device);
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
    public ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute) { return new CudaRecord(keepAttentionProbs, recompute); }

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

    /** A pass's buffers for t tokens and the host record's embeddings and last logits. */
    @Override
    public long bytesPerRecordedSequence(int tokens, boolean recompute) {
        ModelConfig c = model.config();
        return (long) tokens * (workBytesPerToken() + 4L * c.hiddenSize()) + 4L * c.vocabSize();
    }

    /** Bytes of the work buffers per packed token (x, xn, qkv, attention output, projection, gate|up, act). */
    private long workBytesPerToken() {
        ModelConfig c = model.config();
        long H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize();
        return 4L * (3 * H + Q + 2 * K + Q + 3 * I) + 64;
    }

    @Override
    public boolean supportsBackward() { return false; }

    @Override
    public float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode) {
        throw new UnsupportedOperationException("the CUDA backward pass is not implemented yet (" + device() + "): run gradient and LRP methods with --device cpu");
    }

    // ------------------------------------------------------------------ forward

    @Override
    public synchronized Logits forward(List<int[]> tokens, List<KvCache> cacheList, ForwardOptions options) {
        return (Logits) pass(tokens, null, cacheList, options, null);
    }

    @Override
    public synchronized Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options) {
        return (Logits) pass(null, embeddings, null, options, null);
    }

    /** Picks each sequence's next token on the device ({@code argmax_rows}, {@code sample_rows}); only the ids come back. */
    @Override
    public synchronized int[] forwardAndSample(List<int[]> tokens, List<KvCache> caches, AttentionIntervention intervention,
                                               SamplingParams params, double[] draws) {
        if (draws.length != tokens.size()) throw new IllegalArgumentException(tokens.size() + " sequences but " + draws.length + " draws");
        return (int[]) pass(tokens, null, caches, ForwardOptions.of(LogitsMode.LAST).withIntervention(intervention), new Sampling(params, draws));
    }

    /** What {@link #forwardAndSample} asks of a pass. */
    private record Sampling(SamplingParams params, double[] draws) {}

    /** One forward; returns {@link Logits}, or the sampled ids when {@code sampling} is given. */
    private Object pass(List<int[]> tokens, List<float[]> embeddings, List<KvCache> cacheList, ForwardOptions options, Sampling sampling) {
        check();
        ModelConfig c = model.config();
        int seqs = tokens != null ? tokens.size() : embeddings.size(), H = c.hiddenSize();
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
            Object out = run(tokens, embeddings, seqStart, past, caches, options.logits(), rec, iv, sampling);
            for (int s = 0; s < seqs; s++) caches[s].setLength(past[s] + seqStart[s + 1] - seqStart[s]);
            return out;
        } catch (DeviceOutOfMemoryException e) {
            for (int s = 0; s < seqs; s++) if (!throwaway[s]) caches[s].truncate(past[s]);
            throw new BackendMemoryException(e.getMessage() + " (a forward of " + seqStart[seqs] + " tokens in " + seqs + " sequences)", e);
        } finally {
            for (int s = 0; s < seqs; s++) if (throwaway[s]) caches[s].close();
        }
    }

    private static CudaRecord record(ForwardRecord r) {
        if (r == null) return null;
        if (!(r instanceof CudaRecord cr))
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

    private Object run(List<int[]> tokens, List<float[]> embeddings, int[] seqStart, int[] past, CudaKvCache[] caches,
                       LogitsMode mode, CudaRecord rec, AttentionIntervention iv, Sampling sampling) {
        ModelConfig c = model.config();
        int seqs = caches.length, n = seqStart[seqs];
        int H = c.hiddenSize(), Q = c.qDim(), K = c.kvDim(), I = c.intermediateSize(), V = c.vocabSize(), hd = c.headDim(), half = hd / 2;
        int heads = c.numHeads(), kvHeads = c.numKvHeads(), QKV = Q + 2 * K;

        // the little arrays of this pass, one copy to the device
        Workspace.Args args = new Workspace.Args();
        int[] tokSeq = new int[n], tokPos = new int[n], seqCtx = new int[seqs], seqTable = new int[seqs];
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
        int aTokSeq = args.ints(tokSeq), aTokPos = args.ints(tokPos), aSeqCtx = args.ints(seqCtx), aSeqTable = args.ints(seqTable);
        int aSeqStart = args.ints(seqStart), aBlocks = args.longs(blockPtrs), aCos = args.floats(cos), aSin = args.floats(sin);
        int aIds = -1;
        if (tokens != null) {
            int[] ids = new int[n];
            for (int s = 0; s < seqs; s++) System.arraycopy(tokens.get(s), 0, ids, seqStart[s], seqStart[s + 1] - seqStart[s]);
            aIds = args.ints(ids);
        }
        int m = mode == LogitsMode.NONE ? 0 : mode == LogitsMode.LAST ? seqs : n;
        int aRows = -1;
        if (mode == LogitsMode.LAST) {
            int[] last = new int[seqs];
            for (int s = 0; s < seqs; s++) last[s] = seqStart[s + 1] - 1;
            aRows = args.ints(last);
        }
        Steering st = iv == null ? null : Steering.pack(iv, args, seqs, seqCtx, heads);
        long[] probsOff = null;
        int aProbsOff = -1;
        long probsFloats = 0;
        boolean keepProbs = rec != null && rec.keepsAttentionProbs();
        if (keepProbs) {
            probsOff = new long[seqs];
            for (int s = 0; s < seqs; s++) {
                probsOff[s] = probsFloats;
                probsFloats += (long) heads * (seqStart[s + 1] - seqStart[s]) * seqCtx[s];
            }
            aProbsOff = args.longs(probsOff);
        }
        int aDraws = -1, aTemp = -1, aTopP = -1;
        if (sampling != null && !sampling.params().isGreedy()) {
            double[] t = new double[seqs], p = new double[seqs];
            Arrays.fill(t, sampling.params().temperature());
            Arrays.fill(p, sampling.params().topP());
            aDraws = args.doubles(sampling.draws());
            aTemp = args.doubles(t);
            aTopP = args.doubles(p);
        }
        byte[] packed = args.bytes();
        DevicePointer base = ws.get("args", packed.length);
        device.copyToDevice(base, packed);

        DevicePointer x = ws.get("x", 4L * n * H), xn = ws.get("xn", 4L * n * Math.max(H, I));
        DevicePointer qkv = ws.get("qkv", 4L * n * QKV), attn = ws.get("attn", 4L * n * Q), proj = ws.get("proj", 4L * n * H);
        DevicePointer gu = ws.get("gu", 4L * n * 2 * I), act = ws.get("act", 4L * n * I);
        DevicePointer stats = keepProbs ? ws.get("stats", 8L * n * heads) : DevicePointer.NULL;
        DevicePointer probs = keepProbs ? ws.get("probs", 4 * probsFloats) : DevicePointer.NULL;

        if (tokens != null) {
            kernels.embedding(weights.embed.type(), x, weights.embed.ptr(), base.plus(aIds), n, H);
        } else {
            float[] all = new float[n * H];
            for (int s = 0; s < seqs; s++) System.arraycopy(embeddings.get(s), 0, all, seqStart[s] * H, embeddings.get(s).length);
            device.copyToDevice(x, all);
        }
        if (rec != null) {
            float[] all = new float[n * H];
            device.copyToHost(all, x);
            rec.lengths = new int[seqs];
            rec.embeddings = new float[seqs][];
            for (int s = 0; s < seqs; s++) {
                rec.lengths[s] = seqStart[s + 1] - seqStart[s];
                rec.embeddings[s] = Arrays.copyOfRange(all, seqStart[s] * H, seqStart[s + 1] * H);
            }
            rec.layers = c.numLayers();
            rec.probs = keepProbs ? new float[c.numLayers()][seqs][] : null;
            rec.lastLogits = null;
        }

        DevicePointer tokSeqP = base.plus(aTokSeq), tokPosP = base.plus(aTokPos), seqCtxP = base.plus(aSeqCtx);
        DevicePointer seqTableP = base.plus(aSeqTable), blocksP = base.plus(aBlocks);
        boolean decode = n == seqs;
        int maxCtx = 0;
        for (int x2 : seqCtx) maxCtx = Math.max(maxCtx, x2);
        int splits = decode && !keepProbs ? Kernels.decodeSplits(Kernels.decodeBlocks(n, heads, kvHeads, hd), multiprocessors, maxCtx) : 1;
        DevicePointer partO = splits > 1 ? ws.get("partO", 4L * splits * n * heads * hd) : DevicePointer.NULL;
        DevicePointer partMl = splits > 1 ? ws.get("partMl", 8L * splits * n * heads) : DevicePointer.NULL;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float eps = (float) c.rmsNormEps();
        for (int l = 0; l < c.numLayers(); l++) {
            CudaWeights.Layer w = weights.layers.get(l);
            // attention block
            kernels.rmsnorm(actType(n, w.qkv()), xn, x, w.inputNorm(), DevicePointer.NULL, DevicePointer.NULL, n, H, eps);
            linear(qkv, xn, n, w.qkv(), w.qkvBias());
            DevicePointer k = qkv.plus(4L * Q), v = qkv.plus(4L * (Q + K));
            kernels.rope(qkv, k, base.plus(aCos), base.plus(aSin), n, heads, kvHeads, hd, QKV);
            kernels.kvAppend(k, v, QKV, tokSeqP, tokPosP, blocksP, seqTableP, pool.keyOffset(l), pool.valueOffset(l), n, kvHeads, hd);
            boolean steer = st != null && iv.atLayer(l);
            Kernels.Attention a = new Kernels.Attention(attn, Q, qkv, QKV, blocksP, seqTableP, pool.keyOffset(l), pool.valueOffset(l),
                    tokSeqP, tokPosP, seqCtxP, n, heads, kvHeads, hd, c.slidingWindow(), scale, stats,
                    steer ? st.mode : 0, steer ? st.causal : 1, steer ? base.plus(st.start) : DevicePointer.NULL,
                    steer ? base.plus(st.pos) : DevicePointer.NULL, steer ? base.plus(st.bias) : DevicePointer.NULL,
                    steer && st.heads >= 0 ? base.plus(st.heads) : DevicePointer.NULL, steer ? base.plus(st.from) : DevicePointer.NULL);
            kernels.attention(actType(n, w.o()), decode, splits, partO, partMl, a);
            if (keepProbs) {
                kernels.attentionProbs(probs, base.plus(aProbsOff), base.plus(aSeqStart), a);
                float[] host = new float[(int) probsFloats];
                device.copyToHost(host, probs);
                for (int s = 0; s < seqs; s++) {
                    long size = (long) heads * (seqStart[s + 1] - seqStart[s]) * seqCtx[s];
                    rec.probs[l][s] = Arrays.copyOfRange(host, (int) probsOff[s], (int) (probsOff[s] + size));
                }
            }
            linear(proj, attn, n, w.o(), DevicePointer.NULL);
            kernels.residualAdd(x, H, proj, H, w.oBias(), n, H);
            // MLP block
            kernels.rmsnorm(actType(n, w.gateUp()), xn, x, w.postNorm(), DevicePointer.NULL, DevicePointer.NULL, n, H, eps);
            linear(gu, xn, n, w.gateUp(), DevicePointer.NULL);
            kernels.swiglu(actType(n, w.down()), act, I, gu, 2 * I, w.gateBias(), w.upBias(), n, I);
            linear(proj, act, n, w.down(), DevicePointer.NULL);
            kernels.residualAdd(x, H, proj, H, w.downBias(), n, H);
        }

        // final norm and LM head on the rows that get logits
        int[] firstRow = new int[seqs + 1];
        if (mode == LogitsMode.LAST) for (int s = 0; s < seqs; s++) firstRow[s + 1] = s + 1;
        else if (mode == LogitsMode.ALL) System.arraycopy(seqStart, 0, firstRow, 0, seqs + 1);
        if (m == 0) return new Logits(V, new float[0], firstRow);
        DevicePointer logits = ws.get("logits", 4L * m * V);
        kernels.rmsnorm(actType(m, weights.lmHead), xn, x, weights.finalNorm, aRows < 0 ? DevicePointer.NULL : base.plus(aRows),
                DevicePointer.NULL, m, H, eps);
        linear(logits, xn, m, weights.lmHead, DevicePointer.NULL);
        if (sampling != null) {
            DevicePointer picked = ws.get("picked", 4L * seqs);
            if (sampling.params().isGreedy()) kernels.argmax(picked, logits, V, seqs, V);
            else kernels.sample(picked, logits, V, seqs, V, base.plus(aDraws), base.plus(aTemp), base.plus(aTopP));
            int[] ids = new int[seqs];
            device.copyToHost(ids, picked);
            return ids;
        }
        float[] host = new float[m * V];
        device.copyToHost(host, logits);
        if (rec != null) {
            rec.lastLogits = new float[seqs][];
            for (int s = 0; s < seqs; s++) rec.lastLogits[s] = Arrays.copyOfRange(host, (firstRow[s + 1] - 1) * V, firstRow[s + 1] * V);
        }
        return new Logits(V, host, firstRow);
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
        closed = true;
        ws.close();
        pool.close();
        weights.close();
        cublas.close();
        device.close();
    }
}
