package io.rationale.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs a {@link Model} forward (and backward): the seam where backends plug in (CPU, CUDA). Open one with
 * {@link Backends#open}; code above the engine never constructs a concrete backend nor reads its layouts.
 *
 * <p>The one primitive is {@link #forward(List, List, ForwardOptions)}: a batch of sequences, each with its new
 * tokens and its KV cache. A backend packs all new tokens into one {@code [tokens, hidden]} matrix for the
 * projections (no padding), runs attention per sequence at its own positions (cache length + index), appends keys
 * and values to each cache and returns the requested logits. Prefill is a call with many tokens, decode a call with
 * one token per sequence. The other forward methods are conveniences over it.
 *
 * <p>A backend owns what it makes: {@link KvCache}s ({@link #newCache}) and {@link ForwardRecord}s
 * ({@link #newRecord}) are in its own memory and layout, and only that backend reads them. Batch sizes and memory
 * budgets come from the backend ({@link #forwardBatchTokens}, {@link #memoryBudget},
 * {@link #bytesPerRecordedSequence}).
 */
public interface Backend extends AutoCloseable {

    Model model();

    /** What runs the model, in words (e.g. {@code cpu (2 threads)}, {@code cuda:0 (NVIDIA H200, ...)}). */
    String device();

    /** An empty KV cache for this model, in this backend's memory. */
    KvCache newCache();

    /**
     * An empty record for {@link ForwardOptions#record()}, filled by a forward of this backend and read by its
     * {@link #backward}.
     *
     * @param keepAttentionProbs keep every layer's attention probabilities ({@link ForwardRecord#attentionProbs})
     * @param recompute          keep only each layer's input and recompute the rest during the backward pass
     */
    ForwardRecord newRecord(boolean keepAttentionProbs, boolean recompute);

    /** A full record (no recomputation). */
    default ForwardRecord newRecord(boolean keepAttentionProbs) { return newRecord(keepAttentionProbs, false); }

    /**
     * Runs each sequence's new tokens after what its cache holds and appends them to the cache.
     *
     * @param tokens  per sequence, its new token ids (at least one each)
     * @param caches  per sequence, its cache (distinct objects of this backend); null, or null entries, for
     *                throwaway caches
     * @param options which positions get logits, an optional record, an optional attention intervention
     * @return logits, sequence by sequence in batch order
     */
    Logits forward(List<int[]> tokens, List<KvCache> caches, ForwardOptions options);

    /** {@link #forward(List, List, ForwardOptions)} with logits mode and record. */
    default Logits forward(List<int[]> tokens, List<KvCache> caches, LogitsMode mode, ForwardRecord record) {
        return forward(tokens, caches, ForwardOptions.of(mode).withRecord(record));
    }

    /** One sequence: runs {@code tokens} after what {@code cache} holds (null: a fresh throwaway cache). */
    default Logits forward(int[] tokens, KvCache cache, LogitsMode mode) {
        return forward(List.of(tokens), Arrays.asList(cache), ForwardOptions.of(mode));
    }

    /** Whole sequences from position 0, without caches. */
    default Logits forward(List<int[]> sequences, LogitsMode mode) {
        return forward(sequences, null, ForwardOptions.of(mode));
    }

    /**
     * One generation step: runs each sequence's new tokens after its cache (as {@link #forward}, with an optional
     * attention intervention) and picks each sequence's next token from its last logits as
     * {@link Sampler#sample(float[], SamplingParams, double)} does with draw {@code draws[s]}. A backend may pick
     * on its device and copy back only the ids.
     *
     * @param draws per sequence, a uniform draw in [0, 1) ({@link Sampler#draw}; unused when greedy)
     */
    default int[] forwardAndSample(List<int[]> tokens, List<KvCache> caches, AttentionIntervention intervention,
                                   SamplingParams params, double[] draws) {
        Logits l = forward(tokens, caches, ForwardOptions.of(LogitsMode.LAST).withIntervention(intervention));
        int[] out = new int[tokens.size()];
        for (int s = 0; s < out.length; s++) out[s] = Sampler.sample(l.last(s), params, draws[s]);
        return out;
    }

    /**
     * Last-position logits of continuations of one cached sequence. Continuation i is {@code rests.get(i)} run after
     * the first {@code prefixLengths[i]} positions of {@code base} (a {@link KvCache#forkPrefix} each: full blocks
     * shared, {@code base} unchanged), so a prefix is computed once for all of them. Continuations are packed in
     * order into batched forwards of at most {@code maxTokens} new tokens (at least one continuation each); a
     * batch's forks are closed after it. A batch that runs out of backend memory ({@link BackendMemoryException})
     * is run again in smaller batches; one continuation that does not fit fails.
     *
     * @param prefixLengths per continuation, how many of base's positions precede it; null for all of them
     * @param maxTokens     new tokens per batched forward; 0 for {@link #forwardBatchTokens()}
     * @param lastLogits    receives each continuation's index and last logits, in order
     * @return the forward passes run
     */
    default int forwardContinuations(KvCache base, int[] prefixLengths, List<int[]> rests, int maxTokens,
                                     java.util.function.ObjIntConsumer<float[]> lastLogits) {
        return Continuations.run(this, base, prefixLengths, rests, maxTokens, (batch, caches) -> {
            Logits l = forward(batch, caches, ForwardOptions.of(LogitsMode.LAST));
            float[][] out = new float[batch.size()][];
            for (int i = 0; i < out.length; i++) out[i] = l.last(i);
            return out;
        }, lastLogits);
    }

    /**
     * {@link #forwardContinuations} with each continuation's last logits reduced to label groups
     * ({@link LabelLogits#of}): the same batches, forks and retries. The default reduces the logits rows on the host;
     * a device backend reduces them on its device and copies back only the per-label values (a few floats per
     * continuation instead of a vocabulary row).
     *
     * @param labelTokens per label, its token ids (at least one each)
     * @param labels      receives each continuation's index and label logits, in order
     * @return the forward passes run
     */
    default int forwardLabelLogits(KvCache base, int[] prefixLengths, List<int[]> rests, int maxTokens, int[][] labelTokens,
                                   java.util.function.ObjIntConsumer<LabelLogits> labels) {
        LabelLogits.check(labelTokens, model().config().vocabSize());
        return forwardContinuations(base, prefixLengths, rests, maxTokens, (last, i) -> labels.accept(LabelLogits.of(last, labelTokens), i));
    }

    /**
     * The flip evaluation of one input's masked variants ({@link FlipBatch}): each variant's tokens run after a fork
     * of {@code prefix} (the cached prompt prefix, unchanged), in batched forwards of at most {@code maxTokens} new
     * tokens (0: {@link #forwardBatchTokens()}), with the same batches, forks and retries on
     * {@link BackendMemoryException} as {@link #forwardLabelLogits}; each variant's last logits reduced to the label
     * logits ({@link LabelLogits#of}), its label probabilities ({@link LabelLogits#probabilities}) and prediction, and
     * every request's flip, comprehensiveness and sufficiency ({@link FlipScores}).
     *
     * <p>The default builds the variants on the host ({@link FlipBatch#tokens}), runs them through
     * {@link #forwardLabelLogits} and computes the probabilities and metrics in double ({@link FlipScores#of}). A
     * device backend builds the variants from the rankings on its device, keeps the logits there and computes the
     * probabilities and metrics there (in double, the same operations), so only the per-variant label values and the
     * per-request numbers come back.
     *
     * @param labelTokens per label, its token ids (at least one each)
     * @param original    the unmasked input's scores when the caller has them (variant 0 is then not run), or null
     */
    default FlipScores flipEvaluation(KvCache prefix, FlipBatch batch, int[][] labelTokens, int maxTokens, FlipBatch.Original original) {
        LabelLogits.check(labelTokens, model().config().vocabSize());
        if (original != null && original.probs().length != labelTokens.length)
            throw new IllegalArgumentException("the original's " + original.probs().length + " probabilities for " + labelTokens.length + " labels");
        int v = batch.variants(), first = original == null ? 0 : 1, tokens = 0;
        List<int[]> rests = new ArrayList<>(v - first);
        for (int i = first; i < v; i++) {
            int[] t = batch.tokens(i);
            rests.add(t);
            tokens += t.length;
        }
        float[][] logits = new float[v][];
        int[][] best = new int[v][];
        double[][] probs = new double[v][];
        int[] predicted = new int[v];
        if (original != null) {
            probs[0] = original.probs();
            predicted[0] = original.predicted();
        }
        int forwards = rests.isEmpty() ? 0 : forwardLabelLogits(prefix, null, rests, maxTokens, labelTokens, (l, i) -> {
            logits[i + first] = l.logits();
            best[i + first] = l.tokens();
            probs[i + first] = l.probabilities();
            predicted[i + first] = l.predicted();
        });
        return FlipScores.of(batch, logits, best, probs, predicted, forwards, tokens);
    }

    /**
     * Hugging Face style padded batch: {@code ids[b][t]} with {@code attentionMask[b][t]} (1 = token, 0 = padding;
     * left or right padding, or any gaps). Masked tokens are dropped and each row is packed, so the positions of
     * the kept tokens are the cumulative sum of the mask minus one (what HF generate uses with left padding).
     *
     * @return {@code [B][T][vocab]} logits; rows at masked positions are all zero
     */
    default float[][][] forwardPadded(int[][] ids, int[][] attentionMask) {
        List<int[]> packed = Padding.pack(ids, attentionMask);
        Logits l = forward(packed, LogitsMode.ALL);
        float[][][] out = new float[ids.length][][];
        for (int b = 0; b < ids.length; b++) {
            out[b] = new float[ids[b].length][];
            int row = 0;
            for (int t = 0; t < ids[b].length; t++)
                out[b][t] = attentionMask[b][t] != 0 ? l.row(b, row++) : new float[l.vocabSize()];
        }
        return out;
    }

    /** Like {@link #forwardPadded} but only the logits of each row's last unmasked token: {@code [B][vocab]}. */
    default float[][] lastLogitsPadded(int[][] ids, int[][] attentionMask) {
        Logits l = forward(Padding.pack(ids, attentionMask), LogitsMode.LAST);
        float[][] out = new float[ids.length][];
        for (int b = 0; b < ids.length; b++) out[b] = l.last(b);
        return out;
    }

    /**
     * Forward from given input embeddings instead of token ids: each sequence runs from position 0 with a fresh
     * throwaway cache, exactly as {@link #forward(List, List, ForwardOptions)} would after the embedding lookup (so
     * the token rows of {@code embed_tokens} give the same logits as the ids).
     *
     * @param embeddings per sequence, {@code [len*hidden]} row-major (len at least 1)
     * @param options    which positions get logits, an optional record, an optional attention intervention
     */
    Logits forwardEmbeddings(List<float[]> embeddings, ForwardOptions options);

    /** {@link #forwardEmbeddings(List, ForwardOptions)} with logits mode and record. */
    default Logits forwardEmbeddings(List<float[]> embeddings, LogitsMode mode, ForwardRecord record) {
        return forwardEmbeddings(embeddings, ForwardOptions.of(mode).withRecord(record));
    }

    /** Whether {@link #backward} is implemented on this backend. */
    default boolean supportsBackward() { return true; }

    /**
     * One backward pass over a recorded forward: for every sequence s, d targets.get(s) / d input embeddings of s,
     * with {@code mode}'s rule modifications ({@link LrpRules}), as {@code [len_s*hidden]}. The target is read at the
     * last position of each sequence. Sequences are independent, so all of them go through ONE pass over the
     * packed batch.
     *
     * <p>The record must come from this backend's {@link #forward} or {@link #forwardEmbeddings} of the same batch
     * with {@link LogitsMode#LAST} or {@link LogitsMode#ALL}, every sequence starting at position 0 (fresh caches) —
     * or, on a backend that {@link #supportsPrefixRecord supports prefix records}, after what its cache held (a
     * cached prompt prefix; {@link ForwardRecord#prefixLength}): then the gradients are those of the recorded tokens
     * only, {@code [new_s*hidden]}, with the prefix's keys and values held constant. In causal attention nothing of
     * the prefix depends on a later token, so these rows equal the same rows of a whole-sequence record's backward
     * (in every rule mode: the rules are local to each operation).
     * The record is only read: several targets on one input are several calls on the same record. Token relevance
     * is then {@code Σ_d e·g} with e = {@link ForwardRecord#embeddings}.
     *
     * @param targets one per sequence
     * @return per sequence, its gradient (or modified gradient) with respect to its input embeddings
     * @throws UnsupportedOperationException when {@link #supportsBackward()} is false
     */
    float[][] backward(ForwardRecord record, List<Target> targets, RuleMode mode);

    /**
     * Whether {@link #backward} (and {@link #backwardTokenScores}, {@link #backwardWithPositions}) reads records of a
     * forward that ran after a non-empty cache ({@link ForwardRecord#prefixLength}); when false, callers record the
     * whole sequence from position 0.
     */
    default boolean supportsPrefixRecord() { return false; }

    /** Whether {@link #backwardLora} is implemented on this backend. */
    default boolean supportsLoraGradients() { return false; }

    /**
     * The gradients of a loss with respect to the weights of the model's unmerged LoRA adapter ({@link Model#lora()}):
     * one plain-gradient pass ({@link RuleMode#GRADIENT}) over a recorded forward (the record requirements of
     * {@link #backward}), seeded at each sequence's last position with {@code logitGradients.get(s)} (d loss / d that
     * position's logits, {@code [vocab]}). At every targeted projection, with x its input {@code [n, in]} and dy the
     * gradient of its output {@code [n, out]} over the batch's n tokens, each module m adds
     * {@code dB += scale·dyᵀ·(x·Aᵀ)} and {@code dA += scale·(dy·B)ᵀ·x} into {@code grads} (accumulated, not
     * overwritten: several batches may add into the same buffers).
     *
     * @throws UnsupportedOperationException when {@link #supportsLoraGradients()} is false
     * @throws IllegalArgumentException      when the model has no unmerged adapter or the record does not fit
     */
    default void backwardLora(ForwardRecord record, List<float[]> logitGradients, Lora.Gradients grads) {
        throw new UnsupportedOperationException("LoRA weight gradients need a backward pass that keeps each projection's input, which the "
                + device() + " backend does not have; fine-tune with --device cpu");
    }

    /** Whether {@link #backwardWithPositions} is implemented on this backend. */
    default boolean supportsPositionalRelevance() { return false; }

    /**
     * {@link #backward} under a rule mode that treats RoPE's cos and sin as inputs ({@link LrpRules#positionalRelevance()},
     * i.e. {@link RuleMode#PE_LRP}), returning besides the gradients the relevance of the cos and sin factors of every
     * layer and token ({@link PositionalBackward}). Same record requirements as {@link #backward}.
     *
     * @throws UnsupportedOperationException when this backend has no such pass ({@link #supportsPositionalRelevance()})
     * @throws IllegalArgumentException      for a mode under which cos and sin are constants
     */
    default PositionalBackward backwardWithPositions(ForwardRecord record, List<Target> targets, RuleMode mode) {
        throw new UnsupportedOperationException("positional relevance (pe_lrp) needs a backward pass that returns the relevance of RoPE's"
                + " cos and sin factors, which the " + device() + " backend does not have; run it with --device cpu");
    }

    /**
     * Per-token scores of one backward pass ({@link #backward} with the same arguments), reduced over the hidden
     * dimension in double: for each sequence, {@code [0][i] = Σ_d e_{i,d}·g_{i,d}} (input × gradient; with the LRP
     * rules, the token relevance) and {@code [1][i] = ‖g_i‖₂} (saliency), e the record's embeddings. The default
     * reduces {@link #backward}'s gradients on the host (left to right); a device backend reduces them on its device
     * and copies back only these two numbers per token.
     *
     * @return per sequence, {@code [2][len]}
     */
    default double[][][] backwardTokenScores(ForwardRecord record, List<Target> targets, RuleMode mode) {
        float[][] g = backward(record, targets, mode);
        int h = model().config().hiddenSize();
        double[][][] out = new double[g.length][][];
        for (int s = 0; s < g.length; s++) {
            float[] e = record.embeddings(s), gs = g[s];
            if (e.length != gs.length) throw new IllegalStateException("embeddings hold " + e.length + " floats, gradient " + gs.length);
            int len = gs.length / h;
            double[] dot = new double[len], norm = new double[len];
            for (int i = 0; i < len; i++) {
                double a = 0, b = 0;
                for (int d = 0; d < h; d++) {
                    a += (double) e[i * h + d] * gs[i * h + d];
                    b += (double) gs[i * h + d] * gs[i * h + d];
                }
                dot[i] = a;
                norm[i] = Math.sqrt(b);
            }
            out[s] = new double[][]{dot, norm};
        }
        return out;
    }

    /**
     * One batch of integrated gradients' steps on one input of len tokens ({@code e}, {@code b}: the input's and the
     * baseline's embeddings, {@code [len·hidden]}): the interpolated inputs {@code x_s = b + alpha[s]·(e − b)} for s in
     * [from, to), computed as {@code (float) (b + alpha[s] * (e − b))} with {@code e − b} in float, run as ONE packed
     * recorded forward ({@link #forwardEmbeddings}), one backward of {@code target} at each ({@link RuleMode#GRADIENT}),
     * and {@code acc[j] += weight[s]·g_s[j]} in double, s in order (so that equal gradients give equal sums on every
     * backend). The default runs this on the host arrays; a device backend builds the inputs and sums the gradients
     * on its device, and only the sums come back.
     *
     * @param recompute checkpointed records ({@link #newRecord})
     * @param acc       {@code [len·hidden]}, added to
     * @throws BackendMemoryException when the batch does not fit (acc is then unchanged)
     */
    default void integratedGradientsBatch(float[] e, float[] b, double[] alpha, double[] weight, int from, int to, Target target,
                                          boolean recompute, double[] acc) {
        if (from < 0 || to > alpha.length || from >= to) throw new IllegalArgumentException("steps [" + from + ", " + to + ") of " + alpha.length);
        List<float[]> inputs = new ArrayList<>(to - from);
        List<Target> targets = new ArrayList<>(to - from);
        for (int s = from; s < to; s++) {
            double a = alpha[s];
            float[] x = new float[e.length];
            for (int j = 0; j < x.length; j++) x[j] = (float) (b[j] + a * (e[j] - b[j]));
            inputs.add(x);
            targets.add(target);
        }
        float[][] g;
        try (ForwardRecord rec = newRecord(false, recompute)) {
            forwardEmbeddings(inputs, LogitsMode.LAST, rec);
            inputs.clear();                        // the record holds what the backward needs
            g = backward(rec, targets, RuleMode.GRADIENT);
        }
        for (int s = from; s < to; s++) {
            double w = weight[s];
            float[] gs = g[s - from];
            for (int j = 0; j < acc.length; j++) acc[j] += w * gs[j];
        }
    }

    /**
     * New tokens per batched forward that this backend runs well and that bound its working memory: the default
     * chunk of batched continuations ({@link #forwardContinuations}, flip evaluation, occlusion).
     */
    int forwardBatchTokens();

    /** Bytes that records and their backward passes may take now (the CPU: half the free heap). */
    long memoryBudget();

    /**
     * Bytes one sequence of {@code tokens} tokens takes in a recorded batch: its record (full or checkpointed) plus
     * its share of the forward and backward working buffers — what batch planning divides {@link #memoryBudget} by.
     */
    long bytesPerRecordedSequence(int tokens, boolean recompute);

    /** Releases threads and device memory (not the model). */
    @Override
    void close();

    /** Packing of padded batches. */
    final class Padding {
        private Padding() {}

        /** The unmasked tokens of each row, in order. */
        public static List<int[]> pack(int[][] ids, int[][] mask) {
            if (ids.length != mask.length) throw new IllegalArgumentException("ids has " + ids.length + " rows, attention mask " + mask.length);
            List<int[]> out = new ArrayList<>(ids.length);
            for (int b = 0; b < ids.length; b++) {
                if (ids[b].length != mask[b].length)
                    throw new IllegalArgumentException("row " + b + ": ids has " + ids[b].length + " columns, attention mask " + mask[b].length);
                int n = 0;
                for (int m : mask[b]) if (m != 0) n++;
                if (n == 0) throw new IllegalArgumentException("row " + b + " has no unmasked token");
                int[] row = new int[n];
                int i = 0;
                for (int t = 0; t < ids[b].length; t++) if (mask[b][t] != 0) row[i++] = ids[b][t];
                out.add(row);
            }
            return out;
        }

        /** HF position ids for a padded batch: cumsum(mask) − 1, and 1 at masked positions (as HF fills them). */
        public static int[][] positionIds(int[][] mask) {
            int[][] pos = new int[mask.length][];
            for (int b = 0; b < mask.length; b++) {
                pos[b] = new int[mask[b].length];
                int sum = 0;
                for (int t = 0; t < mask[b].length; t++) {
                    sum += mask[b][t] != 0 ? 1 : 0;
                    pos[b][t] = mask[b][t] != 0 ? sum - 1 : 1;
                }
            }
            return pos;
        }
    }
}
