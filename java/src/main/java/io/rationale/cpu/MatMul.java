package io.rationale.cpu;

import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;

import java.lang.foreign.MemorySegment;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * Linear layers {@code y = x·Wᵀ + b} with W in Hugging Face {@code [out, in]} layout (f32, bf16 or f16, widened to
 * f32 inside the kernels) and x, y row-major f32 {@code [tokens, features]}. Several weights that read the same
 * input (q/k/v, gate/up) run as one parallel pass.
 *
 * <p>Two kernels:
 * <ul>
 * <li>few tokens (decode, short inputs up to 13 tokens): each weight row is dotted with the token rows, with several
 *     independent FMA accumulators (memory-bound); rows go in pairs, so that two loads from two rows are in flight
 *     per step; 16-bit weights are loaded a full register at a time (2L values) and widened in two halves; four
 *     tokens at a time share each widened weight (2 rows × 4 tokens), taking turns over blocks of rows that are
 *     first read into L2 ({@link Vec#touch}) and stay there;</li>
 * <li>many tokens (prefill): x is packed once into panels of {@link #TB} tokens, each panel stored input-major
 *     ({@code [in][TB]}, contiguous); each task widens a block of weight rows × {@link #KC} inputs to f32 into a
 *     thread-local buffer, then register tiles of 6 weight rows × 4 vectors of tokens (24 accumulators) add up
 *     {@code broadcast(w[r][k]) · panel[k][tokens]}, walking each panel in one contiguous stream, so every widened
 *     weight is reused for all tokens from cache (compute-bound). Tokens are padded to whole vectors, except a
 *     short tail that would mostly be padding, which the dot kernels take on the task's cached rows ({@link #dotTail}).</li>
 * </ul>
 */
public final class MatMul {
    private MatMul() {}

    /**
     * From this many tokens on, the tiled (prefill) kernel runs. Below, the 2-row × 4-token dot kernel is faster (the
     * tiled kernel's f32 widening and padding to 16 tokens cost more than they save). With the weights read into L2
     * first (and, at the time, two or three leftover tokens padded to a group of four), all 154 TinyLlama-1.1B layer
     * matrices took 147 ms for 12 tokens this way against 165–176 ms tiled, and 153–166 against 165–167 for 13, a tie
     * (2 threads, 2026-12-05, benchmarks/results/2026-12-05-cpu-kernels-4.md). With two leftover tokens one at a
     * time, 13 tokens (three groups and one) took 11% less time with the dot kernels than tiled, 14 tokens 4% more
     * (in-process A/B, 2026-12-05-cpu-kernels-5.md).
     */
    static final int GEMM_MIN_TOKENS = 14;
    /** Inputs per block of widened weights. */
    static final int KC = 1024;
    /** Weight rows per prefill task (a multiple of 6, the rows of a register tile). */
    static final int ROWS_PER_TASK = 96;
    /** Decode tasks per thread and weight: few long contiguous streams read memory fastest, two leave room to balance. */
    static final int DOT_TASKS_PER_THREAD = 2;
    /** Tokens per register tile: 4 vectors. */
    static final int TB = 4 * L;

    /** One projection: weight {@code [rows, in]}, optional bias {@code [rows]}, output {@code y[tokens, rows]}. */
    public record Out(Tensor weight, float[] bias, float[] y) {}

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    private static float[] scratch(int slot, int size) {
        float[][] s = SCRATCH.get();
        if (s[slot].length < size) s[slot] = new float[size];
        return s[slot];
    }

    /** {@code out.y = x·out.weightᵀ + out.bias} for each out; x is {@code [n, k]}. */
    public static void linear(Parallel par, float[] x, int n, int k, Out... outs) {
        for (Out o : outs) {
            if (o.weight.cols() != k)
                throw new IllegalArgumentException(o.weight + ": expected " + k + " inputs, got " + o.weight.cols());
            if (o.y.length < (long) n * o.weight.rows())
                throw new IllegalArgumentException(o.weight + ": output array too small for " + n + " tokens");
        }
        if (n < GEMM_MIN_TOKENS) dotPass(par, x, n, k, outs);
        else gemmPass(par, x, n, k, outs);
    }

    /** Runs one chunk of rows [r0, r1) of output {@code out}. */
    private interface Chunk { void run(int out, int r0, int r1); }

    /** Splits the rows of each out into chunks of {@code rowsPerTask[out]} and runs them all in parallel. */
    private static void forEachChunk(Parallel par, Out[] outs, int[] rowsPerTask, Chunk chunk) {
        int[] firstTask = new int[outs.length + 1];
        for (int o = 0; o < outs.length; o++)
            firstTask[o + 1] = firstTask[o] + (outs[o].weight.rows() + rowsPerTask[o] - 1) / rowsPerTask[o];
        par.forEach(firstTask[outs.length], i -> {
            int o = 0;
            while (i >= firstTask[o + 1]) o++;
            int r0 = (i - firstTask[o]) * rowsPerTask[o];
            chunk.run(o, r0, Math.min(outs[o].weight.rows(), r0 + rowsPerTask[o]));
        });
    }

    // ---------------------------------------------------------------- few tokens (decode, short batches): stream each weight row once

    private static void dotPass(Parallel par, float[] x, int n, int k, Out[] outs) {
        int[] rowsPerTask = new int[outs.length];
        for (int o = 0; o < outs.length; o++) {
            int tasks = DOT_TASKS_PER_THREAD * par.threads();
            rowsPerTask[o] = Math.max(16, (outs[o].weight.rows() + tasks - 1) / tasks + 1 & ~1);   // even: rows go in pairs
        }
        float[] xLeft = leftGroup(x, 0, n, k);
        forEachChunk(par, outs, rowsPerTask, (out, r0, r1) -> dotRows(outs[out], k, x, 0, n, xLeft, r0, r1, true));
    }

    /**
     * Rows [r0, r1) of {@code o} for tokens [t0, n), block by block ({@link #dotBlock}); {@code fromMemory}: the rows
     * are not in the caches yet (false for the tiled forward's tail, whose task has just read them).
     */
    private static void dotRows(Out o, int k, float[] x, int t0, int n, float[] xLeft, int r0, int r1, boolean fromMemory) {
        int block = dotBlockRows(k, o.weight.dtype());
        for (int b0 = r0; b0 < r1; b0 += block) dotBlock(o, k, x, t0, n, xLeft, b0, Math.min(r1, b0 + block), fromMemory);
    }

    /** Three tokens of [t0, n) left over after groups of four: their rows of x copied, zero-padded to four (else null). */
    private static float[] leftGroup(float[] x, int t0, int n, int k) {
        int left = (n - t0) % 4;
        if (left != 3) return null;
        float[] xl = new float[4 * k];
        System.arraycopy(x, (n - left) * k, xl, 0, left * k);
        return xl;
    }

    /** Bytes of weight rows a dot block keeps in the L2 cache while groups of four tokens take turns over them. */
    static final int DOT_BLOCK_BYTES = 256 * 1024;

    /** Rows per dot block: an even number whose weights fill about {@link #DOT_BLOCK_BYTES}. */
    static int dotBlockRows(int k, DType dt) {
        return Math.max(2, (int) (DOT_BLOCK_BYTES / ((long) k * dt.bytes)) & ~1);
    }

    /**
     * Rows [b0, b1) of one output for tokens [t0, n) (t0 is 0 but for the tiled forward's tail). With two or more
     * tokens and the weights {@code fromMemory}, the block's weights are first read into L2 ({@link Vec#touch}); a
     * decode step (one token) streams them once instead, which measured faster, and the tiled forward's tail finds
     * them cached (reading them again cost its 36, 68, 72-token forwards 1–2%). Then groups of four tokens take turns
     * over the block's rows, two rows at a time (the four token rows stay in L1, the block's weights in L2); three tokens left over go as a group of four through {@code xLeft}, their copy padded
     * with a zero row, whose outputs are dropped (each token's sums are the same as in a full group); one or two
     * tokens left go along each pair of rows alone, one after the other (two that way took 7–20% less time than a
     * padded group, three 10–16% more: 2026-12-05-cpu-kernels-5.md). An odd last row is paired with itself.
     */
    private static void dotBlock(Out o, int k, float[] x, int t0, int n, float[] xLeft, int b0, int b1, boolean fromMemory) {
        int rows = o.weight.rows();
        DType dt = o.weight.dtype();
        MemorySegment w = o.weight.data();
        if (fromMemory && n - t0 >= 2) Vec.touch(w, (long) b0 * k * dt.bytes, (long) b1 * k * dt.bytes);
        int tok = t0;
        for (; tok + 4 <= n; tok += 4) pairs4(o, k, x, tok * k, o.y, tok * rows, b0, b1);
        if (n - tok == 3) {
            float[] yLeft = scratch(1, 4 * rows);
            pairs4(o, k, xLeft, 0, yLeft, 0, b0, b1);
            for (int t = tok; t < n; t++) System.arraycopy(yLeft, (t - tok) * rows + b0, o.y, t * rows + b0, b1 - b0);
            return;
        }
        for (; tok < n; tok++) {
            for (int r = b0; r < b1; r += 2) {
                int r2 = Math.min(r + 1, b1 - 1);
                long row = (long) r * k, row2 = (long) r2 * k;
                float b = o.bias == null ? 0f : o.bias[r], b2 = o.bias == null ? 0f : o.bias[r2];
                switch (dt) {
                    case BF16, F16 -> dot2Half(dt, w, row, row2, k, x, tok * k, o.y, tok * rows, r, r2, b, b2);
                    case F32 -> dot2F32(w, row, row2, k, x, tok * k, o.y, tok * rows, r, r2, b, b2);
                }
            }
        }
    }

    /** Rows [b0, b1) of {@code o}, two at a time, · the four token rows of x from xOff into y from yOff (rows apart). */
    private static void pairs4(Out o, int k, float[] x, int xOff, float[] y, int yOff, int b0, int b1) {
        int rows = o.weight.rows();
        MemorySegment w = o.weight.data();
        for (int r = b0; r < b1; r += 2) {
            int r2 = Math.min(r + 1, b1 - 1);
            long row = (long) r * k, row2 = (long) r2 * k;
            float b = o.bias == null ? 0f : o.bias[r], b2 = o.bias == null ? 0f : o.bias[r2];
            switch (o.weight.dtype()) {
                case BF16, F16 -> dot2x4Half(o.weight.dtype(), w, row, row2, k, x, xOff, y, yOff, rows, r, r2, b, b2);
                case F32 -> dot2x4F32(w, row, row2, k, x, xOff, y, yOff, rows, r, r2, b, b2);
            }
        }
    }

    // Two weight rows per loop (two loads in flight, each row with its own two accumulators, summed in the same
    // order as one row alone) read the mapped checkpoint ~30% faster on one thread than one row per loop; four rows
    // per loop measured several times slower (benchmarks/results/2026-12-05-cpu-kernels.md).

    /** Two rows of 16-bit weights ({@code dt}: bf16 or f16) · one token row: {@code y[yOff + r] = w[r]·x + b}, likewise r2 (may equal r). */
    private static void dot2Half(DType dt, MemorySegment w, long row, long row2, int k, float[] x, int xOff, float[] y, int yOff,
                                 int r, int r2, float b, float b2) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, t0 = s0, t1 = s0;
        int i = 0;
        for (; i <= k - 2 * L; i += 2 * L) {
            ShortVector a = Vec.load16(w, (row + i) * 2), c = Vec.load16(w, (row2 + i) * 2);
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i), x1 = FloatVector.fromArray(F, x, xOff + i + L);
            s0 = Vec.half(dt, a, 0).fma(x0, s0);
            s1 = Vec.half(dt, a, 1).fma(x1, s1);
            t0 = Vec.half(dt, c, 0).fma(x0, t0);
            t1 = Vec.half(dt, c, 1).fma(x1, t1);
        }
        finish2(dt, w, row, row2, k, x, xOff, i, sum(s0.add(s1)), sum(t0.add(t1)), y, yOff, r, r2, b, b2);
    }

    /** Two rows of f32 weights · one token row. */
    private static void dot2F32(MemorySegment w, long row, long row2, int k, float[] x, int xOff, float[] y, int yOff,
                                int r, int r2, float b, float b2) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, t0 = s0, t1 = s0;
        int i = 0;
        for (; i <= k - 2 * L; i += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i), x1 = FloatVector.fromArray(F, x, xOff + i + L);
            s0 = f32(w, row + i).fma(x0, s0);
            s1 = f32(w, row + i + L).fma(x1, s1);
            t0 = f32(w, row2 + i).fma(x0, t0);
            t1 = f32(w, row2 + i + L).fma(x1, t1);
        }
        for (; i <= k - L; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            s0 = f32(w, row + i).fma(x0, s0);
            t0 = f32(w, row2 + i).fma(x0, t0);
        }
        finish2(DType.F32, w, row, row2, k, x, xOff, i, sum(s0.add(s1)), sum(t0.add(t1)), y, yOff, r, r2, b, b2);
    }

    /** The sum of a vector's lanes ({@link Vec#sum}: the same in every JIT tier). */
    private static float sum(FloatVector v) { return Vec.sum(v); }

    /** Adds the scalar tail of two rows' sums from input {@code i} on, writes y (+ bias). */
    private static void finish2(DType dt, MemorySegment w, long row, long row2, int k, float[] x, int xOff, int i,
                                float p, float q, float[] y, int yOff, int r, int r2, float b, float b2) {
        for (; i < k; i++) {
            p = Math.fma(Vec.get(dt, w, row + i), x[xOff + i], p);
            q = Math.fma(Vec.get(dt, w, row2 + i), x[xOff + i], q);
        }
        y[yOff + r] = p + b;
        y[yOff + r2] = q + b2;
    }

    /**
     * Two rows of 16-bit weights ({@code dt}: bf16 or f16) · four consecutive token rows: {@code y[t][r] = w[r]·x[t] + b} and likewise r2 (may
     * equal r), each weight widened once for all four tokens; per row and token the same two accumulators (weights
     * 0..L-1 and L..2L-1 of each load) and the same sum as one row alone.
     */
    private static void dot2x4Half(DType dt, MemorySegment w, long row, long row2, int k, float[] x, int xOff, float[] y, int yOff, int ldy,
                                 int r, int r2, float b, float b2) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        FloatVector u0 = s0, u1 = s0, u2 = s0, u3 = s0, v0 = s0, v1 = s0, v2 = s0, v3 = s0;
        int i = 0;
        for (; i <= k - 2 * L; i += 2 * L) {
            ShortVector a = Vec.load16(w, (row + i) * 2), c = Vec.load16(w, (row2 + i) * 2);
            FloatVector w0 = Vec.half(dt, a, 0), w1 = Vec.half(dt, a, 1), q0 = Vec.half(dt, c, 0), q1 = Vec.half(dt, c, 1);
            int o = xOff + i;
            FloatVector x0 = FloatVector.fromArray(F, x, o), x1 = FloatVector.fromArray(F, x, o + L);
            s0 = w0.fma(x0, s0); t0 = w1.fma(x1, t0); u0 = q0.fma(x0, u0); v0 = q1.fma(x1, v0);
            x0 = FloatVector.fromArray(F, x, o + k); x1 = FloatVector.fromArray(F, x, o + k + L);
            s1 = w0.fma(x0, s1); t1 = w1.fma(x1, t1); u1 = q0.fma(x0, u1); v1 = q1.fma(x1, v1);
            x0 = FloatVector.fromArray(F, x, o + 2 * k); x1 = FloatVector.fromArray(F, x, o + 2 * k + L);
            s2 = w0.fma(x0, s2); t2 = w1.fma(x1, t2); u2 = q0.fma(x0, u2); v2 = q1.fma(x1, v2);
            x0 = FloatVector.fromArray(F, x, o + 3 * k); x1 = FloatVector.fromArray(F, x, o + 3 * k + L);
            s3 = w0.fma(x0, s3); t3 = w1.fma(x1, t3); u3 = q0.fma(x0, u3); v3 = q1.fma(x1, v3);
        }
        int y0 = yOff + r, y1 = yOff + r2;
        y[y0] = sum(s0.add(t0)); y[y0 + ldy] = sum(s1.add(t1)); y[y0 + 2 * ldy] = sum(s2.add(t2)); y[y0 + 3 * ldy] = sum(s3.add(t3));
        y[y1] = sum(u0.add(v0)); y[y1 + ldy] = sum(u1.add(v1)); y[y1 + 2 * ldy] = sum(u2.add(v2)); y[y1 + 3 * ldy] = sum(u3.add(v3));
        finish4(dt, w, row, k, x, xOff, i, y, y0, ldy, b);
        if (r2 != r) finish4(dt, w, row2, k, x, xOff, i, y, y1, ldy, b2);   // an odd last row paired with itself is finished once
    }

    /**
     * Adds the scalar tail (inputs {@code i} on) and the bias to the four tokens' lane sums the caller stored in
     * {@code y[yOff + t·ldy]}. The 2×4 kernels store their sums before calling this rather than passing them: with
     * eight sums held across the calls they ran 20% slower (C2's code for the main loop; 12- and 16-token TinyLlama
     * forwards, 2026-12-05).
     */
    private static void finish4(DType dt, MemorySegment w, long row, int k, float[] x, int xOff, int i, float[] y, int yOff, int ldy, float b) {
        for (int t = 0; t < 4; t++) {
            float s = y[yOff + t * ldy];
            for (int j = i; j < k; j++) s = Math.fma(Vec.get(dt, w, row + j), x[xOff + t * k + j], s);
            y[yOff + t * ldy] = s + b;
        }
    }

    /** Two rows of f32 weights · four consecutive token rows (one accumulator per row and token, as one row alone). */
    private static void dot2x4F32(MemorySegment w, long row, long row2, int k, float[] x, int xOff, float[] y, int yOff, int ldy,
                                  int r, int r2, float b, float b2) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, u0 = s0, u1 = s0, u2 = s0, u3 = s0;
        int i = 0;
        for (; i <= k - L; i += L) {
            FloatVector wv = f32(w, row + i), qv = f32(w, row2 + i);
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            s0 = wv.fma(x0, s0); u0 = qv.fma(x0, u0);
            x0 = FloatVector.fromArray(F, x, xOff + k + i);
            s1 = wv.fma(x0, s1); u1 = qv.fma(x0, u1);
            x0 = FloatVector.fromArray(F, x, xOff + 2 * k + i);
            s2 = wv.fma(x0, s2); u2 = qv.fma(x0, u2);
            x0 = FloatVector.fromArray(F, x, xOff + 3 * k + i);
            s3 = wv.fma(x0, s3); u3 = qv.fma(x0, u3);
        }
        int y0 = yOff + r, y1 = yOff + r2;
        y[y0] = sum(s0); y[y0 + ldy] = sum(s1); y[y0 + 2 * ldy] = sum(s2); y[y0 + 3 * ldy] = sum(s3);
        y[y1] = sum(u0); y[y1 + ldy] = sum(u1); y[y1 + 2 * ldy] = sum(u2); y[y1 + 3 * ldy] = sum(u3);
        finish4(DType.F32, w, row, k, x, xOff, i, y, y0, ldy, b);
        if (r2 != r) finish4(DType.F32, w, row2, k, x, xOff, i, y, y1, ldy, b2);   // an odd last row paired with itself is finished once
    }

    private static FloatVector f32(MemorySegment w, long elem) { return FloatVector.fromMemorySegment(F, w, elem * 4, Vec.LE); }

    // ---------------------------------------------------------------- prefill: tiled, widened weights reused

    /**
     * Whether the {@code tail} tokens after {@code whole} tokens in whole vectors go through the dot kernels (on the
     * task's weight rows, still cached after its tiles) rather than a zero-padded vector of the tiles: a tail of one
     * group of four after at least two vectors, or of up to half a vector that would be a vector pass of its own after
     * whole panels. In-process A/B over the 154 TinyLlama layer matrices (benchmarks/results/2026-12-05-cpu-kernels-5.md):
     * 36, 66, 68, 72, 100, 136 tokens 3.5–13% less time; 20, 24, 40, 56 tokens (which this leaves padded) 2–24% more.
     */
    static boolean dotTail(int whole, int tail) {
        if (tail == 0 || whole < 2 * L) return false;
        return tail <= 4 || tail <= L / 2 && whole % TB == 0;
    }

    private static void gemmPass(Parallel par, float[] x, int nAll, int k, Out[] outs) {
        int tail = nAll % L;                              // tiles for the whole vectors, dots for a short tail
        int n = dotTail(nAll - tail, tail) ? nAll - tail : nAll;
        float[] xTailLeft = n < nAll ? leftGroup(x, n, nAll, k) : null;
        int np = (n + L - 1) / L * L;                     // tokens padded to whole vectors (pads are zero)
        float[] xp = new float[k * np];                   // panel p (tokens p·TB..): xp[p·TB·k + kk·w + j] = x[p·TB + j][kk], w its width
        int panels = (np + TB - 1) / TB;
        int kChunks = (k + 63) / 64;
        par.forEach(panels * kChunks, c -> {
            int p = c / kChunks, k0 = c % kChunks * 64, k1 = Math.min(k, k0 + 64);
            int t0 = p * TB, width = Math.min(TB, np - t0), t1 = Math.min(n, t0 + width), base = t0 * k;
            for (int t = t0; t < t1; t++)
                for (int kk = k0; kk < k1; kk++) xp[base + kk * width + t - t0] = x[t * k + kk];
        });
        int ld = leadingDimension(np);
        int[] rowsPerTask = new int[outs.length];
        java.util.Arrays.fill(rowsPerTask, ROWS_PER_TASK);
        forEachChunk(par, outs, rowsPerTask, (out, r0, r1) -> {
            gemmTask(outs[out], r0, r1, xp, n, np, ld, k);
            if (n < nAll) dotRows(outs[out], k, x, n, nAll, xTailLeft, r0, r1, false);   // the task's rows, still cached
        });
    }

    /**
     * Row stride of acc for np padded tokens: one more vector when np floats are a multiple of 1 KiB, so that
     * the rows of a tile do not all land in the same L1 sets: with 1,024 tokens the stride would be exactly 4 KiB.
     * KernelBench on TinyLlama's layer shapes: without the padding 1,024 tokens cost 17% more per token than 128
     * (benchmarks/results/2026-11-21-kernels-unpadded.md), with it 5% (2026-11-21-kernels.md, within its noise).
     */
    static int leadingDimension(int np) { return np % 256 == 0 ? np + L : np; }

    /**
     * Rows [r0, r1) of one output for all tokens: accumulates in acc[row][token] (rows ld apart), then writes
     * y[token][row]. Per block of {@link #KC} inputs, every panel of tokens is walked contiguously by all row tiles.
     */
    private static void gemmTask(Out o, int r0, int r1, float[] xp, int n, int np, int ld, int k) {
        int rows = r1 - r0;
        float[] wf = scratch(0, rows * KC);
        float[] acc = scratch(1, rows * ld);
        Tensor w = o.weight;
        // the task's rows are one contiguous run: read it first, then widen block by block from the caches; widening
        // straight from memory, KC weights from each row at a time, took twice as long (72 tokens, 2026-12-05)
        Vec.touch(w.data(), (long) r0 * k * w.dtype().bytes, (long) r1 * k * w.dtype().bytes);
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kc = Math.min(KC, k - k0);
            boolean first = k0 == 0;
            for (int r = 0; r < rows; r++) Vec.toFloat(w.dtype(), w.data(), (long) (r0 + r) * k + k0, wf, r * kc, kc);
            for (int t0 = 0; t0 < np; t0 += TB) {
                int width = Math.min(TB, np - t0), vecs = width / L;
                int x0 = t0 * k + k0 * width;             // this panel's rows k0.. (stride width)
                int v = 0;
                for (; v + 4 <= vecs; v += 4) {
                    int r = 0, xv = x0 + v * L, av = t0 + v * L;
                    for (; r + 6 <= rows; r += 6) tile6x4(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r + 4 <= rows; r += 4) tile4x4(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r < rows; r++) tile1x4(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, first);
                }
                if (vecs - v == 3) {                      // leftover tokens: tiles as tall as the registers allow
                    int r = 0, xv = x0 + v * L, av = t0 + v * L;
                    for (; r + 6 <= rows; r += 6) tile6x3(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r < rows; r++) for (int u = 0; u < 3; u++) tile1x1(wf, r * kc, kc, xp, xv + u * L, width, acc, r * ld + av + u * L, first);
                } else if (vecs - v == 2) {
                    int r = 0, xv = x0 + v * L, av = t0 + v * L;
                    for (; r + 12 <= rows; r += 12) tile12x2(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r < rows; r++) for (int u = 0; u < 2; u++) tile1x1(wf, r * kc, kc, xp, xv + u * L, width, acc, r * ld + av + u * L, first);
                } else if (vecs - v == 1) {
                    int r = 0, xv = x0 + v * L, av = t0 + v * L;
                    for (; r + 12 <= rows; r += 12) tile12x1(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r + 4 <= rows; r += 4) tile4x1(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, ld, first);
                    for (; r < rows; r++) tile1x1(wf, r * kc, kc, xp, xv, width, acc, r * ld + av, first);
                }
            }
        }
        int ldy = w.rows();
        for (int t = 0; t < n; t++)                       // contiguous writes to y, strided reads from the cached acc
            for (int r = 0; r < rows; r++) o.y[t * ldy + r0 + r] = acc[r * ld + t] + (o.bias == null ? 0f : o.bias[r0 + r]);
    }

    /**
     * acc[4 rows][4 vectors of tokens] += Σ_kk wf[row][kk] · xt[kk][tokens]: 16 accumulators in registers, per
     * step 4 broadcasts and 4 loads feed 16 FMAs. Row strides: wf {@code kc}, xt {@code xs}, acc {@code ld}.
     */
    private static void tile4x4(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = FloatVector.zero(F);
        } else {
            int a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld;
            c00 = FloatVector.fromArray(F, acc, a0); c01 = FloatVector.fromArray(F, acc, a0 + L);
            c02 = FloatVector.fromArray(F, acc, a0 + 2 * L); c03 = FloatVector.fromArray(F, acc, a0 + 3 * L);
            c10 = FloatVector.fromArray(F, acc, a1); c11 = FloatVector.fromArray(F, acc, a1 + L);
            c12 = FloatVector.fromArray(F, acc, a1 + 2 * L); c13 = FloatVector.fromArray(F, acc, a1 + 3 * L);
            c20 = FloatVector.fromArray(F, acc, a2); c21 = FloatVector.fromArray(F, acc, a2 + L);
            c22 = FloatVector.fromArray(F, acc, a2 + 2 * L); c23 = FloatVector.fromArray(F, acc, a2 + 3 * L);
            c30 = FloatVector.fromArray(F, acc, a3); c31 = FloatVector.fromArray(F, acc, a3 + L);
            c32 = FloatVector.fromArray(F, acc, a3 + 2 * L); c33 = FloatVector.fromArray(F, acc, a3 + 3 * L);
        }
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        for (int kk = 0; kk < kc; kk++) {
            int xo = x0 + kk * xs;
            FloatVector b0 = FloatVector.fromArray(F, xt, xo), b1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector b2 = FloatVector.fromArray(F, xt, xo + 2 * L), b3 = FloatVector.fromArray(F, xt, xo + 3 * L);
            FloatVector a = FloatVector.broadcast(F, wf[w0 + kk]);
            c00 = b0.fma(a, c00); c01 = b1.fma(a, c01); c02 = b2.fma(a, c02); c03 = b3.fma(a, c03);
            a = FloatVector.broadcast(F, wf[w1 + kk]);
            c10 = b0.fma(a, c10); c11 = b1.fma(a, c11); c12 = b2.fma(a, c12); c13 = b3.fma(a, c13);
            a = FloatVector.broadcast(F, wf[w2 + kk]);
            c20 = b0.fma(a, c20); c21 = b1.fma(a, c21); c22 = b2.fma(a, c22); c23 = b3.fma(a, c23);
            a = FloatVector.broadcast(F, wf[w3 + kk]);
            c30 = b0.fma(a, c30); c31 = b1.fma(a, c31); c32 = b2.fma(a, c32); c33 = b3.fma(a, c33);
        }
        int a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld;
        c00.intoArray(acc, a0); c01.intoArray(acc, a0 + L); c02.intoArray(acc, a0 + 2 * L); c03.intoArray(acc, a0 + 3 * L);
        c10.intoArray(acc, a1); c11.intoArray(acc, a1 + L); c12.intoArray(acc, a1 + 2 * L); c13.intoArray(acc, a1 + 3 * L);
        c20.intoArray(acc, a2); c21.intoArray(acc, a2 + L); c22.intoArray(acc, a2 + 2 * L); c23.intoArray(acc, a2 + 3 * L);
        c30.intoArray(acc, a3); c31.intoArray(acc, a3 + L); c32.intoArray(acc, a3 + 2 * L); c33.intoArray(acc, a3 + 3 * L);
    }

    /**
     * acc[6 rows][4 vectors of tokens] += Σ_kk wf[row][kk] · xt[kk][tokens]: 24 accumulators in registers; per step
     * 6 broadcasts and 4 loads feed 24 FMAs. Row strides: wf {@code kc}, xt {@code xs}, acc {@code ld}.
     */
    private static void tile6x4(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
        FloatVector c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        int a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld, a4 = a3 + ld, a5 = a4 + ld;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = FloatVector.zero(F);
            c30 = c31 = c32 = c33 = c40 = c41 = c42 = c43 = c50 = c51 = c52 = c53 = FloatVector.zero(F);
        } else {
            c00 = FloatVector.fromArray(F, acc, a0); c01 = FloatVector.fromArray(F, acc, a0 + L);
            c02 = FloatVector.fromArray(F, acc, a0 + 2 * L); c03 = FloatVector.fromArray(F, acc, a0 + 3 * L);
            c10 = FloatVector.fromArray(F, acc, a1); c11 = FloatVector.fromArray(F, acc, a1 + L);
            c12 = FloatVector.fromArray(F, acc, a1 + 2 * L); c13 = FloatVector.fromArray(F, acc, a1 + 3 * L);
            c20 = FloatVector.fromArray(F, acc, a2); c21 = FloatVector.fromArray(F, acc, a2 + L);
            c22 = FloatVector.fromArray(F, acc, a2 + 2 * L); c23 = FloatVector.fromArray(F, acc, a2 + 3 * L);
            c30 = FloatVector.fromArray(F, acc, a3); c31 = FloatVector.fromArray(F, acc, a3 + L);
            c32 = FloatVector.fromArray(F, acc, a3 + 2 * L); c33 = FloatVector.fromArray(F, acc, a3 + 3 * L);
            c40 = FloatVector.fromArray(F, acc, a4); c41 = FloatVector.fromArray(F, acc, a4 + L);
            c42 = FloatVector.fromArray(F, acc, a4 + 2 * L); c43 = FloatVector.fromArray(F, acc, a4 + 3 * L);
            c50 = FloatVector.fromArray(F, acc, a5); c51 = FloatVector.fromArray(F, acc, a5 + L);
            c52 = FloatVector.fromArray(F, acc, a5 + 2 * L); c53 = FloatVector.fromArray(F, acc, a5 + 3 * L);
        }
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc, w4 = w3 + kc, w5 = w4 + kc;
        for (int kk = 0; kk < kc; kk++) {
            int xo = x0 + kk * xs;
            FloatVector b0 = FloatVector.fromArray(F, xt, xo), b1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector b2 = FloatVector.fromArray(F, xt, xo + 2 * L), b3 = FloatVector.fromArray(F, xt, xo + 3 * L);
            FloatVector m = FloatVector.broadcast(F, wf[w0 + kk]);
            c00 = b0.fma(m, c00); c01 = b1.fma(m, c01); c02 = b2.fma(m, c02); c03 = b3.fma(m, c03);
            m = FloatVector.broadcast(F, wf[w1 + kk]);
            c10 = b0.fma(m, c10); c11 = b1.fma(m, c11); c12 = b2.fma(m, c12); c13 = b3.fma(m, c13);
            m = FloatVector.broadcast(F, wf[w2 + kk]);
            c20 = b0.fma(m, c20); c21 = b1.fma(m, c21); c22 = b2.fma(m, c22); c23 = b3.fma(m, c23);
            m = FloatVector.broadcast(F, wf[w3 + kk]);
            c30 = b0.fma(m, c30); c31 = b1.fma(m, c31); c32 = b2.fma(m, c32); c33 = b3.fma(m, c33);
            m = FloatVector.broadcast(F, wf[w4 + kk]);
            c40 = b0.fma(m, c40); c41 = b1.fma(m, c41); c42 = b2.fma(m, c42); c43 = b3.fma(m, c43);
            m = FloatVector.broadcast(F, wf[w5 + kk]);
            c50 = b0.fma(m, c50); c51 = b1.fma(m, c51); c52 = b2.fma(m, c52); c53 = b3.fma(m, c53);
        }
        c00.intoArray(acc, a0); c01.intoArray(acc, a0 + L);
        c02.intoArray(acc, a0 + 2 * L); c03.intoArray(acc, a0 + 3 * L);
        c10.intoArray(acc, a1); c11.intoArray(acc, a1 + L);
        c12.intoArray(acc, a1 + 2 * L); c13.intoArray(acc, a1 + 3 * L);
        c20.intoArray(acc, a2); c21.intoArray(acc, a2 + L);
        c22.intoArray(acc, a2 + 2 * L); c23.intoArray(acc, a2 + 3 * L);
        c30.intoArray(acc, a3); c31.intoArray(acc, a3 + L);
        c32.intoArray(acc, a3 + 2 * L); c33.intoArray(acc, a3 + 3 * L);
        c40.intoArray(acc, a4); c41.intoArray(acc, a4 + L);
        c42.intoArray(acc, a4 + 2 * L); c43.intoArray(acc, a4 + 3 * L);
        c50.intoArray(acc, a5); c51.intoArray(acc, a5 + L);
        c52.intoArray(acc, a5 + 2 * L); c53.intoArray(acc, a5 + 3 * L);
    }

    /**
     * acc[6 rows][3 vectors of tokens]: a panel with 3 vectors of tokens left; 18 accumulators, per step 6 broadcasts
     * and 3 loads feed 18 FMAs.
     */
    private static void tile6x3(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32, c40, c41, c42, c50, c51, c52;
        int a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld, a4 = a3 + ld, a5 = a4 + ld;
        if (first) {
            c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = FloatVector.zero(F);
            c30 = c31 = c32 = c40 = c41 = c42 = c50 = c51 = c52 = FloatVector.zero(F);
        } else {
            c00 = ld(acc, a0); c01 = ld(acc, a0 + L); c02 = ld(acc, a0 + 2 * L);
            c10 = ld(acc, a1); c11 = ld(acc, a1 + L); c12 = ld(acc, a1 + 2 * L);
            c20 = ld(acc, a2); c21 = ld(acc, a2 + L); c22 = ld(acc, a2 + 2 * L);
            c30 = ld(acc, a3); c31 = ld(acc, a3 + L); c32 = ld(acc, a3 + 2 * L);
            c40 = ld(acc, a4); c41 = ld(acc, a4 + L); c42 = ld(acc, a4 + 2 * L);
            c50 = ld(acc, a5); c51 = ld(acc, a5 + L); c52 = ld(acc, a5 + 2 * L);
        }
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc, w4 = w3 + kc, w5 = w4 + kc;
        for (int kk = 0; kk < kc; kk++) {
            int xo = x0 + kk * xs;
            FloatVector b0 = ld(xt, xo), b1 = ld(xt, xo + L), b2 = ld(xt, xo + 2 * L);
            FloatVector m = FloatVector.broadcast(F, wf[w0 + kk]);
            c00 = b0.fma(m, c00); c01 = b1.fma(m, c01); c02 = b2.fma(m, c02);
            m = FloatVector.broadcast(F, wf[w1 + kk]);
            c10 = b0.fma(m, c10); c11 = b1.fma(m, c11); c12 = b2.fma(m, c12);
            m = FloatVector.broadcast(F, wf[w2 + kk]);
            c20 = b0.fma(m, c20); c21 = b1.fma(m, c21); c22 = b2.fma(m, c22);
            m = FloatVector.broadcast(F, wf[w3 + kk]);
            c30 = b0.fma(m, c30); c31 = b1.fma(m, c31); c32 = b2.fma(m, c32);
            m = FloatVector.broadcast(F, wf[w4 + kk]);
            c40 = b0.fma(m, c40); c41 = b1.fma(m, c41); c42 = b2.fma(m, c42);
            m = FloatVector.broadcast(F, wf[w5 + kk]);
            c50 = b0.fma(m, c50); c51 = b1.fma(m, c51); c52 = b2.fma(m, c52);
        }
        c00.intoArray(acc, a0); c01.intoArray(acc, a0 + L); c02.intoArray(acc, a0 + 2 * L);
        c10.intoArray(acc, a1); c11.intoArray(acc, a1 + L); c12.intoArray(acc, a1 + 2 * L);
        c20.intoArray(acc, a2); c21.intoArray(acc, a2 + L); c22.intoArray(acc, a2 + 2 * L);
        c30.intoArray(acc, a3); c31.intoArray(acc, a3 + L); c32.intoArray(acc, a3 + 2 * L);
        c40.intoArray(acc, a4); c41.intoArray(acc, a4 + L); c42.intoArray(acc, a4 + 2 * L);
        c50.intoArray(acc, a5); c51.intoArray(acc, a5 + L); c52.intoArray(acc, a5 + 2 * L);
    }

    /**
     * acc[12 rows][2 vectors of tokens]: 2 vectors of tokens left; 24 accumulators, per step 12 broadcasts and 2
     * loads feed 24 FMAs.
     */
    private static void tile12x2(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        FloatVector c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1, cb0, cb1;
        int a1 = a0 + ld, a2 = a1 + ld, a3 = a2 + ld, a4 = a3 + ld, a5 = a4 + ld;
        int a6 = a5 + ld, a7 = a6 + ld, a8 = a7 + ld, a9 = a8 + ld, aa = a9 + ld, ab = aa + ld;
        if (first) {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = FloatVector.zero(F);
            c60 = c61 = c70 = c71 = c80 = c81 = c90 = c91 = ca0 = ca1 = cb0 = cb1 = FloatVector.zero(F);
        } else {
            c00 = ld(acc, a0); c01 = ld(acc, a0 + L); c10 = ld(acc, a1); c11 = ld(acc, a1 + L);
            c20 = ld(acc, a2); c21 = ld(acc, a2 + L); c30 = ld(acc, a3); c31 = ld(acc, a3 + L);
            c40 = ld(acc, a4); c41 = ld(acc, a4 + L); c50 = ld(acc, a5); c51 = ld(acc, a5 + L);
            c60 = ld(acc, a6); c61 = ld(acc, a6 + L); c70 = ld(acc, a7); c71 = ld(acc, a7 + L);
            c80 = ld(acc, a8); c81 = ld(acc, a8 + L); c90 = ld(acc, a9); c91 = ld(acc, a9 + L);
            ca0 = ld(acc, aa); ca1 = ld(acc, aa + L); cb0 = ld(acc, ab); cb1 = ld(acc, ab + L);
        }
        for (int kk = 0; kk < kc; kk++) {
            int xo = x0 + kk * xs, wo = w0 + kk;
            FloatVector b0 = ld(xt, xo), b1 = ld(xt, xo + L);
            FloatVector m = FloatVector.broadcast(F, wf[wo]);
            c00 = b0.fma(m, c00); c01 = b1.fma(m, c01);
            m = FloatVector.broadcast(F, wf[wo + kc]);
            c10 = b0.fma(m, c10); c11 = b1.fma(m, c11);
            m = FloatVector.broadcast(F, wf[wo + 2 * kc]);
            c20 = b0.fma(m, c20); c21 = b1.fma(m, c21);
            m = FloatVector.broadcast(F, wf[wo + 3 * kc]);
            c30 = b0.fma(m, c30); c31 = b1.fma(m, c31);
            m = FloatVector.broadcast(F, wf[wo + 4 * kc]);
            c40 = b0.fma(m, c40); c41 = b1.fma(m, c41);
            m = FloatVector.broadcast(F, wf[wo + 5 * kc]);
            c50 = b0.fma(m, c50); c51 = b1.fma(m, c51);
            m = FloatVector.broadcast(F, wf[wo + 6 * kc]);
            c60 = b0.fma(m, c60); c61 = b1.fma(m, c61);
            m = FloatVector.broadcast(F, wf[wo + 7 * kc]);
            c70 = b0.fma(m, c70); c71 = b1.fma(m, c71);
            m = FloatVector.broadcast(F, wf[wo + 8 * kc]);
            c80 = b0.fma(m, c80); c81 = b1.fma(m, c81);
            m = FloatVector.broadcast(F, wf[wo + 9 * kc]);
            c90 = b0.fma(m, c90); c91 = b1.fma(m, c91);
            m = FloatVector.broadcast(F, wf[wo + 10 * kc]);
            ca0 = b0.fma(m, ca0); ca1 = b1.fma(m, ca1);
            m = FloatVector.broadcast(F, wf[wo + 11 * kc]);
            cb0 = b0.fma(m, cb0); cb1 = b1.fma(m, cb1);
        }
        c00.intoArray(acc, a0); c01.intoArray(acc, a0 + L); c10.intoArray(acc, a1); c11.intoArray(acc, a1 + L);
        c20.intoArray(acc, a2); c21.intoArray(acc, a2 + L); c30.intoArray(acc, a3); c31.intoArray(acc, a3 + L);
        c40.intoArray(acc, a4); c41.intoArray(acc, a4 + L); c50.intoArray(acc, a5); c51.intoArray(acc, a5 + L);
        c60.intoArray(acc, a6); c61.intoArray(acc, a6 + L); c70.intoArray(acc, a7); c71.intoArray(acc, a7 + L);
        c80.intoArray(acc, a8); c81.intoArray(acc, a8 + L); c90.intoArray(acc, a9); c91.intoArray(acc, a9 + L);
        ca0.intoArray(acc, aa); ca1.intoArray(acc, aa + L); cb0.intoArray(acc, ab); cb1.intoArray(acc, ab + L);
    }

    /**
     * acc[12 rows][1 vector of tokens]: one vector of tokens left (a short prompt has only that); 12 independent
     * accumulators keep both FMA pipes busy across their latency, where 4 left them idle half the time.
     */
    private static void tile12x1(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ca, cb;
        if (first) {
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = ca = cb = FloatVector.zero(F);
        } else {
            c0 = ld(acc, a0); c1 = ld(acc, a0 + ld); c2 = ld(acc, a0 + 2 * ld); c3 = ld(acc, a0 + 3 * ld);
            c4 = ld(acc, a0 + 4 * ld); c5 = ld(acc, a0 + 5 * ld); c6 = ld(acc, a0 + 6 * ld); c7 = ld(acc, a0 + 7 * ld);
            c8 = ld(acc, a0 + 8 * ld); c9 = ld(acc, a0 + 9 * ld); ca = ld(acc, a0 + 10 * ld); cb = ld(acc, a0 + 11 * ld);
        }
        for (int kk = 0; kk < kc; kk++) {
            FloatVector b = ld(xt, x0 + kk * xs);
            int wo = w0 + kk;
            c0 = b.fma(FloatVector.broadcast(F, wf[wo]), c0);
            c1 = b.fma(FloatVector.broadcast(F, wf[wo + kc]), c1);
            c2 = b.fma(FloatVector.broadcast(F, wf[wo + 2 * kc]), c2);
            c3 = b.fma(FloatVector.broadcast(F, wf[wo + 3 * kc]), c3);
            c4 = b.fma(FloatVector.broadcast(F, wf[wo + 4 * kc]), c4);
            c5 = b.fma(FloatVector.broadcast(F, wf[wo + 5 * kc]), c5);
            c6 = b.fma(FloatVector.broadcast(F, wf[wo + 6 * kc]), c6);
            c7 = b.fma(FloatVector.broadcast(F, wf[wo + 7 * kc]), c7);
            c8 = b.fma(FloatVector.broadcast(F, wf[wo + 8 * kc]), c8);
            c9 = b.fma(FloatVector.broadcast(F, wf[wo + 9 * kc]), c9);
            ca = b.fma(FloatVector.broadcast(F, wf[wo + 10 * kc]), ca);
            cb = b.fma(FloatVector.broadcast(F, wf[wo + 11 * kc]), cb);
        }
        c0.intoArray(acc, a0); c1.intoArray(acc, a0 + ld); c2.intoArray(acc, a0 + 2 * ld); c3.intoArray(acc, a0 + 3 * ld);
        c4.intoArray(acc, a0 + 4 * ld); c5.intoArray(acc, a0 + 5 * ld); c6.intoArray(acc, a0 + 6 * ld); c7.intoArray(acc, a0 + 7 * ld);
        c8.intoArray(acc, a0 + 8 * ld); c9.intoArray(acc, a0 + 9 * ld); ca.intoArray(acc, a0 + 10 * ld); cb.intoArray(acc, a0 + 11 * ld);
    }

    private static FloatVector ld(float[] a, int i) { return FloatVector.fromArray(F, a, i); }

    /** One weight row × 4 vectors of tokens (leftover rows). */
    private static void tile1x4(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, boolean first) {
        FloatVector c0, c1, c2, c3;
        if (first) {
            c0 = c1 = c2 = c3 = FloatVector.zero(F);
        } else {
            c0 = FloatVector.fromArray(F, acc, a0); c1 = FloatVector.fromArray(F, acc, a0 + L);
            c2 = FloatVector.fromArray(F, acc, a0 + 2 * L); c3 = FloatVector.fromArray(F, acc, a0 + 3 * L);
        }
        for (int kk = 0; kk < kc; kk++) {
            int xo = x0 + kk * xs;
            FloatVector a = FloatVector.broadcast(F, wf[w0 + kk]);
            c0 = FloatVector.fromArray(F, xt, xo).fma(a, c0);
            c1 = FloatVector.fromArray(F, xt, xo + L).fma(a, c1);
            c2 = FloatVector.fromArray(F, xt, xo + 2 * L).fma(a, c2);
            c3 = FloatVector.fromArray(F, xt, xo + 3 * L).fma(a, c3);
        }
        c0.intoArray(acc, a0); c1.intoArray(acc, a0 + L); c2.intoArray(acc, a0 + 2 * L); c3.intoArray(acc, a0 + 3 * L);
    }

    /** 4 weight rows × one vector of tokens (leftover tokens). */
    private static void tile4x1(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int ld, boolean first) {
        FloatVector c0, c1, c2, c3;
        if (first) {
            c0 = c1 = c2 = c3 = FloatVector.zero(F);
        } else {
            c0 = FloatVector.fromArray(F, acc, a0); c1 = FloatVector.fromArray(F, acc, a0 + ld);
            c2 = FloatVector.fromArray(F, acc, a0 + 2 * ld); c3 = FloatVector.fromArray(F, acc, a0 + 3 * ld);
        }
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        for (int kk = 0; kk < kc; kk++) {
            FloatVector b = FloatVector.fromArray(F, xt, x0 + kk * xs);
            c0 = b.fma(FloatVector.broadcast(F, wf[w0 + kk]), c0);
            c1 = b.fma(FloatVector.broadcast(F, wf[w1 + kk]), c1);
            c2 = b.fma(FloatVector.broadcast(F, wf[w2 + kk]), c2);
            c3 = b.fma(FloatVector.broadcast(F, wf[w3 + kk]), c3);
        }
        c0.intoArray(acc, a0); c1.intoArray(acc, a0 + ld); c2.intoArray(acc, a0 + 2 * ld); c3.intoArray(acc, a0 + 3 * ld);
    }

    /** One weight row × one vector of tokens (leftover corner). */
    private static void tile1x1(float[] wf, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, boolean first) {
        FloatVector c = first ? FloatVector.zero(F) : FloatVector.fromArray(F, acc, a0);
        for (int kk = 0; kk < kc; kk++) c = FloatVector.fromArray(F, xt, x0 + kk * xs).fma(FloatVector.broadcast(F, wf[w0 + kk]), c);
        c.intoArray(acc, a0);
    }
}
