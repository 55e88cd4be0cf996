package io.rationale.eval;

import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.LogitsMode;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 10's eval items that need a model: the contrastive target (4), the IG baseline and completeness (5), selection (12). */
class FirstHourEvalTest {

    /** The attribution the evaluator should have made, computed here from its prompt and label words. */
    static double[] expectedScores(ModelEvaluator ev, Example ex, Method m, java.util.function.Function<LabelWords.Scores, TargetSpec> target) {
        Prompt p = ev.prompts().layout(ex, List.of()).classify(ex.fields().stream().map(TextField::text).toList());
        LabelWords.Scores s = ev.labelWords().score(Fixtures.storiesBackend().forward(p.ids(), null, LogitsMode.LAST).last(0));
        AttributionInput in = AttributionInput.of(p.text(), p.tokens(), p.studyStart(), p.studyEnd());
        Attribution a = new Attributor(Fixtures.storiesBackend()).attribute(in, target.apply(s), m, Options.defaults());
        return ModelEvaluator.wordScores(ex, p, a);
    }

    /** Item 4: contrastive MedicalBios explains logit(gold) − logit(foil) by default; --target predicted the prediction. */
    @Test
    void contrastiveDataAttributesTheContrastByDefault() {
        Dataset d = DatasetLoader.load("medicalbios-contrastive", Fixtures.shared().resolve("data/datasets/medicalbios/contrastive_biosbias_rationales.jsonl"));
        EvalOptions auto = EvalOptions.defaults(List.of("input_x_gradient"));
        assertEquals("auto", auto.target());
        try (ModelEvaluator ev = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), d, auto);
             ModelEvaluator plain = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), d, auto.withTarget("predicted"))) {
            for (int i = 0; i < 2; i++) {
                Example ex = d.examples().get(i);
                assertNotNull(ex.foil());
                ExampleResult r = ev.evaluate(i, ex);
                assertNull(r.skipped(), r.skipped());
                assertEquals(new ExampleResult.AttributionTarget("contrast", ex.label(), ex.foil()), r.attributionTarget());
                int gold = ev.labelWords().indexOf(ex.label()), foil = ev.labelWords().indexOf(ex.foil());
                double[] contrast = expectedScores(ev, ex, Method.INPUT_X_GRADIENT, s -> TargetSpec.contrast(s.bestTokens()[gold], s.bestTokens()[foil]));
                assertArrayEquals(contrast, r.methods().get("input_x_gradient").scores(), 1e-6);

                ExampleResult p = plain.evaluate(i, ex);
                assertEquals(new ExampleResult.AttributionTarget("predicted", p.predicted(), null), p.attributionTarget());
                double[] predicted = expectedScores(ev, ex, Method.INPUT_X_GRADIENT, s -> TargetSpec.logit(s.predictedToken()));
                assertArrayEquals(predicted, p.methods().get("input_x_gradient").scores(), 1e-6);
                double diff = 0;
                for (int w = 0; w < contrast.length; w++) diff = Math.max(diff, Math.abs(contrast[w] - predicted[w]));
                assertTrue(diff > 1e-3, "the two targets explain different scalars: " + diff);
            }
        }
        // the summary says what was explained
        List<ExampleResult> rs = new ArrayList<>();
        rs.add(new ExampleResult(0, "a", null, List.of(), "nurse", "nurse", Map.of(), null, Map.of(), 0,
                new ExampleResult.AttributionTarget("contrast", "nurse", "surgeon")));
        Summary.TargetSummary t = Summary.target("auto", rs);
        assertEquals(Map.of("contrast", 1), t.counts());
        assertTrue(t.description().contains("logit(gold label) − logit(foil)"), t.description());
    }

    /**
     * Item 5: the eval default baseline (the BOS token at every position, chosen on the measurements in docs/eval.md)
     * converges on eval prompts where the zero embedding does not, and each example records its completeness error.
     */
    @Test
    void defaultIgBaselineConvergesAndTheErrorIsRecorded() {
        Dataset d = DatasetLoader.load("esnli", Fixtures.shared().resolve("data/datasets/esnli/train-highlight-sample/esnli_train_sample.csv"));
        EvalOptions byDefault = EvalOptions.defaults(List.of("integrated_gradients", "attention"));
        assertEquals("bos", byDefault.igBaseline());
        assertEquals(64, byDefault.igSteps());
        List<Double> bos = new ArrayList<>(), zero = new ArrayList<>();
        try (ModelEvaluator ev = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), d, byDefault);
             ModelEvaluator z = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), d, byDefault.withIgBaseline("zero"))) {
            assertTrue(String.valueOf(ev.resolved().get("ig_baseline")).startsWith("token " + Fixtures.storiesTokenizer().bosId() + " "), ev.resolved().toString());
            for (int i : new int[]{0, 30, 60}) {   // neutral, entailment, contradiction
                ExampleResult r = ev.evaluate(i, d.examples().get(i));
                assertNull(r.skipped(), r.skipped());
                assertNull(r.methods().get("attention").completenessError(), "only integrated gradients has one");
                bos.add(r.methods().get("integrated_gradients").completenessError());
                zero.add(z.evaluate(i, d.examples().get(i)).methods().get("integrated_gradients").completenessError());
            }
        }
        for (int i = 0; i < bos.size(); i++) {
            assertTrue(bos.get(i) < Summary.COMPLETENESS_WARNING, "bos baseline, example " + i + ": " + bos);
            assertTrue(zero.get(i) > bos.get(i), "zero " + zero + " vs bos " + bos);
        }
        Summary.Completeness c = Summary.completeness(bos);
        assertEquals(bos.size(), c.error().n());
        assertEquals(bos.stream().mapToDouble(Double::doubleValue).max().orElseThrow(), c.max(), 0);
        assertEquals(0, c.overWarning());
    }

    /** Item 12: the selection orders; every prefix of the stratified one keeps the label shares. */
    @Test
    void selectionOrders() {
        Dataset d = DatasetLoader.load("esnli", Fixtures.shared().resolve("data/datasets/esnli/train-highlight-sample/esnli_train_sample.csv"));
        List<Example> ex = d.examples();
        assertFalse(ex.subList(0, 30).stream().anyMatch(e -> e.label().equals("entailment")), "file order: no entailment in the first 30");
        List<Integer> first = Selection.order(ex, Selection.Mode.FIRST, 0);
        for (int i = 0; i < ex.size(); i++) assertEquals(i, first.get(i));

        List<Integer> shuffled = Selection.order(ex, Selection.Mode.SHUFFLE, 3);
        assertEquals(shuffled, Selection.order(ex, Selection.Mode.SHUFFLE, 3), "seeded");
        assertNotEquals(shuffled, Selection.order(ex, Selection.Mode.SHUFFLE, 4));
        assertEquals(ex.size(), new HashSet<>(shuffled).size(), "a permutation");

        // a dataset with unequal shares: 90 e-SNLI rows without a third of the neutral ones
        List<Example> unequal = new ArrayList<>();
        int neutral = 0;
        for (Example e : ex) if (!e.label().equals("neutral") || neutral++ < 20) unequal.add(e);
        for (List<Example> set : List.of(ex, unequal)) {
            List<Integer> order = Selection.order(set, Selection.Mode.STRATIFIED, 0);
            assertEquals(set.size(), new HashSet<>(order).size(), "a permutation");
            Map<String, Integer> total = new HashMap<>();
            for (Example e : set) total.merge(e.label(), 1, Integer::sum);
            Map<String, Integer> seen = new HashMap<>();
            for (int n = 1; n <= order.size(); n++) {
                seen.merge(set.get(order.get(n - 1)).label(), 1, Integer::sum);
                for (var e : total.entrySet()) {
                    double share = (double) n * e.getValue() / set.size();
                    int got = seen.getOrDefault(e.getKey(), 0);
                    assertTrue(Math.abs(got - share) <= 1, "prefix " + n + ": " + e.getKey() + " " + got + " vs share " + share);
                }
            }
        }
        List<Integer> thirty = Selection.order(ex, Selection.Mode.STRATIFIED, 0).subList(0, 30);
        Map<String, Integer> counts = new HashMap<>();
        for (int i : thirty) counts.merge(ex.get(i).label(), 1, Integer::sum);
        assertEquals(Map.of("entailment", 10, "neutral", 10, "contradiction", 10), counts);
        assertTrue(Selection.describe(Selection.Mode.STRATIFIED, 0, 30, 90, 30).contains("stratified by gold label"));
    }
}
