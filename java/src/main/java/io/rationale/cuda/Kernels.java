package io.rationale.cuda;

/**
 * Typed launches of the forward and backward kernels of {@code cuda-kernels/}, one method per kernel family, named after its
 * file and in the order of a layer; the launch configurations (grid, block, shared memory) live here and nowhere
 * else, as each kernel's comment in its {@code .cu} file states them. Pointer arguments are device pointers
 * ({@link DevicePointer#NULL} where a kernel takes an optional null); element types follow {@link DataType}.
 */
final class Kernels {
    /** Most rows a {@code gemv_*} kernel serves (its largest {@code _mN} variant). */
    static final int GEMV_MAX_ROWS = 8;
    private static final int MAX_GRID_Y = 65535;

    private final CudaDevice device;

    Kernels(CudaDevice device) { this.device = device; }

    static String suffix(DataType t) {
        return switch (t) {
            case F32 -> "f32";
            case BF16 -> "bf16";
            case F16 -> "f16";
        };
    }

    private static Dim3 grid(long x) { return new Dim3((int) Math.max(1, Math.min(x, Integer.MAX_VALUE)), 1, 1); }

    private static Dim3 block(int x) { return new Dim3(x, 1, 1); }

    /**
     * Threads of a block whose threads stride over {@code work} elements of a row: {@code work} rounded up to a warp,
     * at least one warp, at most {@code max}. A small model's rows then do not leave most of a 256-thread block idle
     * (what matters on the emulated device, where every thread of a block runs as a fiber; on a GPU it saves idle
     * warps and changes nothing for rows of {@code max} elements or more).
     */
    static int threads(long work, int max) { return (int) Math.max(32, Math.min(max, (work + 31) / 32 * 32)); }

    // ------------------------------------------------------------------ embedding.cu

    /** out[t] = table[ids[t]] widened to f32: out {@code [n, hidden]}. */
    void embedding(DataType table, DevicePointer out, DevicePointer tableRows, DevicePointer ids, int n, int hidden) {
        device.launch("embedding_" + suffix(table), grid(n), block(threads(hidden, 256)), 0, out, tableRows, ids, n, hidden);
    }

    // ------------------------------------------------------------------ rmsnorm.cu

    /** y = w·(x·inv) per row, y in {@code out} type; {@code rows}: NULL or the x row of each y row; invRms: NULL or [n]. */
    void rmsnorm(DataType out, DevicePointer y, DevicePointer x, DevicePointer w, DevicePointer rows, DevicePointer invRms,
                 int n, int dim, float eps) {
        device.launch("rmsnorm_" + suffix(out), grid(n), block(threads(dim / 4, 256)), 32 * 4, y, x, w, rows, invRms, n, dim, eps);
    }

    /**
     * dx (+)= the input gradient of rmsnorm from dy, the forward's input x and its inv_rms: plain, or with 1/rms held
     * constant ({@code constantRms}, the LRP modes); {@code accumulate}: add into dx (a residual branch).
     */
    void rmsnormBackward(DevicePointer dx, DevicePointer dy, DevicePointer x, DevicePointer w, DevicePointer invRms, int n, int dim,
                         boolean constantRms, boolean accumulate) {
        device.launch("rmsnorm_backward", grid(n), block(threads(dim / 4, 256)), 32 * 4, dx, dy, x, w, invRms, n, dim, constantRms ? 1 : 0, accumulate ? 1 : 0);
    }

    // ------------------------------------------------------------------ rope.cu

    /** Rotates q's heads·hd and k's kvHeads·hd columns of rows of stride ld with the tables {@code [n, hd/2]}. */
    void rope(DevicePointer q, DevicePointer k, DevicePointer cos, DevicePointer sin, int n, int heads, int kvHeads, int hd, int ld) {
        device.launch("rope", grid(n), block(threads((long) (heads + (k.address() == 0 ? 0 : kvHeads)) * (hd / 2), 128)), 0, q, k, cos, sin, n, heads, kvHeads, hd, ld);
    }

    /** The backward of {@link #rope} (the inverse rotation): the same kernel with the table {@code negSin} = −sin. */
    void ropeInverse(DevicePointer dq, DevicePointer dk, DevicePointer cos, DevicePointer negSin, int n, int heads, int kvHeads, int hd, int ld) {
        rope(dq, dk, cos, negSin, n, heads, kvHeads, hd, ld);
    }

    // ------------------------------------------------------------------ kvcache.cu

    /** Writes each token's k and v (rows of stride ld) into its sequence's block at its position. */
    void kvAppend(DevicePointer k, DevicePointer v, int ld, DevicePointer tokSeq, DevicePointer tokPos, DevicePointer blockPtrs,
                  DevicePointer seqTable, long kOff, long vOff, int n, int kvHeads, int hd) {
        device.launch("kv_append", grid(n), block(threads((long) kvHeads * hd, 128)), 0, k, v, ld, tokSeq, tokPos, blockPtrs, seqTable, kOff, vOff, n, kvHeads, hd);
    }

    // ------------------------------------------------------------------ attention.cu

    /** The head dimensions the attention kernels are compiled for: a head dim is served by the smallest at least it. */
    static int attentionVariant(int hd) {
        for (int d : new int[]{32, 64, 128, 256}) if (hd <= d) return d;
        throw new IllegalArgumentException("head dim " + hd + " > 256 is not supported by the CUDA attention kernels");
    }

    /** Query rows per block of {@code attn_prefill_d*} (shared memory bound). */
    static int attentionRows(int variant) { return variant >= 256 ? 8 : 16; }

    /** Dynamic shared memory of {@code attn_*_d<variant>_*} (its {@code Smem<D>}, a static_assert in attention.cu). */
    static int attentionSmem(int variant) {
        return switch (variant) {
            case 32 -> 13824;
            case 64 -> 24064;
            case 128 -> 44544;
            default -> 43920;
        };
    }

    /** {@code attention.cu}'s {@code iv_mode} of an intervention site (0 is none). */
    static int interventionMode(io.rationale.engine.AttentionIntervention.Site site) {
        return switch (site) {
            case PRE_SOFTMAX -> 1;
            case POST_SOFTMAX -> 2;
            case POST_SOFTMAX_RENORM -> 3;
        };
    }

    /** What one attention call reads and writes (all device pointers; optional ones NULL). */
    record Attention(DevicePointer out, int ldo, DevicePointer q, int ldq, DevicePointer blockPtrs, DevicePointer seqTable,
                     long kOff, long vOff, DevicePointer tokSeq, DevicePointer tokPos, DevicePointer seqCtx, int n, int heads,
                     int kvHeads, int hd, int window, float scale, DevicePointer stats,
                     int ivMode, int ivCausal, DevicePointer ivStart, DevicePointer ivPos, DevicePointer ivBias,
                     DevicePointer ivHeads, DevicePointer ivFrom) {}

    /**
     * Flash-style causal GQA attention over the block tables, output in {@code out} type. {@code decode}: one new
     * token per sequence ({@code attn_decode_*}, a block per token); else {@code attn_prefill_*}. With
     * {@code splits} > 1 (flash-decoding: each block's key tiles split over grid.z) the partials go to
     * {@code partO}/{@code partMl} and {@code attn_combine_*} writes the output (and {@code stats}); with one split
     * the kernel writes both.
     */
    void attention(DataType out, boolean decode, int splits, DevicePointer partO, DevicePointer partMl, Attention a) {
        int d = attentionVariant(a.hd());
        int g = a.heads() / a.kvHeads(), rows = attentionRows(d);
        Dim3 grid = decode ? new Dim3(a.n(), a.kvHeads() * ((g + rows - 1) / rows), splits)
                : new Dim3((int) (((long) a.n() * g + rows - 1) / rows), a.kvHeads(), splits);
        DevicePointer mainStats = splits > 1 ? DevicePointer.NULL : a.stats();
        device.launch("attn_" + (decode ? "decode" : "prefill") + "_d" + d + "_" + suffix(out), grid, block(128), attentionSmem(d),
                attentionArgs(a, splits, partO, partMl, mainStats));
        if (splits > 1)
            device.launch("attn_combine_" + suffix(out), new Dim3(a.n(), a.heads(), 1), block(64), 0, attentionArgs(a, splits, partO, partMl, a.stats()));
    }

    /** Key splits for a decode launch: enough blocks for about two per SM, no split under 256 keys (the kernel README's heuristic). */
    static int decodeSplits(int blocks, int multiprocessors, int maxContext) {
        int byOccupancy = (2 * multiprocessors + blocks - 1) / blocks, byLength = (maxContext + 255) / 256;
        return Math.max(1, Math.min(byOccupancy, byLength));
    }

    /** Blocks of an {@code attn_decode_*} launch of n tokens (before splitting). */
    static int decodeBlocks(int n, int heads, int kvHeads, int hd) {
        int g = heads / kvHeads, rows = attentionRows(attentionVariant(hd));
        return n * kvHeads * ((g + rows - 1) / rows);
    }

    private static Object[] attentionArgs(Attention a, int splits, DevicePointer partO, DevicePointer partMl, DevicePointer stats) {
        return new Object[]{a.out(), a.ldo(), a.q(), a.ldq(), a.blockPtrs(), a.seqTable(), a.kOff(), a.vOff(), a.tokSeq(), a.tokPos(), a.seqCtx(),
                a.n(), a.heads(), a.kvHeads(), a.hd(), a.window(), a.scale(), splits, partO, partMl, stats,
                a.ivMode(), a.ivCausal(), a.ivStart(), a.ivPos(), a.ivBias(), a.ivHeads(), a.ivFrom()};
    }

    /**
     * The softmax probabilities of every new row, per sequence {@code [heads][new][ctx]} at {@code probs + probsOff[s]}
     * (floats), from q, the cached keys and the row statistics of the {@link #attention} call of the same layer.
     */
    void attentionProbs(DevicePointer probs, DevicePointer probsOff, DevicePointer seqStart, Attention a) {
        device.launch("attn_probs", new Dim3(a.n(), a.heads(), 1), block(128), a.hd() * 4,
                probs, probsOff, seqStart, a.q(), a.ldq(), a.blockPtrs(), a.seqTable(), a.kOff(), a.tokSeq(), a.tokPos(), a.seqCtx(),
                a.stats(), a.n(), a.heads(), a.kvHeads(), a.hd(), a.window(), a.scale(),
                a.ivMode(), a.ivCausal(), a.ivStart(), a.ivPos(), a.ivBias(), a.ivHeads(), a.ivFrom());
    }

    // ---- attention backward

    /** Rows of a tile of the attention backward kernels (keys of a dk/dv block, queries of a dq block) for a variant. */
    static int attentionBackwardTile(int variant) { return variant >= 256 ? 16 : 32; }

    /** Dynamic shared memory of {@code attn_bwd_dkdv_d<variant>} and {@code attn_bwd_dq_d<variant>} ({@code attnb::Smem<D>}). */
    static int attentionBackwardSmem(int variant) {
        return switch (variant) {
            case 32 -> 27264;
            case 64 -> 43648;
            case 128 -> 76416;
            default -> 68928;
        };
    }

    /**
     * What one attention backward reads and writes: dq, dk, dv (rows of stride ldd), q, k, v after RoPE (rows of
     * stride ldqkv), dO, the forward's stats, Delta, the tile table {@code [tiles][2]} (first token, sequence;
     * {@link #attentionBackwardTile} rows, aligned within each sequence) and the rules; for sequences recorded after a
     * cached prefix, {@code past [S]} (NULL: all from position 0) and the prefix caches' block table
     * ({@code blockPtrs}, {@code seqTable}) with the layer's key and value offsets, as the forward's {@link Attention}.
     */
    record AttentionBackward(DevicePointer dq, DevicePointer dk, DevicePointer dv, int ldd, DevicePointer q, DevicePointer k,
                             DevicePointer v, int ldqkv, DevicePointer dout, int lddo, DevicePointer stats, DevicePointer delta,
                             DevicePointer tiles, int numTiles, DevicePointer seqStart, int n, int heads, int kvHeads, int hd,
                             int window, float scale, float qkScale, float vScale, boolean stopQk,
                             DevicePointer blockPtrs, DevicePointer seqTable, long kOff, long vOff, DevicePointer past) {

        /** Every sequence recorded from position 0 (no prefix). */
        AttentionBackward(DevicePointer dq, DevicePointer dk, DevicePointer dv, int ldd, DevicePointer q, DevicePointer k,
                          DevicePointer v, int ldqkv, DevicePointer dout, int lddo, DevicePointer stats, DevicePointer delta,
                          DevicePointer tiles, int numTiles, DevicePointer seqStart, int n, int heads, int kvHeads, int hd,
                          int window, float scale, float qkScale, float vScale, boolean stopQk) {
            this(dq, dk, dv, ldd, q, k, v, ldqkv, dout, lddo, stats, delta, tiles, numTiles, seqStart, n, heads, kvHeads, hd, window,
                    scale, qkScale, vScale, stopQk, DevicePointer.NULL, DevicePointer.NULL, 0, 0, DevicePointer.NULL);
        }
    }

    /** Delta = rowsum(O∘dO) per (token, head) into {@code delta [n, heads]}. */
    void attentionBackwardDelta(DevicePointer delta, DevicePointer o, int ldo, DevicePointer dout, int lddo, int n, int heads, int hd) {
        device.launch("attn_bwd_delta", grid(n), block(128), 0, delta, o, ldo, dout, lddo, n, heads, hd);
    }

    /** dk and dv ({@code attn_bwd_dkdv_*}: a block per key tile and KV head), then dq ({@code attn_bwd_dq_*}: per query tile and head). */
    void attentionBackward(AttentionBackward a) {
        int d = attentionVariant(a.hd());
        Object[] args = {a.dq(), a.dk(), a.dv(), a.ldd(), a.q(), a.k(), a.v(), a.ldqkv(), a.dout(), a.lddo(), a.stats(), a.delta(),
                a.tiles(), a.seqStart(), a.heads(), a.kvHeads(), a.hd(), a.window(), a.scale(), a.qkScale(), a.vScale(), a.stopQk() ? 1 : 0,
                a.blockPtrs(), a.seqTable(), a.kOff(), a.vOff(), a.past()};
        int smem = attentionBackwardSmem(d);
        device.launch("attn_bwd_dkdv_d" + d, new Dim3(a.numTiles(), a.kvHeads(), 1), block(128), smem, args);
        device.launch("attn_bwd_dq_d" + d, new Dim3(a.numTiles(), a.heads(), 1), block(128), smem, args);
    }

    // ------------------------------------------------------------------ swiglu.cu

    /** act = silu(gate + bg)·(up + bu) from the fused gate|up rows {@code [n, ldg]}, act in {@code out} type. */
    void swiglu(DataType out, DevicePointer act, int lda, DevicePointer gu, int ldg, DevicePointer biasGate, DevicePointer biasUp,
                int n, int inter) {
        int t = threads(inter, 256);
        device.launch("swiglu_" + suffix(out), new Dim3((inter + t - 1) / t, Math.min(n, MAX_GRID_Y), 1), block(t), 0,
                act, lda, gu, ldg, biasGate, biasUp, n, inter);
    }

    /**
     * The backward of {@link #swiglu} with the rules: dgu {@code [n, ldd]} gets d gate in columns [0, I) and d up in
     * [I, 2I) from dact {@code [n, lda]} and the forward's gate|up rows.
     */
    void swigluBackward(DevicePointer dgu, int ldd, DevicePointer dact, int lda, DevicePointer gu, int ldg, DevicePointer biasGate,
                        DevicePointer biasUp, int n, int inter, float share, boolean siluIdentity, boolean stopGate) {
        int t = threads(inter, 256);
        device.launch("swiglu_backward", new Dim3((inter + t - 1) / t, Math.min(n, MAX_GRID_Y), 1), block(t), 0,
                dgu, ldd, dact, lda, gu, ldg, biasGate, biasUp, n, inter, share, siluIdentity ? 1 : 0, stopGate ? 1 : 0);
    }

    // ------------------------------------------------------------------ elementwise.cu

    private static Dim3 rowsGrid(int rows, int cols) {
        int t = threads(cols, 256);
        return new Dim3(Math.min((cols + t - 1) / t, 1024), Math.min(rows, MAX_GRID_Y), 1);
    }

    private static Dim3 rowsBlock(int cols) { return block(threads(cols, 256)); }

    /** x += y (+ b): the residual stream. */
    void residualAdd(DevicePointer x, int ldx, DevicePointer y, int ldy, DevicePointer bias, int rows, int cols) {
        device.launch("residual_add", rowsGrid(rows, cols), rowsBlock(cols), 0, x, ldx, y, ldy, bias, rows, cols);
    }

    /** y += b on every row. */
    void biasAdd(DevicePointer y, int ld, DevicePointer bias, int rows, int cols) {
        device.launch("bias_add", rowsGrid(rows, cols), rowsBlock(cols), 0, y, ld, bias, rows, cols);
    }

    /** out[r] = in[idx[r]]. */
    void gatherRows(DevicePointer out, int ldo, DevicePointer in, int ldi, DevicePointer idx, int rows, int cols) {
        device.launch("gather_rows", rowsGrid(rows, cols), rowsBlock(cols), 0, out, ldo, in, ldi, idx, rows, cols);
    }

    /** out[idx[r]] = in[r] (idx distinct). */
    void scatterRows(DevicePointer out, int ldo, DevicePointer in, int ldi, DevicePointer idx, int rows, int cols) {
        device.launch("scatter_rows", rowsGrid(rows, cols), rowsBlock(cols), 0, out, ldo, in, ldi, idx, rows, cols);
    }

    /** out = in rounded to nearest even in {@code out} type (bf16 or f16): an f32 matrix as a 16-bit GEMM input. */
    void convert(DataType out, DevicePointer o, int ldo, DevicePointer in, int ldi, int rows, int cols) {
        if (out == DataType.F32) throw new IllegalArgumentException("convert_* writes bf16 or f16, not f32");
        device.launch("convert_" + suffix(out), rowsGrid(rows, cols), rowsBlock(cols), 0, o, ldo, in, ldi, rows, cols);
    }

    // ------------------------------------------------------------------ gemv.cu

    /** y[m, out] = x[m, in]·W[out, in]ᵀ (+ bias), x and y f32, for m ≤ {@link #GEMV_MAX_ROWS}. */
    void gemv(DataType w, DevicePointer y, int ldy, DevicePointer x, int ldx, DevicePointer weights, DevicePointer bias, int m, int out, int in) {
        if (m < 1 || m > GEMV_MAX_ROWS) throw new IllegalArgumentException("gemv of " + m + " rows");
        int variant = m == 1 ? 1 : m == 2 ? 2 : m <= 4 ? 4 : 8;
        int rowsPerBlock = variant == 8 ? 4 : 8;
        device.launch("gemv_" + suffix(w) + "_m" + variant, grid((out + rowsPerBlock - 1) / rowsPerBlock), block(128), 512,
                y, ldy, x, ldx, weights, bias, m, out, in);
    }

    /** dx[m, in] (+)= dy[m, out]·W[out, in], all f32 activations, for m ≤ {@link #GEMV_MAX_ROWS}: the backward of {@link #gemv}. */
    void gemvTransposed(DataType w, DevicePointer dx, int ldx, DevicePointer dy, int ldy, DevicePointer weights, int m, int out, int in,
                        boolean accumulate) {
        if (m < 1 || m > GEMV_MAX_ROWS) throw new IllegalArgumentException("gemv_t of " + m + " rows");
        device.launch("gemv_t_" + suffix(w), grid((in + 127) / 128), block(128), GEMV_MAX_ROWS * 128 * 4,
                dx, ldx, dy, ldy, weights, m, out, in, accumulate ? 1 : 0);
    }

    // ------------------------------------------------------------------ target.cu

    /** Target kinds of {@code target_grad}. */
    static final int TARGET_LOGIT = 0, TARGET_LOGPROB = 1, TARGET_CONTRAST = 2;

    /** dlogits[r] = d target_r / d logits[r] for rows of logits (kind, token, foil per row: device int arrays). */
    void targetGradient(DevicePointer dlogits, long ldd, DevicePointer logits, long ldl, DevicePointer kind, DevicePointer token,
                        DevicePointer foil, int rows, int vocab) {
        device.launch("target_grad", grid(rows), block(256), 256, dlogits, ldd, logits, ldl, kind, token, foil, rows, vocab);
    }

    // ------------------------------------------------------------------ attribution.cu

    /** x_s = b + alpha[s]·(e − b) for the steps of a batch ({@code x [steps][len]}, alpha device doubles), as the host computes it. */
    void igInterpolate(DevicePointer x, DevicePointer e, DevicePointer b, DevicePointer alpha, int steps, long len) {
        device.launch("ig_interpolate", new Dim3((int) Math.min(1024, (len + 255) / 256), Math.min(steps, MAX_GRID_Y), 1), block(256), 0,
                x, e, b, alpha, steps, len);
    }

    /** acc[j] += Σ_s weight[s]·g[s·ldg + j] in step order (double). */
    void igAccumulate(DevicePointer acc, DevicePointer g, long ldg, DevicePointer weight, int steps, long len) {
        device.launch("ig_accumulate", grid(Math.min(4096, (len + 255) / 256)), block(256), 0, acc, g, ldg, weight, steps, len);
    }

    /** out[t] = (Σ_d e·g, sqrt(Σ_d g²)) per token of {@code [n, hidden]} rows, in double ({@code out [n][2]}). */
    void tokenScores(DevicePointer out, DevicePointer e, DevicePointer g, int n, int hidden) {
        device.launch("token_scores", grid(n), block(threads(hidden / 4, 256)), 256, out, e, g, n, hidden);
    }

    // ------------------------------------------------------------------ labels.cu

    /**
     * Per row of logits {@code [rows, ld]}: per label (ids {@code ids[start[l] .. start[l+1])}) the largest logit and the
     * first id that has it ({@code [rows, labels]} each), and the predicted label ({@code [rows]}).
     */
    void labelLogits(DevicePointer logit, DevicePointer token, DevicePointer pred, DevicePointer logits, long ld, DevicePointer start,
                     DevicePointer ids, int rows, int labels) {
        device.launch("label_logits", grid((rows + 127) / 128), block(128), 0, logit, token, pred, logits, ld, start, ids, rows, labels);
    }

    // ------------------------------------------------------------------ flip.cu

    /** The device pointers of one {@link io.rationale.engine.FlipBatch}'s tables ({@code flip_build}'s arguments). */
    record FlipTables(DevicePointer rest, DevicePointer glue, int tokens, DevicePointer fieldWords, int fields, DevicePointer wordStart,
                      DevicePointer wordEnd, DevicePointer breakBefore, DevicePointer nextBreak, int words, int contexts, boolean replace,
                      DevicePointer forms, DevicePointer formStart, DevicePointer formLen, DevicePointer emptyStart, DevicePointer emptyLen,
                      DevicePointer rankStart, DevicePointer ranks, DevicePointer rankOf, DevicePointer size, DevicePointer keep) {}

    /** Builds {@code rows} variants' tokens into {@code out} (row b at {@code off[b]}), their lengths into {@code len}. */
    void flipBuild(DevicePointer out, DevicePointer off, DevicePointer len, DevicePointer vidx, DevicePointer scratch, int rows, FlipTables t) {
        device.launch("flip_build", grid(rows), block(32), 0, out, off, len, vidx, scratch, rows, t.rest(), t.glue(), t.tokens(), t.fieldWords(),
                t.fields(), t.wordStart(), t.wordEnd(), t.breakBefore(), t.nextBreak(), t.words(), t.contexts(), t.replace() ? 1 : 0, t.forms(),
                t.formStart(), t.formLen(), t.emptyStart(), t.emptyLen(), t.rankStart(), t.ranks(), t.rankOf(), t.size(), t.keep());
    }

    /** Label probabilities (f64) of every variant, and the flip, comprehensiveness and sufficiency of every request. */
    void flipScores(DevicePointer probs, DevicePointer logit, DevicePointer pred, int variants, int labels, boolean hasOriginal,
                    DevicePointer origProbs, int origPred, DevicePointer remove, DevicePointer keep, int requests, DevicePointer flipped,
                    DevicePointer comp, DevicePointer suff) {
        device.launch("flip_scores", grid(1), block(128), 0, probs, logit, pred, variants, labels, hasOriginal ? 1 : 0, origProbs, origPred,
                remove, keep, requests, flipped, comp, suff);
    }

    // ------------------------------------------------------------------ sampling.cu

    /** out[r] = the argmax of row r of logits {@code [rows, ld]} (lowest id on ties). */
    void argmax(DevicePointer out, DevicePointer logits, long ld, int rows, int vocab) {
        device.launch("argmax_rows", grid(rows), block(256), 64 * 4, out, logits, ld, rows, vocab);
    }

    /** Dynamic shared memory of {@code sample_rows} ({@code SAMPLE_SMEM} in sampling.cu). */
    static final int SAMPLE_SMEM = 37640;

    /**
     * out[r] = the token {@link io.rationale.engine.Sampler#sample(float[], io.rationale.engine.SamplingParams, double)}
     * picks in row r with draw u[r], temperature[r], topP[r] (doubles on the device).
     */
    void sample(DevicePointer out, DevicePointer logits, long ld, int rows, int vocab, DevicePointer u, DevicePointer temperature,
                DevicePointer topP) {
        device.launch("sample_rows", grid(rows), block(512), SAMPLE_SMEM, out, logits, ld, rows, vocab, u, temperature, topP);
    }
}
