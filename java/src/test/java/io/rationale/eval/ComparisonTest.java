package io.rationale.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.metrics.Bootstrap;
import io.rationale.serum.SerumStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Comparison} on two results folders the test writes (examples.jsonl lines as the evaluator writes them,
 * run.json): pairing by example, skipped and unmatched examples left out, accuracy means and McNemar counts, label
 * counts and bias, per-method means and paired differences, all against values the test counts itself; a run of
 * another dataset is refused in one line. A run the runner wrote (fake evaluator, stratified order), compared with
 * itself, has its summary's n, means and intervals for every metric, also with a repeated line and after a resume
 * with a smaller --limit (then the results beyond it are left out, as the summary leaves them out); no -0.000.
 */
class ComparisonTest {
    @TempDir
    Path tmp;

    static final List<String> LABELS = List.of("nurse", "surgeon");

    /** One evaluated example: gold, predicted, and per method (f1, flipped, comprehensiveness, sufficiency). */
    static ExampleResult example(int index, String gold, String predicted, Map<String, double[]> methods) {
        Map<String, ExampleResult.MethodResult> m = new LinkedHashMap<>();
        methods.forEach((name, v) -> m.put(name, new ExampleResult.MethodResult(new double[]{1, 0}, new int[]{0, 1}, 1, new int[]{0}, null, null,
                Double.isNaN(v[0]) ? null : new ExampleResult.Alignment(v[0], v[0], v[0], 0, 0, 0, Double.NaN),
                new ExampleResult.Faithfulness(new ExampleResult.Masked(1, predicted, v[1] == 1, v[2], v[3]), Map.of(), v[2] / 2, v[3] / 2), 0.1)));
        return new ExampleResult(index, "ex" + index, null, List.of(new ExampleResult.WordRef("bio", "a", 0, 1)), gold, predicted,
                Map.of("nurse", 0.5, "surgeon", 0.5), null, m, 0.1);
    }

    static Path folder(Path dir, String dataset, String adapters, List<ExampleResult> results) throws IOException {
        Files.createDirectories(dir);
        StringBuilder b = new StringBuilder();
        for (ExampleResult r : results) b.append(ExamplesLog.MAPPER.writeValueAsString(r)).append('\n');
        Files.writeString(dir.resolve("examples.jsonl"), b);
        Files.writeString(dir.resolve("run.json"), "{\"format\": 1, \"model\": \"m\", \"dataset\": \"" + dataset + "\", \"adapters\": " + adapters + "}");
        return dir;
    }

    @Test
    void comparesTwoRunsExampleByExample() throws IOException {
        Random r = new Random(3);
        List<ExampleResult> a = new ArrayList<>(), b = new ArrayList<>();
        int n = 40;
        double[] f1a = new double[n], f1b = new double[n], ca = new double[n], cb = new double[n];
        int rightA = 0, rightB = 0, onlyA = 0, onlyB = 0, flipsA = 0, flipsB = 0, surgeonA = 0;
        for (int i = 0; i < n; i++) {
            String gold = LABELS.get(i % 2);
            String pa = "surgeon";                                   // A always says surgeon: label bias
            String pb = r.nextDouble() < 0.8 ? gold : LABELS.get(1 - i % 2);
            boolean fa = r.nextDouble() < 0.1, fb = r.nextDouble() < 0.5;
            f1a[i] = r.nextDouble() * 0.3;
            f1b[i] = f1a[i] + 0.2;
            ca[i] = r.nextDouble() * 0.1;
            cb[i] = r.nextDouble() * 0.1 + 0.3;
            a.add(example(i, gold, pa, Map.of("input_x_gradient", new double[]{f1a[i], fa ? 1 : 0, ca[i], 0.01}, "random", new double[]{0.1, 0, 0, 0})));
            b.add(example(i, gold, pb, Map.of("input_x_gradient", new double[]{f1b[i], fb ? 1 : 0, cb[i], 0.02}, "random", new double[]{0.1, 0, 0, 0})));
            boolean ra = gold.equals(pa), rb = gold.equals(pb);
            if (ra) rightA++;
            if (rb) rightB++;
            if (ra && !rb) onlyA++;
            if (!ra && rb) onlyB++;
            if (fa) flipsA++;
            if (fb) flipsB++;
            surgeonA++;
        }
        // not compared: a skipped example in A, an example only in B
        a.add(new ExampleResult(n, "ex" + n, "prompt too long", null, "nurse", null, null, null, null, 0.0));
        b.add(example(n, "nurse", "nurse", Map.of("input_x_gradient", new double[]{1, 0, 0, 0}, "random", new double[]{0.1, 0, 0, 0})));
        b.add(example(n + 1, "nurse", "nurse", Map.of("input_x_gradient", new double[]{1, 0, 0, 0}, "random", new double[]{0.1, 0, 0, 0})));

        Path da = folder(tmp.resolve("a"), "medicalbios:x.jsonl", "null", a);
        Path db = folder(tmp.resolve("b"), "medicalbios:x.jsonl", "[{\"dir\": \"/ft\", \"scale\": 1.0}]", b);
        Comparison c = Comparison.of(da, "base", db, "tuned");

        assertEquals(n, c.paired());
        assertEquals(0, c.onlyA());
        assertEquals(2, c.onlyB());
        assertEquals((double) rightA / n, c.accuracy().a().mean(), 1e-12);
        assertEquals((double) rightB / n, c.accuracy().b().mean(), 1e-12);
        assertEquals((double) (rightB - rightA) / n, c.accuracy().difference().mean(), 1e-12);
        assertEquals(onlyA, c.accuracyMcNemar().b());
        assertEquals(onlyB, c.accuracyMcNemar().c());
        assertTrue(c.accuracy().pValue() < 0.05, "a 0.5 → ~0.8 accuracy jump on 40 pairs: p " + c.accuracy().pValue());
        assertEquals((long) surgeonA, c.predictedA().get("surgeon"));
        assertEquals(0L, c.predictedA().get("nurse"));
        assertTrue(c.labelBiasA());
        assertFalse(c.labelBiasB());
        assertEquals("none", c.a().adapters());
        assertEquals("/ft", c.b().adapters());

        Map<String, Comparison.Metric> ixg = c.methods().get("input_x_gradient");
        assertEquals(Comparison.METHOD_METRICS, List.copyOf(ixg.keySet()));
        assertEquals(mean(f1a), ixg.get("alignment_f1").a().mean(), 1e-12);
        assertEquals(mean(f1b), ixg.get("alignment_f1").b().mean(), 1e-12);
        assertEquals(0.2, ixg.get("alignment_f1").difference().mean(), 1e-9);
        // every pair differs by exactly +0.2: every resample's mean difference too
        assertEquals(0.2, ixg.get("alignment_f1").difference().lower(), 1e-9);
        assertEquals(0.2, ixg.get("alignment_f1").difference().upper(), 1e-9);
        assertEquals((double) flipsA / n, ixg.get("flip_rate").a().mean(), 1e-12);
        assertEquals((double) flipsB / n, ixg.get("flip_rate").b().mean(), 1e-12);
        assertEquals(mean(ca), ixg.get("comprehensiveness").a().mean(), 1e-12);
        assertEquals(mean(cb), ixg.get("comprehensiveness").b().mean(), 1e-12);
        assertEquals(0.01, ixg.get("sufficiency").a().mean(), 1e-12);
        assertEquals(mean(cb) / 2, ixg.get("aopc_comprehensiveness").b().mean(), 1e-12);
        SerumStats.McNemar fm = c.flipMcNemar().get("input_x_gradient");
        assertEquals(flipsB - flipsA, fm.c() - fm.b());
        // the random baseline is identical in both runs: difference 0, p 1
        assertEquals(0, c.methods().get("random").get("alignment_f1").difference().mean(), 0);
        assertEquals(1.0, c.methods().get("random").get("alignment_f1").pValue());

        String text = c.toText();
        assertTrue(text.contains("LABEL BIAS") && text.contains("input_x_gradient") && text.contains("McNemar"), text);
        String csv = c.toCsv();
        assertEquals(1 + 1 + 2 * Comparison.METHOD_METRICS.size(), csv.strip().lines().count(), csv);
        c.write(tmp.resolve("out"));
        for (String f : List.of("compare.json", "compare.csv", "compare.html")) assertTrue(Files.size(tmp.resolve("out").resolve(f)) > 100, f);
    }

    @Test
    void refusesRunsOfDifferentDatasets() throws IOException {
        Path da = folder(tmp.resolve("a"), "medicalbios:x.jsonl", "null", List.of(example(0, "nurse", "nurse", Map.of())));
        Path db = folder(tmp.resolve("b"), "esnli:y.csv", "null", List.of(example(0, "nurse", "nurse", Map.of())));
        var e = assertThrows(IllegalArgumentException.class, () -> Comparison.of(da, "a", db, "b"));
        assertTrue(e.getMessage().contains("esnli:y.csv") && e.getMessage().contains("same dataset") && !e.getMessage().contains("\n"), e.getMessage());
    }

    /** A run by the runner (fake evaluator) over a stratified selection of {@code n} examples, {@code limit} of them. */
    static EvalRunner.Outcome run(Path data, Path out, Integer limit) throws IOException {
        EvalRunner.Config config = new EvalRunner.Config(out.getParent(), "jsonl:" + data, EvalRunnerTest.OPTS, limit, out, false, 0, null,
                Selection.Mode.STRATIFIED);
        return new EvalRunner(config, FakeEvaluator.factory(FakeEvaluator.Settings.plain().skip(Set.of("ex-4"))), Progress.NONE).run();
    }

    /** Each run's side of {@code c} has, per metric, exactly the interval and n of that run's summary {@code s}. */
    static void assertSummaryIntervals(Summary s, Comparison c) {
        assertEquals(s.counts().evaluated(), c.paired());
        for (Comparison.Metric m : List.of(c.accuracy())) assertSameInterval(s.labels().accuracyCi(), m, "accuracy");
        assertEquals(List.copyOf(s.methods().keySet()), List.copyOf(c.methods().keySet()));
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            Summary.MethodSummary ms = e.getValue();
            Map<String, Comparison.Metric> cm = c.methods().get(e.getKey());
            Map<String, Summary.Stat> expected = Map.of("alignment_f1", ms.alignment().f1(), "flip_rate", ms.flipRate(),
                    "comprehensiveness", ms.comprehensiveness(), "sufficiency", ms.sufficiency(),
                    "aopc_comprehensiveness", ms.aopcComprehensiveness(), "aopc_sufficiency", ms.aopcSufficiency());
            for (String metric : Comparison.METHOD_METRICS) assertSameInterval(expected.get(metric), cm.get(metric), e.getKey() + " " + metric);
        }
    }

    static void assertSameInterval(Summary.Stat expected, Comparison.Metric m, String what) {
        assertEquals(expected.n(), m.n(), what);
        for (Bootstrap.Interval i : List.of(m.a(), m.b())) {
            assertEquals(expected.lower(), i.lower(), 0, what + " lower");
            assertEquals(expected.upper(), i.upper(), 0, what + " upper");
            assertEquals(expected.mean(), i.mean(), 0, what + " mean");
        }
    }

    @Test
    void aRunComparedWithItselfHasItsSummarysIntervals() throws IOException {
        // stratified: examples.jsonl holds the examples in selection order, not index order; the summary takes them
        // by index, first line of an index first
        Path data = Datasets.nli(tmp, 30, 0), out = tmp.resolve("run");
        run(data, out, null);
        List<String> lines = Files.readAllLines(out.resolve("examples.jsonl"));
        ExampleResult dup = null;   // a later line for an evaluated example, without its alignment and faithfulness
        for (int i = 3; dup == null || dup.skipped() != null; i++) dup = ExamplesLog.MAPPER.readValue(lines.get(i), ExampleResult.class);
        Map<String, ExampleResult.MethodResult> changed = new LinkedHashMap<>();
        dup.methods().forEach((m, r) -> changed.put(m, new ExampleResult.MethodResult(r.scores(), r.ranking(), r.k(), r.rationale(), r.raw(),
                r.unparsed(), null, null, r.seconds())));
        Files.writeString(out.resolve("examples.jsonl"), ExamplesLog.MAPPER.writeValueAsString(new ExampleResult(dup.index(), dup.id(), null,
                dup.words(), dup.gold(), dup.predicted(), dup.labelProbs(), dup.human(), changed, dup.seconds())) + "\n", StandardOpenOption.APPEND);
        Summary s = run(data, out, null).summary();   // resumed, nothing left to do: the summary of the file as it is now
        assertEquals(29, s.counts().evaluated());

        Comparison c = Comparison.of(out, "a", out, "b");
        assertSummaryIntervals(s, c);
        assertEquals(0, c.a().unselected());
    }

    @Test
    void aRunResumedWithASmallerLimitIsComparedOverItsSummarysExamples() throws IOException {
        Path data = Datasets.nli(tmp, 30, 0), out = tmp.resolve("run");
        run(data, out, 24);
        Summary s = run(data, out, 10).summary();
        assertEquals(10, s.counts().done());
        assertEquals(24, Files.readAllLines(out.resolve("examples.jsonl")).size());

        Comparison c = Comparison.of(out, "a", out, "b");
        assertSummaryIntervals(s, c);
        assertEquals(14, c.a().unselected());
        assertEquals(10, c.a().limit());
        assertTrue(c.toText().contains("A: 14 examples with results beyond the run's --limit 10 left out"), c.toText());

        // against a run of all 30: the 10 examples (minus the skipped one) are compared, the other's 20 more only in B
        Path all = tmp.resolve("all");
        run(data, all, null);
        Comparison d = Comparison.of(out, "a", all, "b");
        assertEquals(s.counts().evaluated(), d.paired());
        assertEquals(29 - s.counts().evaluated(), d.onlyB());

        // the stratified order is recomputed from the dataset: a changed file is refused in one line
        Files.writeString(data, Files.readString(data).replace("\"ex-29\"", "\"ex-29b\""));
        var e = assertThrows(IllegalArgumentException.class, () -> Comparison.of(out, "a", out, "b"));
        assertTrue(e.getMessage().contains("changed since the run") && e.getMessage().contains("--limit 10") && !e.getMessage().contains("\n"),
                e.getMessage());
    }

    @Test
    void printsNoNegativeZero() throws IOException {
        // comprehensiveness: A -0.0002, B -0.0004 on every example, so every mean and bound (and B − A) is a negative
        // number that rounds to zero; sufficiency -0.006 stays negative
        List<ExampleResult> a = new ArrayList<>(), b = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            a.add(example(i, "nurse", "nurse", Map.of("saliency", new double[]{0.5, 0, -0.0002, -0.006})));
            b.add(example(i, "nurse", "nurse", Map.of("saliency", new double[]{0.5, 0, -0.0004, -0.006})));
        }
        Comparison c = Comparison.of(folder(tmp.resolve("a"), "medicalbios:x.jsonl", "null", a), "a",
                folder(tmp.resolve("b"), "medicalbios:x.jsonl", "null", b), "b");
        Comparison.Metric comp = c.methods().get("saliency").get("comprehensiveness");
        assertTrue(comp.a().upper() < 0 && comp.b().upper() < 0 && comp.difference().upper() < 0, comp.toString());
        String text = c.toText(), html = c.toHtml();
        for (String out : List.of(text, html)) {
            assertFalse(out.contains("-0.000"), out);
            assertTrue(out.contains("0.000 [0.000, 0.000]") && out.contains("-0.006 [-0.006, -0.006]"), out);
        }
        String row = text.lines().filter(l -> l.startsWith("saliency") && l.contains(" comprehensiveness")).findFirst().orElseThrow();
        assertEquals(3, row.split("0\\.000 \\[0\\.000, 0\\.000\\]", -1).length - 1, row);   // A, B and B − A
    }

    @Test
    void theSelectionOfFileOrderOrOfEveryExampleNeedsNoDataset() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path nowhere = tmp.resolve("gone.jsonl");   // never read
        assertEquals(Set.of(0, 1, 2), Comparison.selection(tmp, json.readTree("{\"dataset\": \"jsonl:" + nowhere + "\", \"limit\": 3, "
                + "\"selected\": 3, \"dataset_size\": 10, \"selection\": \"first\"}")));
        // a run.json from before --select took the first examples
        assertEquals(Set.of(0, 1), Comparison.selection(tmp, json.readTree("{\"dataset\": \"jsonl:" + nowhere + "\", \"limit\": 2, "
                + "\"selected\": 2, \"dataset_size\": 10}")));
        // no limit, or one that covers the dataset: every example
        assertNull(Comparison.selection(tmp, json.readTree("{\"dataset\": \"jsonl:" + nowhere + "\", \"limit\": null, \"selected\": 10, "
                + "\"dataset_size\": 10, \"selection\": \"stratified\"}")));
        assertNull(Comparison.selection(tmp, json.readTree("{\"dataset\": \"jsonl:" + nowhere + "\", \"limit\": 50, \"selected\": 10, "
                + "\"dataset_size\": 10, \"selection\": \"shuffle\"}")));
        // a limited shuffle needs the dataset
        var e = assertThrows(IllegalArgumentException.class, () -> Comparison.selection(tmp, json.readTree("{\"dataset\": \"jsonl:" + nowhere
                + "\", \"limit\": 4, \"selected\": 4, \"dataset_size\": 10, \"selection\": \"shuffle\"}")));
        assertTrue(e.getMessage().contains("cannot be read") && e.getMessage().contains("gone.jsonl"), e.getMessage());
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }
}
