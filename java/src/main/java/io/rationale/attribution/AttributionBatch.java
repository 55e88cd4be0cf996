package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Several attribution runs on different inputs computed together: ONE recorded forward of all inputs packed into
 * one batch, then ONE backward per rule over all of them ({@link Backend#backward} takes one target per sequence).
 * What a server does with the requests of several clients.
 *
 * <p>Only the methods that read the input's recorded forward and its backward passes batch this way
 * ({@link #BATCHABLE}: saliency, input_x_gradient, attnlrp, cplrp, attention, attention_rollout, and random, which
 * runs no pass). Integrated gradients and occlusion already batch their own steps or variants inside one run; a
 * run that asks for them goes through {@link Attributor#run} alone.
 *
 * <p>Each run's result has the shape and content of {@link Attributor#run} on the same input: the same target, the
 * same extras and shared steps. Numbers agree within float rounding, not bit for bit: packing more rows into one
 * matrix product changes the kernels' summation order (the engine's packed-batch tests bound logits at 1e-5 of the
 * largest; scores, after the backward too, agree within 1e-4 of the largest). Timing fields are those of the batch: the shared forward's and backward's seconds are the
 * whole batch's passes, and {@link AttributionSet#seconds()} is the batch's wall time.
 *
 * <p>Not thread-safe (a backend runs one pass at a time).
 */
public final class AttributionBatch {
    private AttributionBatch() {}

    /** The methods that batch across inputs. */
    public static final Set<Method> BATCHABLE = Set.copyOf(EnumSet.of(Method.SALIENCY, Method.INPUT_X_GRADIENT, Method.ATTNLRP,
            Method.CPLRP, Method.ATTENTION, Method.ATTENTION_ROLLOUT, Method.RANDOM));

    /**
     * One run of a batch.
     *
     * @param in      the input
     * @param target  the target ({@link TargetSpec#argmaxLogit()} for the model's argmax)
     * @param methods the methods, all of them {@link #BATCHABLE}
     * @param options the options (only the aggregation and the random method's seed matter here)
     */
    public record Item(AttributionInput in, TargetSpec target, List<Method> methods, Options options) {
        public Item {
            methods = List.copyOf(new LinkedHashSet<>(methods));
        }

        /** Whether two items can share one batch: the same methods, so the batch does the same work for each. */
        public boolean sameWork(Item o) { return methods.equals(o.methods); }
    }

    /** Whether every method of {@code methods} batches across inputs. */
    public static boolean batchable(List<Method> methods) {
        return !methods.isEmpty() && BATCHABLE.containsAll(methods);
    }

    /**
     * Checks one item as {@link Attributor#run} would, before it joins a batch (so one bad input does not fail the
     * others).
     *
     * @throws IllegalArgumentException for ids or a target outside the vocabulary, no methods, or a method that
     *                                  does not batch
     * @throws UnsupportedOperationException when a method needs a backward pass the backend does not have
     */
    public static void check(Backend backend, Item item) {
        if (item.methods().isEmpty()) throw new IllegalArgumentException("no attribution method given (valid: " + Method.validNames() + ")");
        for (Method m : item.methods())
            if (!BATCHABLE.contains(m)) throw new IllegalArgumentException(m.cliName() + " does not batch across inputs; run it with Attributor.run");
        int vocab = backend.model().config().vocabSize();
        int[] ids = item.in().ids();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                throw new IllegalArgumentException("input id " + ids[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")");
        item.target().checkVocabulary(vocab);
        if (!backend.supportsBackward())
            for (Method m : item.methods())
                if (m.needsBackward())
                    throw new UnsupportedOperationException(m.cliName() + " needs a backward pass, which the " + backend.device()
                            + " backend does not have yet; run it with --device cpu");
    }

    /**
     * Runs every item, all in one recorded forward and one backward per rule when they fit the backend's memory
     * budget ({@link Backend#memoryBudget}), else in as few such batches as fit. Items must do the same work
     * ({@link Item#sameWork}); each is {@link #check checked} first.
     *
     * @return one result per item, in order
     */
    public static List<AttributionSet> run(Backend backend, List<Item> items) {
        return run(backend, items, () -> false);
    }

    /**
     * {@link #run(Backend, List)} that asks {@code cancelled} before each pass after the first (each backward, each
     * further batch) and stops when it says so: for a batch whose requests have all gone away. A pass already
     * running runs to its end, and a batch some of whose requests remain runs on for them.
     *
     * @throws CancellationException when {@code cancelled} said so before a pass
     */
    public static List<AttributionSet> run(Backend backend, List<Item> items, BooleanSupplier cancelled) {
        if (items.isEmpty()) return List.of();
        for (Item it : items) {
            check(backend, it);
            if (!it.sameWork(items.getFirst())) throw new IllegalArgumentException("a batch's items must ask for the same methods");
        }
        List<Method> methods = items.getFirst().methods();
        boolean record = methods.stream().anyMatch(Method::needsRecord);
        long budget = Math.max(1, backend.memoryBudget());
        List<AttributionSet> out = new ArrayList<>(items.size());
        for (int from = 0; from < items.size(); ) {
            int to = from;
            long bytes = 0;
            while (to < items.size()) {
                long b = record ? backend.bytesPerRecordedSequence(items.get(to).in().size(), false) : 0;
                if (to > from && bytes + b > budget) break;
                bytes += b;
                to++;
            }
            if (from > 0) stopIf(cancelled);
            out.addAll(runOne(backend, items.subList(from, to), methods, cancelled));
            from = to;
        }
        return out;
    }

    private static void stopIf(BooleanSupplier cancelled) {
        if (cancelled.getAsBoolean()) throw new CancellationException("attribution batch cancelled: every request of it went away");
    }

    private static List<AttributionSet> runOne(Backend backend, List<Item> items, List<Method> todo, BooleanSupplier cancelled) {
        long t0 = System.nanoTime();
        ModelConfig c = backend.model().config();
        int h = c.hiddenSize();
        boolean record = todo.stream().anyMatch(Method::needsRecord);
        boolean probs = todo.stream().anyMatch(Method::needsAttentionProbs);
        ForwardRecord rec = record ? backend.newRecord(probs) : null;
        List<int[]> ids = new ArrayList<>(items.size());
        for (Item it : items) ids.add(it.in().ids());

        long f0 = System.nanoTime();
        Logits logits = backend.forward(ids, null, LogitsMode.LAST, rec);
        double forwardSeconds = secondsSince(f0);

        int n = items.size();
        Attribution.ResolvedTarget[] rt = new Attribution.ResolvedTarget[n];
        List<Target> targets = new ArrayList<>(n);
        for (int s = 0; s < n; s++) {
            TargetSpec target = items.get(s).target();
            rt[s] = Attribution.ResolvedTarget.of(target, logits.last(s), logits.argmax(s, 0));
            targets.add(rt[s].spec().toEngine());
        }

        List<Map<Method, Attribution>> results = new ArrayList<>(n);
        for (int s = 0; s < n; s++) results.add(new LinkedHashMap<>());
        double[][][] gradient = null;          // per sequence: input × gradient and ‖g‖ per token
        double gradientSeconds = 0;
        List<Method> gradientUsers = new ArrayList<>();
        for (Method m : todo) {
            long m0 = System.nanoTime();
            double[][] scores = new double[n][];
            List<Map<String, Object>> extras = new ArrayList<>(n);
            for (int s = 0; s < n; s++) extras.add(new LinkedHashMap<>());
            switch (m) {
                case SALIENCY, INPUT_X_GRADIENT -> {
                    if (gradient == null) {
                        stopIf(cancelled);
                        long g0 = System.nanoTime();
                        gradient = backend.backwardTokenScores(rec, targets, RuleMode.GRADIENT);
                        gradientSeconds = secondsSince(g0);
                        m0 = System.nanoTime();
                    }
                    gradientUsers.add(m);
                    for (int s = 0; s < n; s++) {
                        scores[s] = (m == Method.SALIENCY ? gradient[s][1] : gradient[s][0]).clone();
                        extras.get(s).put("gradient", "plain, shared by saliency and input_x_gradient");
                    }
                }
                case ATTNLRP, CPLRP -> {
                    RuleMode rule = m == Method.ATTNLRP ? RuleMode.ATTNLRP : RuleMode.CPLRP;
                    stopIf(cancelled);
                    double[][][] g = backend.backwardTokenScores(rec, targets, rule);
                    for (int s = 0; s < n; s++) {
                        scores[s] = g[s][0];
                        extras.get(s).put("rule", rule.cliName());
                        extras.get(s).put("relevance_sum", Attributor.sum(scores[s]));
                    }
                }
                case ATTENTION -> {
                    for (int s = 0; s < n; s++) {
                        scores[s] = AttentionMaps.lastLayerRow(rec, s, c.numHeads());
                        extras.get(s).put("layer", c.numLayers() - 1);
                        extras.get(s).put("heads", c.numHeads());
                    }
                }
                case ATTENTION_ROLLOUT -> {
                    for (int s = 0; s < n; s++) {
                        scores[s] = AttentionMaps.rollout(rec, s, c.numHeads());
                        extras.get(s).put("layers", c.numLayers());
                        extras.get(s).put("residual", 0.5);
                    }
                }
                case RANDOM -> {
                    for (int s = 0; s < n; s++) {
                        SplittableRandom r = new SplittableRandom(items.get(s).options().seed());
                        scores[s] = new double[ids.get(s).length];
                        for (int i = 0; i < scores[s].length; i++) scores[s][i] = r.nextDouble();
                        extras.get(s).put("seed", items.get(s).options().seed());
                    }
                }
                default -> throw new IllegalStateException(m.cliName() + " does not batch");
            }
            double seconds = todo.size() == 1 ? secondsSince(t0) : secondsSince(m0);
            for (int s = 0; s < n; s++) {
                Item it = items.get(s);
                double[] words = it.in().aggregate(scores[s], it.options().aggregate());
                results.get(s).put(m, new Attribution(m, ids.get(s), Attributor.tokenInfos(it.in()), rt[s], scores[s],
                        Attributor.wordScores(it.in(), words), it.options().aggregate(), seconds, extras.get(s)));
            }
        }
        List<AttributionSet.SharedStep> shared = new ArrayList<>();
        shared.add(new AttributionSet.SharedStep("forward", forwardSeconds, List.copyOf(todo)));
        if (!gradientUsers.isEmpty()) shared.add(new AttributionSet.SharedStep("gradient_backward", gradientSeconds, List.copyOf(gradientUsers)));
        double total = secondsSince(t0);
        List<AttributionSet> out = new ArrayList<>(n);
        for (int s = 0; s < n; s++) out.add(new AttributionSet(items.get(s).in(), rt[s], results.get(s), List.copyOf(shared), total));
        return out;
    }

    private static double secondsSince(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
