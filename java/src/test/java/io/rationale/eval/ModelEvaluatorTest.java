package io.rationale.eval;

import io.rationale.dataset.Aggregation;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.engine.LogitsMode;
import io.rationale.metrics.Faithfulness;
import io.rationale.metrics.Prf;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

class ModelEvaluatorTest {

    static void assertPermutation(int[] ranking, int n) {
        int[] s = ranking.clone();
        Arrays.sort(s);
        for (int i = 0; i < n; i++) assertEquals(i, s[i]);
        assertEquals(n, ranking.length);
    }

    @Test
    void medicalBiosOnStories260K() {
        Dataset d = DatasetLoader.load("medicalbios", Fixtures.medicalBios());
        EvalOptions o = EvalOptions.defaults(List.of("input_x_gradient", "attention", "prompt_guided"));
        List<ExampleResult> results = new ArrayList<>();
        try (ModelEvaluator ev = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), d, o)) {
            assertFalse(ev.chat());
            assertEquals(List.of("dentist", "nurse", "physician", "counselor", "surgeon"), ev.labelWords().words());
            assertEquals(List.of("input_x_gradient", "attention", "prompt_guided", "random"), ev.methodNames());
            for (int i = 0; i < 5; i++) {
                Example ex = d.examples().get(i);
                ExampleResult r = ev.evaluate(i, ex);
                results.add(r);
                assertNull(r.skipped(), r.skipped());
                check(ev, ex, r, i);
            }
        }
        // stories260K was trained on children's stories: expect a poor, collapsed classifier; the results must still be complete
        System.out.println("stories260K on 5 bios: predicted " + results.stream().map(ExampleResult::predicted).toList()
                + ", gold " + results.stream().map(ExampleResult::gold).toList());
    }

    void check(ModelEvaluator ev, Example ex, ExampleResult r, int index) {
        int n = ex.totalWords();
        assertEquals(index, r.index());
        assertEquals(ex.id(), r.id());
        assertEquals(n, r.words().size());
        assertEquals(ex.fields().get(0).words().get(3).text(), r.words().get(3).text());
        assertEquals("bio", r.words().get(0).field());
        assertEquals(ex.label(), r.gold());
        assertTrue(ex.labels().contains(r.predicted()));
        assertEquals(ex.labels(), new ArrayList<>(r.labelProbs().keySet()));
        assertEquals(1, r.labelProbs().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-9);
        assertTrue(r.seconds() > 0);

        // the prediction, independently: a full forward of the whole prompt, argmax over the label tokens' logits
        PromptBuilder.Layout layout = ev.prompts().layout(ex, List.of());
        Prompt p = layout.classify(List.of(ex.fields().get(0).text()));
        float[] logits = Fixtures.storiesBackend().forward(p.ids(), null, LogitsMode.LAST).last(0);
        int best = -1;
        double bestLogit = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < ev.labelWords().size(); l++) {
            for (int id : ev.labelWords().entries().get(l).tokenIds()) {
                if (logits[id] > bestLogit) {
                    bestLogit = logits[id];
                    best = l;
                }
            }
        }
        assertEquals(ex.labels().get(best), r.predicted());

        SortedSet<Integer> human = ex.rationaleAllFields(Aggregation.MAJORITY).orElseThrow();
        assertEquals(new ArrayList<>(human), r.human());
        int k = human.isEmpty() ? io.rationale.metrics.TopK.kForFraction(n, 0.1) : human.size();
        assertEquals(List.of("input_x_gradient", "attention", "prompt_guided", "random"), new ArrayList<>(r.methods().keySet()));
        for (String m : List.of("input_x_gradient", "attention", "random")) {
            ExampleResult.MethodResult mr = r.methods().get(m);
            assertEquals(n, mr.scores().length, m);
            for (double s : mr.scores()) assertTrue(Double.isFinite(s), m);
            assertPermutation(mr.ranking(), n);
            assertArrayEquals(io.rationale.metrics.TopK.ranking(mr.scores()), mr.ranking(), m);
            assertEquals(k, mr.k(), m);
            int[] top = Arrays.copyOf(mr.ranking(), k);
            Arrays.sort(top);
            assertArrayEquals(top, mr.rationale(), m);
            assertNull(mr.raw());
            assertNull(mr.unparsed());
            checkAlignment(mr, human);
            assertFalse(Double.isNaN(mr.alignment().auprc()) && !human.isEmpty(), m);
            ExampleResult.Faithfulness f = mr.faithfulness();
            assertEquals(k, f.main().k());
            assertEquals(!f.main().predictedWithout().equals(r.predicted()), f.main().flipped());
            assertEquals(5, f.byFraction().size());
            int[] sizes = Faithfulness.aopcSizes(n);
            int b = 0;
            for (ExampleResult.Masked x : f.byFraction().values()) assertEquals(sizes[b++], x.k());
            assertTrue(Double.isFinite(f.aopcComprehensiveness()) && Double.isFinite(f.aopcSufficiency()), m);
            assertTrue(mr.seconds() >= 0);
        }
        // attention scores are probabilities (non-negative)
        for (double s : r.methods().get("attention").scores()) assertTrue(s >= 0);
        // the baseline is the documented seeded ranking
        assertArrayEquals(RandomRationale.ranking(n, RandomRationale.seed(0, ex.id())), r.methods().get("random").ranking());

        ExampleResult.MethodResult g = r.methods().get("prompt_guided");
        assertNull(g.scores());
        assertNotNull(g.raw());
        assertNotNull(g.unparsed());
        assertEquals(g.ranking().length, g.k());
        int[] sorted = g.ranking().clone();
        Arrays.sort(sorted);
        assertArrayEquals(sorted, g.rationale());
        // the parsed words are exactly what the parser gives on the raw answer
        assertArrayEquals(AnswerParser.parse(g.raw(), r.words().stream().map(ExampleResult.WordRef::text).toList()).ranking(), g.ranking());
        checkAlignment(g, human);
        assertTrue(Double.isNaN(g.alignment().auprc()));
        assertTrue(g.faithfulness().byFraction().isEmpty());
        assertTrue(Double.isNaN(g.faithfulness().aopcComprehensiveness()));
        assertEquals(g.k(), g.faithfulness().main().k());
        System.out.println(ex.id() + " prompt_guided answer: '" + g.raw() + "' parsed " + g.k() + " words, unparsed " + g.unparsed());
    }

    static void checkAlignment(ExampleResult.MethodResult mr, Set<Integer> human) {
        ExampleResult.Alignment a = mr.alignment();
        assertNotNull(a);
        TreeSet<Integer> pred = new TreeSet<>();
        for (int w : mr.rationale()) pred.add(w);
        int both = 0;
        for (int w : pred) if (human.contains(w)) both++;
        if (pred.isEmpty() && human.isEmpty()) {
            assertTrue(Double.isNaN(a.f1()));
        } else {
            double pr = pred.isEmpty() ? 0 : (double) both / pred.size(), rc = human.isEmpty() ? 0 : (double) both / human.size();
            assertEquals(pr, a.precision(), 1e-12);
            assertEquals(rc, a.recall(), 1e-12);
            assertEquals(Prf.f1(pr, rc), a.f1(), 1e-12);
        }
        assertEquals(io.rationale.metrics.IouF1.spans(pred).size(), a.predictedSpans());
        assertEquals(io.rationale.metrics.IouF1.spans(human).size(), a.humanSpans());
        assertTrue(a.iouTruePositives() <= Math.min(a.predictedSpans(), a.humanSpans()));
        int[] sum = new int[3];
        for (int[] f : a.iouByField()) for (int j = 0; j < 3; j++) sum[j] += f[j];
        assertArrayEquals(new int[]{a.iouTruePositives(), a.predictedSpans(), a.humanSpans()}, sum, "the per-field counts add up to the sums");
    }

    @Test
    void everyMethodOnTwoFieldEsnliWithAChatModelFewShotAndReplacement() {
        Dataset d = DatasetLoader.load("esnli", Fixtures.shared().resolve("data/datasets/esnli/train-highlight-sample/esnli_train_sample.csv"));
        EvalOptions o = new EvalOptions(List.of("all", "prompt_guided", "prompt_unbound"), "0.2", "replace:_", "union", 1, 3, 4);
        try (ModelEvaluator ev = new ModelEvaluator(Fixtures.tinyBackend(), Fixtures.tinyTokenizer(), d, o)) {
            assertTrue(ev.chat());
            assertEquals("nli", ev.template().name());
            assertEquals(List.of("saliency", "input_x_gradient", "integrated_gradients", "attnlrp", "cplrp", "pe_lrp", "attention",
                    "attention_rollout", "occlusion", "prompt_guided", "prompt_unbound", "random"), ev.methodNames());
            Example ex = d.examples().get(0);
            ExampleResult r = ev.evaluate(0, ex);
            assertNull(r.skipped(), r.skipped());
            int n = ex.totalWords();
            int k = io.rationale.metrics.TopK.kForFraction(n, 0.2);
            assertEquals(ev.methodNames(), new ArrayList<>(r.methods().keySet()));
            assertEquals("premise", r.words().get(0).field());
            assertEquals("hypothesis", r.words().get(n - 1).field());
            assertEquals(new ArrayList<>(ex.rationaleAllFields(Aggregation.UNION).orElseThrow()), r.human());
            for (var e : r.methods().entrySet()) {
                ExampleResult.MethodResult mr = e.getValue();
                boolean prompting = e.getKey().startsWith("prompt_");
                if (!prompting) {
                    assertEquals(n, mr.scores().length, e.getKey());
                    assertPermutation(mr.ranking(), n);
                    assertEquals(k, mr.k(), e.getKey());
                    assertEquals(5, mr.faithfulness().byFraction().size());
                } else {
                    assertNotNull(mr.raw(), e.getKey());
                }
                assertNotNull(mr.alignment(), e.getKey());
                assertNotNull(mr.faithfulness().main(), e.getKey());
            }
        }
    }

    @Test
    void perExampleProblemsAreSkippedWithAReason() {
        List<Example> pool = List.of(Fixtures.bio("a", "She treats teeth.", "dentist"));
        EvalOptions o = EvalOptions.defaults(List.of("attention", "prompt_unbound"));
        try (ModelEvaluator ev = new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(), "medicalbios",
                Fixtures.BIOS, pool, o, ModelEvaluator.Settings.defaults())) {
            Example tooLong = Fixtures.bio("long", "word ".repeat(700).strip(), "nurse");
            ExampleResult r = ev.evaluate(3, tooLong);
            assertNotNull(r.skipped());
            assertTrue(r.skipped().contains("512 positions"), r.skipped());
            assertEquals("long", r.id());
            assertEquals(3, r.index());
            assertNull(r.methods());
            Example otherLabels = Fixtures.example("o", List.of("bio"), List.of("text here"), "x", List.of("x", "y"));
            assertTrue(ev.evaluate(4, otherLabels).skipped().contains("label set"));
            // no human rationale: alignment null, k = 10% of the words, unbound prompting runs
            Example plain = Fixtures.bio("p", "He works in a hospital and cares for patients after their operations every night.", "nurse");
            ExampleResult ok = ev.evaluate(5, plain);
            assertNull(ok.skipped(), ok.skipped());
            assertNull(ok.human());
            assertEquals(14, ok.words().size());
            assertEquals(1, ok.methods().get("attention").k());     // 14 words · 10% = 1.4 → 1
            assertNull(ok.methods().get("attention").alignment());
            assertNotNull(ok.methods().get("prompt_unbound").raw());
            assertEquals(1, ok.methods().get("random").k());
        }
    }

    @Test
    void configurationProblemsThrow() {
        List<Example> pool = List.of();
        var s = ModelEvaluator.Settings.defaults();
        assertThrows(IllegalArgumentException.class, () -> new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(),
                "medicalbios", Fixtures.BIOS, pool, EvalOptions.defaults(List.of("telepathy")), s));
        assertThrows(IllegalArgumentException.class, () -> new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(),
                "medicalbios", Fixtures.BIOS, pool, new EvalOptions(List.of("attention"), "2", "delete", "majority", 0, 0, 8), s));
        assertThrows(IllegalArgumentException.class, () -> new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(),
                "medicalbios", Fixtures.BIOS, pool, new EvalOptions(List.of("attention"), "human", "blank", "majority", 0, 0, 8), s));
        // colliding label words with no alternative
        assertThrows(IllegalArgumentException.class, () -> new ModelEvaluator(Fixtures.storiesBackend(), Fixtures.storiesTokenizer(),
                "jsonl", List.of("pen", "pig"), pool, EvalOptions.defaults(List.of("attention")), s));
    }
}
