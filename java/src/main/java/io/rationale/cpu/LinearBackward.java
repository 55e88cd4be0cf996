package io.rationale.cpu;

import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * The input gradient of linear layers: for {@code y = x·Wᵀ + b} with W in {@code [out, in]} layout,
 * {@code dx = dy·W} ({@code [tokens, out] · [out, in]}); biases play no part. Several terms that feed the same
 * input (q/k/v, gate/up) are summed into one dx in one parallel pass.
 *
 * <p>The kernel mirrors {@link MatMul}'s prefill kernel with the roles of the axes swapped: each task owns a stripe
 * of up to {@link #STRIPE} input columns; per block of weight rows it widens {@code W[rows][stripe]} (bf16/f16/f32)
 * once into a thread-local f32 buffer, then register tiles of 6 tokens × 4 vectors ({@link #CB}) of columns
 * accumulate {@code broadcast(dy[t][o]) · W[o][columns]} (per step 4 loads and 6 broadcasts feed 24 FMAs; tiles of
 * 4, 3, 2 and 1 tokens take what is left). dx is row-major like the weights, so no transposition is needed and every
 * widened weight is reused for all tokens from cache.
 *
 * <p>Up to {@link #CHUNKED_MAX_TOKENS} tokens the pass is bound by reading the weights, and stripes read each row in
 * short runs, which memory serves slowly; there tasks take chunks of whole rows instead ({@link #chunked}), each into
 * its own partial dx, added up in a fixed order afterwards. Either way the sums do not depend on the thread count, and
 * blocks of rows whose output gradient is zero for every token are skipped (the LM head's, for one logit).
 */
public final class LinearBackward {
    private LinearBackward() {}

    /** Input columns per register tile: 4 vectors. */
    static final int CB = 4 * L;
    /**
     * Most input columns per task: each task widens runs of up to this many weights from every row it reads.
     * Reading the mapped checkpoint in runs of 64 columns (one tile) went at 3–4 GB/s on one thread, in runs of 1,024
     * at 6.5–8 GB/s (WidenProbe on TinyLlama's weights, 2026-12-05); narrower when that leaves too few tasks.
     */
    static final int STRIPE = 1024;
    /** Floats of widened weights per block (256 KiB): rows per block = this / the task's columns. */
    static final int WF = 64 * 1024;

    /** One term {@code dy·W}: the weight {@code [out, in]} and the gradient of its output {@code [tokens, out]}. */
    public record Term(Tensor weight, float[] dy) {}

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[WF]);

    /**
     * {@code dx = Σ_terms dy·W} (or {@code dx += ...} with {@code accumulate}) for {@code n} tokens; dx is
     * {@code [n, in]}.
     */
    public static void inputGrad(Parallel par, float[] dx, int n, int in, boolean accumulate, Term... terms) {
        for (Term t : terms) {
            if (t.weight.cols() != in)
                throw new IllegalArgumentException(t.weight + ": expected " + in + " inputs, got " + t.weight.cols());
            if (t.dy.length < (long) n * t.weight.rows())
                throw new IllegalArgumentException(t.weight + ": output gradient too small for " + n + " tokens");
        }
        if (dx.length < (long) n * in) throw new IllegalArgumentException("input gradient too small for " + n + " tokens");
        if (n == 0) return;
        if (n <= CHUNKED_MAX_TOKENS) {
            chunked(par, dx, n, in, accumulate, terms);
            return;
        }
        int stripe = stripe(in, par.threads());
        int tasks = (in + stripe - 1) / stripe;
        par.forEach(tasks, c -> block(c * stripe, Math.min(stripe, in - c * stripe), dx, n, in, accumulate, terms));
    }

    /**
     * Columns per task: {@link #STRIPE}, or fewer (a multiple of {@link #CB}) so that every thread gets at least two
     * tasks. The sums are the same whatever the stripe: every dx element adds its terms in the order of the rows.
     */
    static int stripe(int in, int threads) {
        return Math.max(CB, Math.min(STRIPE, in / (2 * threads) / CB * CB));
    }

    /**
     * Columns [c0, c0 + cw) of dx for all tokens: per block of weight rows, widens {@code W[rows][c0, c0 + cw)} into
     * wf, then walks it in register tiles of {@link #CB} columns.
     */
    private static void block(int c0, int cw, float[] dx, int n, int in, boolean accumulate, Term[] terms) {
        int rowsPerBlock = Math.max(1, WF / (cw + L));
        boolean first = !accumulate;
        for (Term term : terms) {
            for (int o0 = 0; o0 < term.weight.rows(); o0 += rowsPerBlock) {
                int kc = Math.min(rowsPerBlock, term.weight.rows() - o0);
                if (zero(term, n, o0, kc)) continue;
                rows(term, o0, kc, c0, cw, dx, 0, n, in, first);
                first = false;
            }
        }
        if (first) for (int t = 0; t < n; t++) java.util.Arrays.fill(dx, t * in + c0, t * in + c0 + cw, 0f);
    }

    /**
     * {@code target[tOff + t·in + c] (+)= Σ_{o < kc} dy[t][o0 + o] · W[o0 + o][c]} for the columns c in
     * {@code [c0, c0 + cw)} and all n tokens ({@code =} when {@code first}): widens the kc rows' runs of cw weights
     * into wf, then walks them in register tiles of {@link #CB} columns. {@code kc·(cw + L)} must fit {@link #WF}.
     */
    private static void rows(Term term, int o0, int kc, int c0, int cw, float[] target, int tOff, int n, int in, boolean first) {
        float[] wf = SCRATCH.get();
        int ws = cw + L, out = term.weight.rows();
        DType dt = term.weight.dtype();
        MemorySegment seg = term.weight.data();
        float[] dy = term.dy, dx = target;
        // one pass over each row's run of cw weights; rows ws = cw + L apart, not cw: with cw = 1,024 they
        // would be 4 KiB apart, all in the same few L1 sets, and a tile walking 64 of them would miss L1
        for (int o = 0; o < kc; o++) Vec.toFloat(dt, seg, (long) (o0 + o) * in + c0, wf, o * ws, cw);
        for (int s = 0; s < cw; s += CB) {
            int sw = Math.min(CB, cw - s), vecs = sw / L, tail = vecs * L, x0 = tOff + c0 + s, w0 = s;
            int t = 0;
            if (vecs == 4) {
                // six at a time, but a last 6 + 1 go as 4 + 3: one token alone keeps four accumulators waiting on the
                // FMA latency (each token's sums are the same in any tile); then 4, else 3 and/or 2, else 1
                for (; n - t >= 6 && n - t != 7; t += 6) tile6x4(wf, w0, ws, kc, dy, t * out + o0, out, dx, t * in + x0, in, first);
                if (n - t == 4 || n - t == 7) { tile4x4(wf, w0, ws, kc, dy, t * out + o0, out, dx, t * in + x0, in, first); t += 4; }
                if (n - t >= 3) { tile3x4(wf, w0, ws, kc, dy, t * out + o0, out, dx, t * in + x0, in, first); t += 3; }
                if (n - t == 2) { tile2x4(wf, w0, ws, kc, dy, t * out + o0, out, dx, t * in + x0, in, first); t += 2; }
                if (n - t == 1) tile1x4(wf, w0, ws, kc, dy, t * out + o0, dx, t * in + x0, first);
            } else {
                for (int v = 0; v < vecs; v++) {
                    int tt = 0;
                    for (; tt + 4 <= n; tt += 4) tile4x1(wf, w0 + v * L, ws, kc, dy, tt * out + o0, out, dx, tt * in + x0 + v * L, in, first);
                    for (; tt < n; tt++) tile1x1(wf, w0 + v * L, ws, kc, dy, tt * out + o0, dx, tt * in + x0 + v * L, first);
                }
            }
            for (int tt = 0; tt < n && tail < sw; tt++) {          // columns left over after whole vectors
                for (int col = tail; col < sw; col++) {
                    float acc = first ? 0f : dx[tt * in + x0 + col];
                    for (int o = 0; o < kc; o++) acc = Math.fma(dy[tt * out + o0 + o], wf[w0 + o * ws + col], acc);
                    dx[tt * in + x0 + col] = acc;
                }
            }
        }
    }

    /**
     * Whether rows [o0, o0 + kc) of the term's output gradient are zero for every token: they add nothing, so they are
     * skipped (the LM head's gradient of one logit is one row of the vocabulary per sequence).
     */
    private static boolean zero(Term term, int n, int o0, int kc) {
        int out = term.weight.rows();
        for (int t = 0; t < n; t++)
            for (int o = o0; o < o0 + kc; o++) if (term.dy[t * out + o] != 0f) return false;
        return true;
    }

    // ---------------------------------------------------------------- few tokens: tasks over whole rows, summed in a fixed order

    /**
     * Up to this many tokens, {@link #chunked} runs: the stripes read each row in runs of up to {@link #STRIPE}
     * columns, which the memory system serves slowly, while few tokens leave the pass bound by reading the weights.
     */
    static final int CHUNKED_MAX_TOKENS = 12;
    /** Row blocks per chunk: partial sums cost 2n/rows of the weights' bytes in traffic. */
    static final int CHUNK_BLOCKS = 4;

    private static final ThreadLocal<float[]> PARTIALS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * dx for few tokens: each weight's rows are cut into chunks of {@link #CHUNK_BLOCKS} row blocks, a chunk being
     * contiguous in memory; a task reads a block of whole rows into L2 ({@link Vec#touch}), then walks it stripe by
     * stripe into the chunk's own partial dx. The partials are then added in the order of the chunks. Chunks are cut
     * by rows, not by threads, so the sums do not depend on the thread count. A chunk whose output gradient is zero for
     * every token gets no task and no partial (the LM head's backward for one logit had one zero-filled partial of
     * n × hidden floats for each of its chunks to write and add up: 509 for a 128k vocabulary).
     */
    private static void chunked(Parallel par, float[] dx, int n, int in, boolean accumulate, Term[] terms) {
        int cw = Math.min(STRIPE, in), rowsPerBlock = Math.max(1, WF / (cw + L)), chunk = rowsPerBlock * CHUNK_BLOCKS;
        // the chunks (term, first row) with some output gradient: the others add nothing, so they get no partial and
        // nothing to add up (all of the LM head's but those of the target rows, for one logit)
        int chunks = 0;
        for (Term t : terms) chunks += (t.weight.rows() + chunk - 1) / chunk;
        int[] chunkTerm = new int[chunks], chunkRow = new int[chunks];
        int live = 0;
        for (int i = 0; i < terms.length; i++)
            for (int oa = 0; oa < terms[i].weight.rows(); oa += chunk)
                if (!zero(terms[i], n, oa, Math.min(chunk, terms[i].weight.rows() - oa))) {
                    chunkTerm[live] = i;
                    chunkRow[live++] = oa;
                }
        int tasks = live, size = n * in;
        float[] parts = PARTIALS.get();
        if (parts.length < (long) tasks * size) PARTIALS.set(parts = new float[tasks * size]);
        float[] p = parts;
        par.forEach(tasks, task -> {
            Term term = terms[chunkTerm[task]];
            int bytes = term.weight.dtype().bytes, oa = chunkRow[task], ob = Math.min(term.weight.rows(), oa + chunk);
            boolean first = true;                             // some block of the chunk has a gradient, so it is set
            for (int o0 = oa; o0 < ob; o0 += rowsPerBlock) {
                int kc = Math.min(rowsPerBlock, ob - o0);
                if (zero(term, n, o0, kc)) continue;
                Vec.touch(term.weight.data(), (long) o0 * in * bytes, (long) (o0 + kc) * in * bytes);
                for (int c0 = 0; c0 < in; c0 += cw) rows(term, o0, kc, c0, Math.min(cw, in - c0), p, task * size, n, in, first);
                first = false;
            }
        });
        int span = 16 * CB;                                   // columns per reduction task
        par.forEach((in + span - 1) / span, c -> {
            int c0 = c * span, c1 = Math.min(in, c0 + span);
            for (int t = 0; t < n; t++) {
                int base = t * in;
                int col = c0;
                for (; col + L <= c1; col += L) {
                    FloatVector acc = accumulate ? FloatVector.fromArray(F, dx, base + col) : FloatVector.zero(F);
                    for (int task = 0; task < tasks; task++) acc = acc.add(FloatVector.fromArray(F, p, task * size + base + col));
                    acc.intoArray(dx, base + col);
                }
                for (; col < c1; col++) {
                    float acc = accumulate ? dx[base + col] : 0f;
                    for (int task = 0; task < tasks; task++) acc += p[task * size + base + col];
                    dx[base + col] = acc;
                }
            }
        });
    }

    /** dx[4 tokens][4 vectors] (+)= Σ_o dy[token][o] · wf[o][vectors]: 16 accumulators in registers. */
    private static void tile4x4(float[] wf, int col0, int ws, int kc, float[] dy, int d0, int ldy, float[] dx, int x0, int ldx, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = FloatVector.zero(F);
        } else {
            c00 = FloatVector.fromArray(F, dx, x0); c01 = FloatVector.fromArray(F, dx, x0 + L);
            c02 = FloatVector.fromArray(F, dx, x0 + 2 * L); c03 = FloatVector.fromArray(F, dx, x0 + 3 * L);
            c10 = FloatVector.fromArray(F, dx, x1); c11 = FloatVector.fromArray(F, dx, x1 + L);
            c12 = FloatVector.fromArray(F, dx, x1 + 2 * L); c13 = FloatVector.fromArray(F, dx, x1 + 3 * L);
            c20 = FloatVector.fromArray(F, dx, x2); c21 = FloatVector.fromArray(F, dx, x2 + L);
            c22 = FloatVector.fromArray(F, dx, x2 + 2 * L); c23 = FloatVector.fromArray(F, dx, x2 + 3 * L);
            c30 = FloatVector.fromArray(F, dx, x3); c31 = FloatVector.fromArray(F, dx, x3 + L);
            c32 = FloatVector.fromArray(F, dx, x3 + 2 * L); c33 = FloatVector.fromArray(F, dx, x3 + 3 * L);
        }
        int d1 = d0 + ldy, d2 = d1 + ldy, d3 = d2 + ldy;
        for (int o = 0; o < kc; o++) {
            int wo = o * ws + col0;
            FloatVector w0 = FloatVector.fromArray(F, wf, wo), w1 = FloatVector.fromArray(F, wf, wo + L);
            FloatVector w2 = FloatVector.fromArray(F, wf, wo + 2 * L), w3 = FloatVector.fromArray(F, wf, wo + 3 * L);
            FloatVector a = FloatVector.broadcast(F, dy[d0 + o]);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.broadcast(F, dy[d1 + o]);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
            a = FloatVector.broadcast(F, dy[d2 + o]);
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22); c23 = w3.fma(a, c23);
            a = FloatVector.broadcast(F, dy[d3 + o]);
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32); c33 = w3.fma(a, c33);
        }
        c00.intoArray(dx, x0); c01.intoArray(dx, x0 + L); c02.intoArray(dx, x0 + 2 * L); c03.intoArray(dx, x0 + 3 * L);
        c10.intoArray(dx, x1); c11.intoArray(dx, x1 + L); c12.intoArray(dx, x1 + 2 * L); c13.intoArray(dx, x1 + 3 * L);
        c20.intoArray(dx, x2); c21.intoArray(dx, x2 + L); c22.intoArray(dx, x2 + 2 * L); c23.intoArray(dx, x2 + 3 * L);
        c30.intoArray(dx, x3); c31.intoArray(dx, x3 + L); c32.intoArray(dx, x3 + 2 * L); c33.intoArray(dx, x3 + 3 * L);
    }

    private static FloatVector ld(float[] a, int i) { return FloatVector.fromArray(F, a, i); }
    /** dx[6 tokens][4 vectors] (+)= Σ_o dy[token][o] · wf[o][vectors]: 24 accumulators in registers. */
    private static void tile6x4(float[] wf, int col0, int ws, int kc, float[] dy, int d0, int ldy, float[] dx, int x0, int ldx, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        int x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = FloatVector.zero(F);
            c30 = c31 = c32 = c33 = c40 = c41 = c42 = c43 = c50 = c51 = c52 = c53 = FloatVector.zero(F);
        } else {
            c00 = ld(dx, x0); c01 = ld(dx, x0 + L); c02 = ld(dx, x0 + 2 * L); c03 = ld(dx, x0 + 3 * L);
            c10 = ld(dx, x1); c11 = ld(dx, x1 + L); c12 = ld(dx, x1 + 2 * L); c13 = ld(dx, x1 + 3 * L);
            c20 = ld(dx, x2); c21 = ld(dx, x2 + L); c22 = ld(dx, x2 + 2 * L); c23 = ld(dx, x2 + 3 * L);
            c30 = ld(dx, x3); c31 = ld(dx, x3 + L); c32 = ld(dx, x3 + 2 * L); c33 = ld(dx, x3 + 3 * L);
            c40 = ld(dx, x4); c41 = ld(dx, x4 + L); c42 = ld(dx, x4 + 2 * L); c43 = ld(dx, x4 + 3 * L);
            c50 = ld(dx, x5); c51 = ld(dx, x5 + L); c52 = ld(dx, x5 + 2 * L); c53 = ld(dx, x5 + 3 * L);
        }
        int d1 = d0 + ldy, d2 = d1 + ldy, d3 = d2 + ldy, d4 = d3 + ldy, d5 = d4 + ldy;
        for (int o = 0; o < kc; o++) {
            int wo = o * ws + col0;
            FloatVector w0 = ld(wf, wo), w1 = ld(wf, wo + L), w2 = ld(wf, wo + 2 * L), w3 = ld(wf, wo + 3 * L);
            FloatVector a = FloatVector.broadcast(F, dy[d0 + o]);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.broadcast(F, dy[d1 + o]);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
            a = FloatVector.broadcast(F, dy[d2 + o]);
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22); c23 = w3.fma(a, c23);
            a = FloatVector.broadcast(F, dy[d3 + o]);
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32); c33 = w3.fma(a, c33);
            a = FloatVector.broadcast(F, dy[d4 + o]);
            c40 = w0.fma(a, c40); c41 = w1.fma(a, c41); c42 = w2.fma(a, c42); c43 = w3.fma(a, c43);
            a = FloatVector.broadcast(F, dy[d5 + o]);
            c50 = w0.fma(a, c50); c51 = w1.fma(a, c51); c52 = w2.fma(a, c52); c53 = w3.fma(a, c53);
        }
        c00.intoArray(dx, x0); c01.intoArray(dx, x0 + L); c02.intoArray(dx, x0 + 2 * L); c03.intoArray(dx, x0 + 3 * L);
        c10.intoArray(dx, x1); c11.intoArray(dx, x1 + L); c12.intoArray(dx, x1 + 2 * L); c13.intoArray(dx, x1 + 3 * L);
        c20.intoArray(dx, x2); c21.intoArray(dx, x2 + L); c22.intoArray(dx, x2 + 2 * L); c23.intoArray(dx, x2 + 3 * L);
        c30.intoArray(dx, x3); c31.intoArray(dx, x3 + L); c32.intoArray(dx, x3 + 2 * L); c33.intoArray(dx, x3 + 3 * L);
        c40.intoArray(dx, x4); c41.intoArray(dx, x4 + L); c42.intoArray(dx, x4 + 2 * L); c43.intoArray(dx, x4 + 3 * L);
        c50.intoArray(dx, x5); c51.intoArray(dx, x5 + L); c52.intoArray(dx, x5 + 2 * L); c53.intoArray(dx, x5 + 3 * L);
    }

    /** dx[3 tokens][4 vectors] (+)= Σ_o dy[token][o] · wf[o][vectors]: 12 accumulators (tokens left over). */
    private static void tile3x4(float[] wf, int col0, int ws, int kc, float[] dy, int d0, int ldy, float[] dx, int x0, int ldx, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
        int x1 = x0 + ldx, x2 = x1 + ldx;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = FloatVector.zero(F);
        } else {
            c00 = ld(dx, x0); c01 = ld(dx, x0 + L); c02 = ld(dx, x0 + 2 * L); c03 = ld(dx, x0 + 3 * L);
            c10 = ld(dx, x1); c11 = ld(dx, x1 + L); c12 = ld(dx, x1 + 2 * L); c13 = ld(dx, x1 + 3 * L);
            c20 = ld(dx, x2); c21 = ld(dx, x2 + L); c22 = ld(dx, x2 + 2 * L); c23 = ld(dx, x2 + 3 * L);
        }
        int d1 = d0 + ldy, d2 = d1 + ldy;
        for (int o = 0; o < kc; o++) {
            int wo = o * ws + col0;
            FloatVector w0 = ld(wf, wo), w1 = ld(wf, wo + L), w2 = ld(wf, wo + 2 * L), w3 = ld(wf, wo + 3 * L);
            FloatVector a = FloatVector.broadcast(F, dy[d0 + o]);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.broadcast(F, dy[d1 + o]);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
            a = FloatVector.broadcast(F, dy[d2 + o]);
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22); c23 = w3.fma(a, c23);
        }
        c00.intoArray(dx, x0); c01.intoArray(dx, x0 + L); c02.intoArray(dx, x0 + 2 * L); c03.intoArray(dx, x0 + 3 * L);
        c10.intoArray(dx, x1); c11.intoArray(dx, x1 + L); c12.intoArray(dx, x1 + 2 * L); c13.intoArray(dx, x1 + 3 * L);
        c20.intoArray(dx, x2); c21.intoArray(dx, x2 + L); c22.intoArray(dx, x2 + 2 * L); c23.intoArray(dx, x2 + 3 * L);
    }

    /** dx[2 tokens][4 vectors] (+)= Σ_o dy[token][o] · wf[o][vectors]: 8 accumulators (tokens left over). */
    private static void tile2x4(float[] wf, int col0, int ws, int kc, float[] dy, int d0, int ldy, float[] dx, int x0, int ldx, boolean first) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13;
        int x1 = x0 + ldx;
        if (first) {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = FloatVector.zero(F);
        } else {
            c00 = ld(dx, x0); c01 = ld(dx, x0 + L); c02 = ld(dx, x0 + 2 * L); c03 = ld(dx, x0 + 3 * L);
            c10 = ld(dx, x1); c11 = ld(dx, x1 + L); c12 = ld(dx, x1 + 2 * L); c13 = ld(dx, x1 + 3 * L);
        }
        int d1 = d0 + ldy;
        for (int o = 0; o < kc; o++) {
            int wo = o * ws + col0;
            FloatVector w0 = ld(wf, wo), w1 = ld(wf, wo + L), w2 = ld(wf, wo + 2 * L), w3 = ld(wf, wo + 3 * L);
            FloatVector a = FloatVector.broadcast(F, dy[d0 + o]);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.broadcast(F, dy[d1 + o]);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
        }
        c00.intoArray(dx, x0); c01.intoArray(dx, x0 + L); c02.intoArray(dx, x0 + 2 * L); c03.intoArray(dx, x0 + 3 * L);
        c10.intoArray(dx, x1); c11.intoArray(dx, x1 + L); c12.intoArray(dx, x1 + 2 * L); c13.intoArray(dx, x1 + 3 * L);
    }

    /** One token × 4 vectors of columns (leftover tokens). */
    private static void tile1x4(float[] wf, int col0, int ws, int kc, float[] dy, int d0, float[] dx, int x0, boolean first) {
        FloatVector c0, c1, c2, c3;
        if (first) {
            c0 = c1 = c2 = c3 = FloatVector.zero(F);
        } else {
            c0 = FloatVector.fromArray(F, dx, x0); c1 = FloatVector.fromArray(F, dx, x0 + L);
            c2 = FloatVector.fromArray(F, dx, x0 + 2 * L); c3 = FloatVector.fromArray(F, dx, x0 + 3 * L);
        }
        for (int o = 0; o < kc; o++) {
            int wo = o * ws + col0;
            FloatVector a = FloatVector.broadcast(F, dy[d0 + o]);
            c0 = FloatVector.fromArray(F, wf, wo).fma(a, c0);
            c1 = FloatVector.fromArray(F, wf, wo + L).fma(a, c1);
            c2 = FloatVector.fromArray(F, wf, wo + 2 * L).fma(a, c2);
            c3 = FloatVector.fromArray(F, wf, wo + 3 * L).fma(a, c3);
        }
        c0.intoArray(dx, x0); c1.intoArray(dx, x0 + L); c2.intoArray(dx, x0 + 2 * L); c3.intoArray(dx, x0 + 3 * L);
    }

    /** 4 tokens × one vector of columns starting at column {@code w0} of the block (narrow blocks). */
    private static void tile4x1(float[] wf, int w0, int ws, int kc, float[] dy, int d0, int ldy, float[] dx, int x0, int ldx, boolean first) {
        FloatVector c0, c1, c2, c3;
        if (first) {
            c0 = c1 = c2 = c3 = FloatVector.zero(F);
        } else {
            c0 = FloatVector.fromArray(F, dx, x0); c1 = FloatVector.fromArray(F, dx, x0 + ldx);
            c2 = FloatVector.fromArray(F, dx, x0 + 2 * ldx); c3 = FloatVector.fromArray(F, dx, x0 + 3 * ldx);
        }
        for (int o = 0; o < kc; o++) {
            FloatVector w = FloatVector.fromArray(F, wf, o * ws + w0);
            c0 = w.fma(FloatVector.broadcast(F, dy[d0 + o]), c0);
            c1 = w.fma(FloatVector.broadcast(F, dy[d0 + ldy + o]), c1);
            c2 = w.fma(FloatVector.broadcast(F, dy[d0 + 2 * ldy + o]), c2);
            c3 = w.fma(FloatVector.broadcast(F, dy[d0 + 3 * ldy + o]), c3);
        }
        c0.intoArray(dx, x0); c1.intoArray(dx, x0 + ldx); c2.intoArray(dx, x0 + 2 * ldx); c3.intoArray(dx, x0 + 3 * ldx);
    }

    /** One token × one vector of columns. */
    private static void tile1x1(float[] wf, int w0, int ws, int kc, float[] dy, int d0, float[] dx, int x0, boolean first) {
        FloatVector c = first ? FloatVector.zero(F) : FloatVector.fromArray(F, dx, x0);
        for (int o = 0; o < kc; o++) c = FloatVector.fromArray(F, wf, o * ws + w0).fma(FloatVector.broadcast(F, dy[d0 + o]), c);
        c.intoArray(dx, x0);
    }
}
