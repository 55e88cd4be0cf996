package io.rationale.eval;

import io.rationale.dataset.Aggregation;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;

/**
 * Faithfulness (and, with a human rationale, alignment) of rationales computed elsewhere: each one a ranking of the
 * example's words, most important first. They go through the same {@link FlipEvaluation} as the rationales of
 * {@link ModelEvaluator} (prompt, label words, masking, prefix reuse), so an external method is measured exactly
 * like the built-in ones; their results are {@link ExampleResult.MethodResult}s without scores.
 */
public final class GivenRationales {
    private GivenRationales() {}

    /**
     * One given rationale.
     *
     * @param method  its name in the result
     * @param ranking word indices (global over the example's fields, see {@link Example#wordOffset}), most important
     *                first, no repeats; covering every word makes the AOPC sizes apply
     * @param k       the main size (null: the whole ranking)
     */
    public record Given(String method, int[] ranking, Integer k) {
        public Given {
            if (method == null || method.isBlank()) throw new IllegalArgumentException("a given rationale has no name");
            if (ranking == null) throw new IllegalArgumentException("rationale '" + method + "' has no ranking");
            ranking = ranking.clone();
        }
    }

    /**
     * Evaluates the given rationales on one example and adds them to {@code computed} (the evaluator's result for
     * the same example, or null: then the result holds the given rationales only, with the prediction of the
     * unmasked prompt).
     *
     * @param backend    the evaluator's backend (runs the masked variants)
     * @param ev         the evaluator whose prompts and label words are used; its options give mask and annotators
     * @throws IllegalArgumentException for a ranking outside the example's words or with repeats, a k outside the
     *                                  ranking, a name used twice, or a prompt longer than the model's positions
     */
    public static ExampleResult evaluate(Backend backend, ModelEvaluator ev, EvalOptions options, int index, Example ex,
                                         List<Given> given, ExampleResult computed) {
        long t0 = System.nanoTime();
        if (computed != null && computed.skipped() != null) return computed;
        int n = ex.totalWords();
        List<FlipEvaluation.Ranked> ranked = new ArrayList<>();
        Set<String> names = new HashSet<>();
        if (computed != null) names.addAll(computed.methods().keySet());
        for (Given g : given) {
            if (!names.add(g.method())) throw new IllegalArgumentException("rationale '" + g.method() + "' is given twice (or is a computed method)");
            Set<Integer> seen = new HashSet<>();
            for (int w : g.ranking()) {
                if (w < 0 || w >= n) throw new IllegalArgumentException("rationale '" + g.method() + "': word " + w + " is outside the example's " + n + " words");
                if (!seen.add(w)) throw new IllegalArgumentException("rationale '" + g.method() + "': word " + w + " is ranked twice");
            }
            int k = g.k() == null ? g.ranking().length : g.k();
            if (k < 0 || k > g.ranking().length)
                throw new IllegalArgumentException("rationale '" + g.method() + "': k " + k + " is outside [0, " + g.ranking().length + "]");
            ranked.add(new FlipEvaluation.Ranked(g.method(), g.ranking(), k, g.ranking().length == n));
        }
        PromptBuilder.Layout layout = ev.prompts().layout(ex, List.of());
        List<String> fields = ex.fields().stream().map(TextField::text).toList();
        int max = backend.model().config().maxPositionEmbeddings();
        int length = layout.classify(fields).length();
        if (max > 0 && length > max) throw new IllegalArgumentException("prompt has " + length + " tokens, the model has " + max + " positions");
        FlipEvaluation flip = new FlipEvaluation(backend, ev.labelWords(), ModelEvaluator.parseMask(options.mask()), 0);
        FlipEvaluation.Outcome outcome = flip.evaluate(ex, layout, ranked, FlipEvaluation.Strategy.PREFIX_BATCHED);
        Optional<SortedSet<Integer>> human = ex.rationaleAllFields(Aggregation.parse(options.annotators() == null ? "majority" : options.annotators()));

        Map<String, ExampleResult.MethodResult> methods = new LinkedHashMap<>();
        if (computed != null) methods.putAll(computed.methods());
        for (FlipEvaluation.Ranked r : ranked) {
            int[] rationale = Arrays.copyOf(r.ranking(), r.k());
            Arrays.sort(rationale);
            ExampleResult.Alignment al = human.isPresent() ? ModelEvaluator.alignment(ex, rationale, human.get(), null) : null;
            methods.put(r.method(), new ExampleResult.MethodResult(null, r.ranking(), r.k(), rationale, null, null, al,
                    outcome.faithfulness().get(r.method()), 0));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (computed != null)
            return new ExampleResult(computed.index(), computed.id(), null, computed.words(), computed.gold(), computed.predicted(),
                    computed.labelProbs(), computed.human(), methods, computed.seconds() + seconds, computed.attributionTarget(), outcome.path());
        LabelWords lw = ev.labelWords();
        Map<String, Double> probs = new LinkedHashMap<>();
        for (int i = 0; i < lw.size(); i++) probs.put(lw.labels().get(i), outcome.original().probs()[i]);
        List<Integer> humanList = human.map(h -> List.copyOf(new ArrayList<>(h))).orElse(null);
        return new ExampleResult(index, ex.id(), null, ModelEvaluator.wordRefs(ex), ex.label(),
                lw.labels().get(outcome.original().predicted()), probs, humanList, methods, seconds, null, outcome.path());
    }
}
