package io.rationale.eval;

import io.rationale.serum.SerumStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Comparison} on two results folders the test writes (examples.jsonl lines as the evaluator writes them,
 * run.json): pairing by example, skipped and unmatched examples left out, accuracy means and McNemar counts, label
 * counts and bias, per-method means and paired differences, all against values the test counts itself; a run of
 * another dataset is refused in one line.
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

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }
}
