package io.rationale.attribution;

import io.rationale.dataset.Word;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.BackendMemoryException;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.KvCache;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.PositionalBackward;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;
import io.rationale.tokenizer.Token;
import io.rationale.weights.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Runs attribution methods on a {@link Backend}. See {@link io.rationale.attribution} for the definitions.
 *
 * <h2>What a run computes, and what is shared</h2>
 * <ol>
 *   <li>ONE forward of the input ({@code forward(List.of(ids), null, LAST, record)}), recorded when a method needs
 *       it (saliency, input_x_gradient, attnlrp, cplrp, pe_lrp, attention, attention_rollout), with attention
 *       probabilities when attention or attention_rollout is asked for. The record is checkpointed (each layer's
 *       input only, the backward recomputes the rest; extra {@code checkpointed_record}) when a full one would not fit
 *       the backend's memory budget, or did not fit its memory. It gives the target (the argmax when none
 *       is given), f(x) and the input embeddings, for every method.</li>
 *   <li>saliency and input_x_gradient: ONE plain-gradient backward over that record, read by both (reduced per
 *       token by {@link Backend#backwardTokenScores}: on a device backend the reduction runs on the device).</li>
 *   <li>attnlrp, cplrp: one backward each over the same record, with their rule; pe_lrp: one backward with its rule
 *       that also returns the relevance of RoPE's cos and sin factors (the CPU only).</li>
 *   <li>attention, attention_rollout: the recorded probabilities of that forward, no further pass.</li>
 *   <li>integrated_gradients: one unrecorded {@code forwardEmbeddings} of the baseline (for f(b)), then one of all
 *       k interpolated inputs packed together, recorded, and one backward over it
 *       ({@link Backend#integratedGradientsBatch}: a device backend builds the inputs and sums the gradients on its
 *       device); when that record would not fit the backend's memory budget (or {@link Options#maxBatchTokens()}
 *       says so) the steps are split into several batches of full records, and only when not even one step's full
 *       record fits are records checkpointed (extras {@code batches}, {@code recompute}); a batch that runs out of
 *       backend memory all the same is split and run again, down to checkpointed single steps (extra
 *       {@code out_of_memory_retries}).</li>
 *   <li>occlusion: the input's forward keeps its KV cache; each leave-one-word-out variant runs only its tokens from
 *       the removed word on, after a fork of that cache's prefix, all variants in one batched forward (chunked by
 *       {@link Options#maxForwardTokens()}).</li>
 *   <li>random: no pass.</li>
 * </ol>
 * {@link AttributionSet#shared()} lists the shared steps with their time and users.
 *
 * <h2>After a cached prefix</h2>
 * {@link #run(AttributionInput, TargetSpec, List, Options, KvCache)} takes a cache holding the input's first tokens
 * (an eval prompt's instructions and demonstrations, prefilled once for its label scores). When the backend
 * {@link Backend#supportsPrefixRecord records after a prefix} and every method allows it, the shared forward runs
 * only the tokens from the first study token on (after a fork of the cache, cut there), and the backward passes
 * give those rows only: the prefix's keys and values are constants, which does not change the gradient or
 * relevance of a later row (causal attention: nothing of the prefix depends on it). Exactly equal, up to f32
 * rounding, for saliency, input_x_gradient, attnlrp, cplrp, pe_lrp (token and positional relevance of the study
 * rows). Tokens before the cut get score 0 (not computed; extra
 * {@code cached_prefix_tokens}), so a sum over all tokens ({@code relevance_sum}) covers the computed rows only.
 * integrated_gradients keeps its definition, the interpolation of every token's embedding: it runs on the whole
 * input as without a prefix (interpolating only the rows after the prefix would be another method). attention and
 * attention_rollout read every row's probabilities: with either, the whole input is recorded as without a prefix.
 * occlusion, a difference of two forwards' logits, runs its variants after one more (unrecorded) forward of the whole
 * input, as without a prefix: keys and values the prefill computed in another batch round differently in the last
 * bits, which moves small occlusion scores by more than 1e-5 of their largest.
 *
 * <h2>Cancellation</h2>
 * An attributor made {@link #Attributor(Backend, BooleanSupplier) with a cancellation check} asks it between its
 * passes: before each method after the shared forward, before each batch of integrated gradients' steps (and before
 * its baseline forward), before occlusion's variants and after each of their batched forwards, and before pe_lrp's
 * run on the CPU. Once the check says cancelled the run stops there with a {@link CancellationException}, its records
 * and caches closed; a pass already running finishes. The check never changes what an uncancelled run computes.
 *
 * <p>Not thread-safe (a backend runs one pass at a time).
 */
public final class Attributor {
    /** Integrated gradients adds a {@code warning} to its extras above this relative completeness error. */
    public static final double WARN_COMPLETENESS = 0.05;

    private static final BooleanSupplier NEVER = () -> false;

    private final Backend backend;
    private final long memoryBudget;
    private final BooleanSupplier cancelled;

    public Attributor(Backend backend) { this(backend, -1, NEVER); }

    /**
     * With a cancellation check (a server's: whether the request's future was cancelled), asked between passes (see
     * the class comment): once it answers true, the run stops at its next check with a {@link CancellationException}.
     */
    public Attributor(Backend backend, BooleanSupplier cancelled) { this(backend, -1, cancelled); }

    /** With a fixed memory budget in bytes for integrated gradients' records (tests); -1: the backend's. */
    Attributor(Backend backend, long memoryBudget) { this(backend, memoryBudget, NEVER); }

    Attributor(Backend backend, long memoryBudget, BooleanSupplier cancelled) {
        if (cancelled == null) throw new IllegalArgumentException("null cancellation check");
        this.backend = backend;
        this.memoryBudget = memoryBudget;
        this.cancelled = cancelled;
    }

    public Backend backend() { return backend; }

    /** One method. Its {@link Attribution#seconds()} is the wall time of the whole call. */
    public Attribution attribute(AttributionInput in, TargetSpec target, Method method, Options o) {
        return run(in, target, List.of(method), o).get(method);
    }

    /**
     * Several methods on one input, sharing the computations listed in the class comment.
     *
     * @param target the target; {@link TargetSpec#argmaxLogit()} (or any spec with {@link TargetSpec#ARGMAX}) for
     *               the model's argmax at the last position
     * @throws IllegalArgumentException for ids or a target outside the vocabulary, or no methods
     */
    public AttributionSet run(AttributionInput in, TargetSpec target, List<Method> methods, Options o) {
        return run(in, target, methods, o, null);
    }

    /**
     * {@link #run(AttributionInput, TargetSpec, List, Options)} with the input's first {@code prefix.length()} tokens
     * already in {@code prefix} (a cache of this backend holding exactly those ids; forked, not modified): see the
     * class comment. Without support (the backend's, or a method's), or with no study token after the prefix's
     * start, the input runs whole as without a prefix.
     *
     * @param prefix null, or the cache of the input's leading tokens
     */
    public AttributionSet run(AttributionInput in, TargetSpec target, List<Method> methods, Options o, KvCache prefix) {
        List<Method> todo = List.copyOf(new LinkedHashSet<>(methods));
        if (todo.isEmpty()) throw new IllegalArgumentException("no attribution method given (valid: " + Method.validNames() + ")");
        if (todo.contains(Method.PE_LRP) && backend.supportsBackward() && !backend.supportsPositionalRelevance())
            return withPeLrpOnTheCpu(in, target, todo, o, prefix);
        return runHere(in, target, todo, o, prefixCut(in, todo, prefix), prefix);
    }

    /**
     * How many leading tokens run from {@code prefix} instead of the shared forward: up to the first study token
     * (never all tokens), 0 when the backend or a method needs the whole input recorded.
     */
    private int prefixCut(AttributionInput in, List<Method> todo, KvCache prefix) {
        if (prefix == null || prefix.length() == 0 || !backend.supportsPrefixRecord()) return 0;
        if (todo.stream().anyMatch(Method::needsAttentionProbs)) return 0;
        if (prefix.length() > in.size()) throw new IllegalArgumentException("the prefix cache holds " + prefix.length() + " positions, the input " + in.size() + " tokens");
        int first = 0;
        while (first < in.size() && !in.inStudy(first)) first++;
        return Math.min(Math.min(prefix.length(), first), in.size() - 1);
    }

    /**
     * pe_lrp on a backend that has a backward pass but not RoPE's positional relevance (the CUDA backend today): the
     * other methods run here (after {@code prefix} where they allow it), pe_lrp on a CPU backend of the same model
     * (opened for it, closed after; over the whole input, as this backend's cache cannot serve it) for the same target
     * token; its extras say so ({@code computed_on}).
     */
    private AttributionSet withPeLrpOnTheCpu(AttributionInput in, TargetSpec target, List<Method> todo, Options o, KvCache prefix) {
        long t0 = System.nanoTime();
        List<Method> here = todo.stream().filter(m -> m != Method.PE_LRP).toList();
        AttributionSet main = here.isEmpty() ? null : runHere(in, target, here, o, prefixCut(in, here, prefix), prefix);
        TargetSpec resolved = main == null || !target.isArgmax() ? target : target.withToken(main.target().spec().tokenId());
        Attribution pe;
        checkCancelled();
        try (Backend cpu = Backends.open(backend.model(), Device.CPU).backend()) {
            AttributionSet set = new Attributor(cpu, memoryBudget, cancelled).runHere(in, resolved, List.of(Method.PE_LRP), o, 0, null);
            pe = set.get(Method.PE_LRP);
            if (main == null) main = set;
            Map<String, Object> extras = new LinkedHashMap<>(pe.extras());
            extras.put("computed_on", cpu.device() + " (the " + backend.device() + " backend has no positional relevance)");
            pe = new Attribution(pe.method(), pe.ids(), pe.tokens(), main.target(), pe.scores(), pe.words(), pe.aggregate(), pe.seconds(), extras);
        }
        Map<Method, Attribution> out = new LinkedHashMap<>();
        for (Method m : todo) out.put(m, m == Method.PE_LRP ? pe : main.get(m));
        return new AttributionSet(in, main.target(), out, main.shared(), secondsSince(t0));
    }

    /** The methods on this backend; the first {@code cut} tokens from {@code prefix} (0: none, the whole input recorded). */
    private AttributionSet runHere(AttributionInput in, TargetSpec target, List<Method> todo, Options o, int cut, KvCache prefix) {
        long t0 = System.nanoTime();
        ModelConfig c = backend.model().config();
        int[] ids = in.ids();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= c.vocabSize())
                throw new IllegalArgumentException("input id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        if (c.maxPositionEmbeddings() > 0 && ids.length > c.maxPositionEmbeddings())
            throw new IllegalArgumentException("the input has " + ids.length + " tokens, more than the model's " + c.maxPositionEmbeddings()
                    + " positions (max_position_embeddings in config.json)");
        target.checkVocabulary(c.vocabSize());
        if (o.baselineToken() >= c.vocabSize() && todo.contains(Method.INTEGRATED_GRADIENTS))
            throw new IllegalArgumentException("baseline token " + o.baselineToken() + " is outside the vocabulary [0, " + c.vocabSize() + ")");

        if (!backend.supportsBackward())
            for (Method m : todo)
                if (m.needsBackward())
                    throw new UnsupportedOperationException(m.cliName() + " needs a backward pass, which the " + backend.device()
                            + " backend does not have yet; run it with --device cpu");
        boolean record = todo.stream().anyMatch(Method::needsRecord);
        boolean probs = todo.stream().anyMatch(Method::needsAttentionProbs);
        // a checkpointed record (each layer's input only; the backward recomputes the rest) when a full one would not
        // fit the backend's memory budget: long inputs
        boolean recompute = record && backend.bytesPerRecordedSequence(ids.length - cut, false) > budget();
        ForwardRecord rec = record ? backend.newRecord(probs, recompute) : null;
        long f0 = System.nanoTime();
        // the forward's cache: the prefix's first cut positions, or a fresh one that occlusion's variants fork
        KvCache cache = cut > 0 ? prefix.forkPrefix(cut) : todo.contains(Method.OCCLUSION) ? backend.newCache() : null;
        try {
            try {
                return run(in, target, todo, o, rec, cache, cut, f0, t0);
            } catch (BackendMemoryException e) {
                if (rec == null || rec.recomputes()) throw e;
                rec.close();                              // the full record did not fit after all: checkpointed, from the start
                rec = backend.newRecord(probs, true);
                if (cache != null) {
                    cache.close();
                    cache = cut > 0 ? prefix.forkPrefix(cut) : backend.newCache();
                }
                return run(in, target, todo, o, rec, cache, cut, System.nanoTime(), t0);
            }
        } finally {
            if (cache != null) cache.close();
            if (rec != null) rec.close();                 // a device backend's record is device memory
        }
    }

    /** The memory budget of records: the fixed one of the tests, or the backend's. */
    private long budget() { return memoryBudget >= 0 ? memoryBudget : backend.memoryBudget(); }

    private AttributionSet run(AttributionInput in, TargetSpec target, List<Method> todo, Options o, ForwardRecord rec, KvCache cache,
                               int cut, long f0, long t0) {
        ModelConfig c = backend.model().config();
        int[] ids = in.ids();
        Logits logits = backend.forward(List.of(cut == 0 ? ids : Arrays.copyOfRange(ids, cut, ids.length)), Arrays.asList(cache), LogitsMode.LAST, rec);
        double forwardSeconds = secondsSince(f0);
        float[] last = logits.last(0);
        int argmax = logits.argmax(0, 0);
        Attribution.ResolvedTarget rt = Attribution.ResolvedTarget.of(target, last, argmax);
        TargetSpec spec = rt.spec();

        Run run = new Run(in, rt, o, rec, cache, cut);
        Map<Method, Attribution> out = new LinkedHashMap<>();
        double gradientSeconds = 0;
        List<Method> gradientUsers = new ArrayList<>();
        for (Method m : todo) {
            checkCancelled();
            long m0 = System.nanoTime();
            Map<String, Object> extras = new LinkedHashMap<>();
            double[] scores;
            double[] wordScores = null;   // when the method scores words directly
            switch (m) {
                case SALIENCY, INPUT_X_GRADIENT -> {
                    if (run.gradient == null) {
                        long g0 = System.nanoTime();
                        double[][] g = backend.backwardTokenScores(rec, List.of(spec.toEngine()), RuleMode.GRADIENT)[0];
                        run.gradient = new double[][]{afterCut(g[0], cut), afterCut(g[1], cut)};
                        gradientSeconds = secondsSince(g0);
                        m0 = System.nanoTime();
                    }
                    gradientUsers.add(m);
                    scores = (m == Method.SALIENCY ? run.gradient[1] : run.gradient[0]).clone();
                    extras.put("gradient", "plain, shared by saliency and input_x_gradient");
                    if (rec.recomputes()) extras.put("checkpointed_record", true);
                }
                case ATTNLRP, CPLRP -> {
                    RuleMode rule = m == Method.ATTNLRP ? RuleMode.ATTNLRP : RuleMode.CPLRP;
                    scores = afterCut(backend.backwardTokenScores(rec, List.of(spec.toEngine()), rule)[0][0], cut);
                    extras.put("rule", rule.cliName());
                    if (rec.recomputes()) extras.put("checkpointed_record", true);
                    extras.put("relevance_sum", sum(scores));
                }
                case PE_LRP -> {
                    PositionalBackward pb = backend.backwardWithPositions(rec, List.of(spec.toEngine()), RuleMode.PE_LRP);
                    double[] token = afterCut(inputTimesGradient(rec.embeddings(0), pb.gradients()[0], c.hiddenSize()), cut);
                    double[] positional = afterCut(pb.positionalScores(0), cut);
                    scores = new double[token.length];
                    for (int i = 0; i < scores.length; i++) scores[i] = token[i] + positional[i];
                    extras.put("rule", RuleMode.PE_LRP.cliName());
                    extras.put("token_relevance", token);
                    extras.put("positional_relevance", positional);
                    extras.put("relevance_sum", sum(scores));
                    extras.put("positional", "sum over layers of |sum_d R_cos| + |sum_d R_sin| per token (uniform rule at RoPE's products)");
                }
                case INTEGRATED_GRADIENTS -> scores = integratedGradients(run, extras);
                case ATTENTION -> {
                    scores = AttentionMaps.lastLayerRow(rec, 0, c.numHeads());
                    extras.put("layer", c.numLayers() - 1);
                    extras.put("heads", c.numHeads());
                }
                case ATTENTION_ROLLOUT -> {
                    scores = AttentionMaps.rollout(rec, 0, c.numHeads());
                    extras.put("layers", c.numLayers());
                    extras.put("residual", 0.5);
                }
                case OCCLUSION -> {
                    wordScores = occlusion(run, extras);
                    scores = occlusionTokenScores(in, wordScores);
                }
                case RANDOM -> {
                    SplittableRandom r = new SplittableRandom(o.seed());
                    scores = new double[ids.length];
                    for (int i = 0; i < scores.length; i++) scores[i] = r.nextDouble();
                    extras.put("seed", o.seed());
                }
                default -> throw new IllegalStateException("unhandled method " + m);
            }
            if (cut > 0 && m.needsRecord()) extras.put("cached_prefix_tokens", cut);
            if (wordScores == null) wordScores = in.aggregate(scores, o.aggregate());
            double seconds = todo.size() == 1 ? secondsSince(t0) : secondsSince(m0);
            out.put(m, new Attribution(m, ids, tokenInfos(in), rt, scores, wordScores(in, wordScores), o.aggregate(), seconds, extras));
        }
        List<AttributionSet.SharedStep> shared = new ArrayList<>();
        List<Method> forwardUsers = new ArrayList<>(todo);   // target and f(x) serve every method
        shared.add(new AttributionSet.SharedStep("forward", forwardSeconds, List.copyOf(forwardUsers)));
        if (!gradientUsers.isEmpty()) shared.add(new AttributionSet.SharedStep("gradient_backward", gradientSeconds, List.copyOf(gradientUsers)));
        return new AttributionSet(in, rt, out, shared, secondsSince(t0));
    }

    /** State of one run. */
    private static final class Run {
        final AttributionInput in;
        final Attribution.ResolvedTarget target;
        final Options o;
        final ForwardRecord rec;
        final KvCache cache;      // the input's keys and values, when occlusion runs or after a prefix
        final int cut;            // leading tokens that came from a cached prefix (not in the record)
        double[][] gradient;      // the plain gradient's token scores: input × gradient, ‖gradient‖

        Run(AttributionInput in, Attribution.ResolvedTarget target, Options o, ForwardRecord rec, KvCache cache, int cut) {
            this.in = in;
            this.target = target;
            this.o = o;
            this.rec = rec;
            this.cache = cache;
            this.cut = cut;
        }
    }

    /** Scores of the rows after the first {@code cut} tokens, as scores of every token (0 for the cut ones). */
    private static double[] afterCut(double[] rows, int cut) {
        if (cut == 0) return rows;
        double[] out = new double[cut + rows.length];
        System.arraycopy(rows, 0, out, cut, rows.length);
        return out;
    }

    // ------------------------------------------------------------------ integrated gradients

    private double[] integratedGradients(Run run, Map<String, Object> extras) {
        ModelConfig c = backend.model().config();
        int h = c.hiddenSize();
        int[] ids = run.in.ids();
        int t = ids.length;
        float[] e = run.rec != null && run.cut == 0 ? run.rec.embeddings(0) : embed(ids);   // every token: IG interpolates them all
        float[] b = new float[t * h];
        if (run.o.baselineToken() >= 0) {
            float[] row = embed(new int[]{run.o.baselineToken()});
            for (int i = 0; i < t; i++) System.arraycopy(row, 0, b, i * h, h);
        }
        if (!run.o.interpolateSpecial())
            for (int i = 0; i < t; i++) if (run.in.tokens().get(i).special()) System.arraycopy(e, i * h, b, i * h, h);
        int k = run.o.steps();
        double[][] nw = run.o.igRule().nodes(k);
        double[] alpha = nw[0], weight = nw[1];

        // f(b): one forward of the baseline, not recorded (no gradient is taken there); then the k steps, recorded
        checkCancelled();
        double fBaseline = run.target.spec().value(backend.forwardEmbeddings(List.of(b), LogitsMode.LAST, null).last(0));
        BatchPlan plan = plan(t, k, run.o);
        int perBatch = plan.sequences();
        boolean recompute = plan.recompute();
        double[] avg = new double[t * h];          // Σ_s w_s g_s
        int batches = 0, splits = 0;
        Target target = run.target.spec().toEngine();
        for (int from = 0; from < k; ) {
            checkCancelled();                     // between batches: a cancelled request stops here
            int to = Math.min(k, from + perBatch);
            try {
                backend.integratedGradientsBatch(e, b, alpha, weight, from, to, target, recompute, avg);
            } catch (BackendMemoryException x) {  // the plan was too optimistic: the same steps in smaller batches
                if (perBatch > 1) perBatch = Math.max(1, perBatch / 2);
                else if (!recompute) recompute = true;
                else throw x;
                splits++;
                continue;
            }
            batches++;
            from = to;
        }
        double[] scores = new double[t];
        for (int i = 0; i < t; i++) {
            double acc = 0;
            for (int d = 0; d < h; d++) acc += ((double) e[i * h + d] - b[i * h + d]) * avg[i * h + d];
            scores[i] = acc;
        }
        double fInput = run.target.value();
        double delta = fInput - fBaseline;
        double abs = Math.abs(sum(scores) - delta);
        extras.put("steps", k);
        extras.put("rule", run.o.igRule().cliName());
        extras.put("baseline", run.o.baselineToken() < 0 ? "zero" : "token:" + run.o.baselineToken());
        extras.put("interpolate_special", run.o.interpolateSpecial());
        extras.put("f_input", fInput);
        extras.put("f_baseline", fBaseline);
        extras.put("score_sum", sum(scores));
        extras.put("completeness_abs_error", abs);
        double rel = delta == 0 ? abs : abs / Math.abs(delta);
        extras.put("completeness_error", rel);
        if (!(rel <= WARN_COMPLETENESS))
            extras.put("warning", String.format("integrated gradients did not converge: completeness error %.1f%%%s", 100 * rel,
                    run.o.baselineToken() < 0
                            ? "; with the zero baseline RMSNorm makes f jump near the baseline (see the package doc): use --baseline-token"
                            : "; use more --steps"));
        extras.put("batches", batches);
        extras.put("recompute", recompute);
        if (splits > 0) extras.put("out_of_memory_retries", splits);
        return scores;
    }

    /** How the IG sequences are batched: sequences per batch, and whether the record recomputes layer internals. */
    record BatchPlan(int sequences, boolean recompute) {}

    /**
     * Integrated gradients batching. With {@link Options#maxBatchTokens()} set: that many tokens per batch, full
     * record. Otherwise from the backend's memory budget ({@link Backend#memoryBudget}; a fixed one in tests) and
     * record sizes ({@link Backend#bytesPerRecordedSequence}).
     */
    private BatchPlan plan(int t, int total, Options o) {
        if (o.maxBatchTokens() > 0) return new BatchPlan(Math.max(1, Math.min(total, o.maxBatchTokens() / t)), false);
        return plan(backend, t, total, budget());
    }

    /**
     * As many sequences per batch as fit {@code budget} bytes with full records; only when not even one sequence's
     * full record fits, checkpointed ({@code recompute}) records, which cost one more forward pass of every layer
     * (several full batches are cheaper than one checkpointed batch: on the CPU a batch's cost per token hardly
     * depends on its size).
     */
    static BatchPlan plan(Backend b, int t, int total, long budget) {
        long full = b.bytesPerRecordedSequence(t, false);
        if (full <= budget) return new BatchPlan(balanced(total, budget / full), false);
        return new BatchPlan(balanced(total, Math.max(1, budget / b.bytesPerRecordedSequence(t, true))), true);
    }

    /** Sequences per batch when at most {@code fit} fit: the fewest batches, of equal size but for the last. */
    private static int balanced(int total, long fit) {
        long batches = (total + Math.min(fit, total) - 1) / Math.min(fit, total);
        return (int) ((total + batches - 1) / batches);
    }

    /** Embedding rows of the ids, {@code [ids, hidden]}, as the forward's lookup does. */
    private float[] embed(int[] ids) {
        Tensor emb = backend.model().embedTokens();
        int h = emb.cols();
        float[] out = new float[ids.length * h];
        for (int i = 0; i < ids.length; i++) emb.toFloat((long) ids[i] * h, out, i * h, h);
        return out;
    }

    // ------------------------------------------------------------------ occlusion

    /**
     * Leave-one-word-out scores per study word: f(x) − f(x without the word's tokens); NaN when nothing is left. A
     * variant equals the input up to the word's first token p, so it runs only its tokens from p on, after the
     * input's cached first p positions ({@link Backend#forwardContinuations}).
     */
    private double[] occlusion(Run run, Map<String, Object> extras) {
        AttributionInput in = run.in;
        int[] ids = in.ids();
        List<Word> words = in.words();
        double[] scores = new double[words.size()];
        List<int[]> rests = new ArrayList<>();
        List<Integer> prefixes = new ArrayList<>(), variantWord = new ArrayList<>();
        List<Integer> empty = new ArrayList<>();
        int tokens = 0;
        for (int k = 0; k < words.size(); k++) {
            boolean[] drop = new boolean[ids.length];
            int p = ids.length;
            for (int t : in.wordTokens(k)) {
                drop[t] = true;
                p = Math.min(p, t);
            }
            int[] rest = new int[ids.length - p];
            int n = 0;
            for (int i = p; i < ids.length; i++) if (!drop[i]) rest[n++] = ids[i];
            if (p + n == 0) {
                scores[k] = Double.NaN;
                empty.add(k);
                continue;
            }
            if (n == 0) {                       // nothing follows the word: the variant is ids[0, p); rerun its last token
                n = 1;
                rest[0] = ids[--p];
            }
            rests.add(Arrays.copyOf(rest, n));
            prefixes.add(p);
            variantWord.add(k);
            tokens += n;
        }
        double fx = run.target.value();
        KvCache whole = run.cache;
        if (run.cut > 0) {         // as without a prefix: the variants after the whole input's own keys and values, f(x) from it
            whole = backend.newCache();
            fx = run.target.spec().value(backend.forward(ids, whole, LogitsMode.LAST).last(0));
        }
        double f = fx;
        int batches;
        try {
            checkCancelled();
            // the check after each variant's result: a batch's results come after its forward, before the next batch
            batches = backend.forwardContinuations(whole, prefixes.stream().mapToInt(Integer::intValue).toArray(), rests,
                    run.o.maxForwardTokens(), (last, v) -> {
                        scores[variantWord.get(v)] = f - run.target.spec().value(last);
                        checkCancelled();
                    });
        } finally {
            if (whole != run.cache) whole.close();
        }
        extras.put("word_level", true);
        extras.put("token_scores", "each token carries the score of its word (of largest |score| when in several); tokens in no word 0");
        extras.put("masking", "deletion");
        extras.put("variants", rests.size());
        extras.put("prefix_reuse", "each variant runs from its removed word on, after the input's cached keys and values");
        extras.put("variant_tokens", tokens);
        extras.put("batches", batches);
        if (!empty.isEmpty()) extras.put("undefined_words", empty);
        return scores;
    }

    private static double[] occlusionTokenScores(AttributionInput in, double[] wordScores) {
        int[][] tokenWords = new int[in.size()][];
        for (int i = 0; i < tokenWords.length; i++) tokenWords[i] = in.tokenWords(i);
        return occlusionTokenScores(tokenWords, wordScores);
    }

    /**
     * Occlusion's token scores from its word scores: each token gets the score of largest magnitude among its words
     * ({@code tokenWords[i]}, indices into {@code wordScores}), and 0 when it is in no word.
     */
    public static double[] occlusionTokenScores(int[][] tokenWords, double[] wordScores) {
        double[] out = new double[tokenWords.length];
        for (int i = 0; i < out.length; i++) {
            int[] ws = tokenWords[i];
            if (ws.length == 0) continue;
            double best = wordScores[ws[0]];
            for (int w : ws) if (Math.abs(wordScores[w]) > Math.abs(best)) best = wordScores[w];
            out[i] = best;
        }
        return out;
    }

    // ------------------------------------------------------------------ helpers

    /** Stops the run when its cancellation check says so. */
    private void checkCancelled() {
        if (cancelled.getAsBoolean()) throw new CancellationException("the attribution was cancelled");
    }

    static List<Attribution.TokenInfo> tokenInfos(AttributionInput in) {
        List<Attribution.TokenInfo> out = new ArrayList<>(in.size());
        for (int i = 0; i < in.size(); i++) {
            Token t = in.tokens().get(i);
            out.add(new Attribution.TokenInfo(i, t.id(), t.piece(), t.text(), t.start(), t.end(), t.special(), in.inStudy(i), in.tokenWords(i)));
        }
        return List.copyOf(out);
    }

    static List<Attribution.WordScore> wordScores(AttributionInput in, double[] scores) {
        List<Attribution.WordScore> out = new ArrayList<>(scores.length);
        for (Word w : in.words())
            out.add(new Attribution.WordScore(w.index(), w.text(), w.start(), w.end(), scores[w.index()], in.wordTokens(w.index())));
        return List.copyOf(out);
    }

    /** {@code Σ_d e·g} per token ({@code [tokens·hidden]} arrays). */
    static double[] inputTimesGradient(float[] e, float[] g, int h) {
        if (e.length != g.length) throw new IllegalStateException("embeddings hold " + e.length + " floats, gradient " + g.length);
        double[] out = new double[g.length / h];
        for (int i = 0; i < out.length; i++) {
            double s = 0;
            for (int d = 0; d < h; d++) s += (double) e[i * h + d] * g[i * h + d];
            out[i] = s;
        }
        return out;
    }

    static double sum(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s;
    }

    private static double secondsSince(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
