package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.metrics.Bootstrap;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Aggregation against values computed by hand on a small set of results. */
class SummaryTest {
    static final double EPS = 1e-12;

    static ExampleResult.MethodResult attr(double p, double r, double f1, int tp, int ps, int hs, double ap, boolean flip,
                                           double comp, double suff, double aopcC, double aopcS, boolean flip10, boolean flip50) {
        ExampleResult.Alignment al = Double.isNaN(p) && ps < 0 ? null : new ExampleResult.Alignment(p, r, f1, tp, ps, hs, ap);
        Map<String, ExampleResult.Masked> byF = new LinkedHashMap<>();
        byF.put("0.5", masked(flip50, 0, 0));   // out of order on purpose: the curve sorts numerically
        byF.put("0.1", masked(flip10, 0, 0));
        return new ExampleResult.MethodResult(new double[]{0.1, 0.2}, new int[]{1, 0}, 1, new int[]{1}, null, null, al,
                new ExampleResult.Faithfulness(masked(flip, comp, suff), byF, aopcC, aopcS), 0.5);
    }

    static ExampleResult.MethodResult prompt(double p, double r, double f1, int[] rationale, List<String> unparsed, boolean flip) {
        return new ExampleResult.MethodResult(null, rationale, rationale.length, rationale, "answer", unparsed,
                new ExampleResult.Alignment(p, r, f1, 0, 0, 0, Double.NaN),
                new ExampleResult.Faithfulness(masked(flip, 0.1, 0.1), Map.of(), Double.NaN, Double.NaN), 1.5);
    }

    static ExampleResult.Masked masked(boolean flip, double comp, double suff) {
        return new ExampleResult.Masked(1, flip ? "x" : "y", flip, comp, suff);
    }

    static final double NA = Double.NaN;

    /** Four results: three evaluated (a→a, b→a, c→c), one skipped; methods m (attribution), p (prompting), random. */
    static List<ExampleResult> handSet() {
        List<ExampleResult> rs = new ArrayList<>();
        Map<String, ExampleResult.MethodResult> m0 = new LinkedHashMap<>();
        m0.put("m", attr(1, 0.5, 2.0 / 3, 1, 1, 2, 0.8, true, 0.4, 0.1, 0.3, 0.2, true, true));
        m0.put("p", prompt(0, 0, 0, new int[0], List.of("foo", "bar"), false));
        m0.put("random", attr(0, 0, 0, 0, 1, 2, 0.2, false, 0.0, 0.3, 0.05, 0.25, false, true));
        rs.add(new ExampleResult(0, "e0", null, List.of(), "a", "a", Map.of("a", 0.7), List.of(0), m0, 1));
        Map<String, ExampleResult.MethodResult> m1 = new LinkedHashMap<>();
        m1.put("m", attr(NA, NA, NA, 0, -1, 0, NA, false, 0.2, 0.2, 0.1, 0.1, false, true));   // no human rationale
        m1.put("random", attr(NA, NA, NA, 0, -1, 0, NA, false, -0.1, 0.4, 0.0, 0.3, false, false));
        rs.add(new ExampleResult(1, "e1", null, List.of(), "b", "a", Map.of(), null, m1, 1));
        Map<String, ExampleResult.MethodResult> m2 = new LinkedHashMap<>();
        m2.put("m", attr(0.5, 0.5, 0.5, 1, 2, 1, 0.6, true, 0.6, 0.0, 0.5, 0.0, true, true));
        m2.put("p", prompt(1, 0.5, 2.0 / 3, new int[]{1}, List.of(), true));
        m2.put("random", attr(0.5, 0.5, 0.5, 0, 2, 1, 0.4, false, 0.1, 0.2, 0.1, 0.2, false, true));
        rs.add(new ExampleResult(2, "e2", null, List.of(), "c", "c", Map.of(), List.of(1), m2, 1));
        rs.add(new ExampleResult(3, "e3", "no label words", null, "a", null, null, null, null, 0));
        return rs;
    }

    static Summary.Context ctx(int selected) {
        return new Summary.Context(Map.of("model", "/m", "dataset", "jsonl:/d"), List.of("a", "b", "c"), List.of("m", "p"),
                selected + 1, selected, Map.of("missing label", 2));
    }

    /**
     * ERASER's IOU-F1 instances are (example, field) pairs. Two e-SNLI-like examples, by hand:
     * e0 premise tp 1 of 1 predicted, 1 human (P 1, R 1); e0 hypothesis 0 of 2, 1 human (P 0, R 0);
     * e1 premise nothing predicted, 1 human (R 0); e1 hypothesis 1 of 1, 2 human (P 1, R 0.5).
     * Macro P over the 3 instances with predictions = 2/3, macro R over the 4 with human spans = 1.5/4 = 0.375;
     * F1 = 2·(2/3)·0.375 / (2/3 + 0.375) = 0.48. (One instance per example would give P 2/3, R 5/12.)
     */
    @Test
    void iouF1InstancesAreExampleFieldPairs() {
        int[][] f0 = {{1, 1, 1}, {0, 2, 1}}, f1 = {{0, 0, 1}, {1, 1, 2}};
        List<ExampleResult> rs = new ArrayList<>();
        int i = 0;
        for (int[][] f : List.of(f0, f1)) {
            int tp = f[0][0] + f[1][0], ps = f[0][1] + f[1][1], hs = f[0][2] + f[1][2];
            ExampleResult.Alignment al = new ExampleResult.Alignment(0.5, 0.5, 0.5, tp, ps, hs, 0.5, f);
            Map<String, ExampleResult.MethodResult> m = new LinkedHashMap<>();
            m.put("m", new ExampleResult.MethodResult(new double[]{0.1, 0.2}, new int[]{1, 0}, 1, new int[]{1}, null, null, al,
                    new ExampleResult.Faithfulness(masked(false, 0, 0), Map.of(), 0, 0), 0.5));
            rs.add(new ExampleResult(i, "e" + i, null, List.of(), "a", "a", Map.of("a", 0.7), List.of(0), m, 1));
            i++;
        }
        Summary.MethodSummary m = Summary.of(ctx(2), rs, "now").methods().get("m");
        assertEquals(2.0 / 3, m.iouF1().precision(), EPS);
        assertEquals(0.375, m.iouF1().recall(), EPS);
        assertEquals(0.48, m.iouF1().f1(), EPS);
        assertEquals(4, m.iouF1().instances());
        assertEquals(2.0 * (2.0 / 4) * (2.0 / 5) / (2.0 / 4 + 2.0 / 5), m.iouF1().microF1(), EPS, "micro: TP 2, predicted 4, human 5");
    }

    @Test
    void handComputedAggregation() {
        Summary s = Summary.of(ctx(5), handSet(), "now");
        assertEquals(new Summary.Counts(6, 2, 5, 4, 3, 1, 1), s.counts());
        assertFalse(s.complete());
        assertEquals(Map.of("missing label", 2), s.skipped().dataset());
        assertEquals(Map.of("no label words", 1), s.skipped().evaluator());

        Summary.Labels l = s.labels();
        assertEquals(2.0 / 3, l.accuracy(), EPS);
        assertEquals(List.of("a", "b", "c"), l.confusion().labels());
        assertArrayEquals(new long[]{1, 0, 0}, l.confusion().counts()[0]);
        assertArrayEquals(new long[]{1, 0, 0}, l.confusion().counts()[1]);
        assertArrayEquals(new long[]{0, 0, 1}, l.confusion().counts()[2]);
        assertEquals(Map.of("a", 2L, "b", 0L, "c", 1L), l.predictedCounts());
        assertEquals(Map.of("a", 1L, "b", 1L, "c", 1L), l.goldCounts());
        assertEquals(2.0 / 3, l.predictedDistribution().get("a"), EPS);
        assertFalse(l.bias().flagged());
        assertNull(l.bias().warning());

        assertEquals(List.of("m", "p", "random"), List.copyOf(s.methods().keySet()));
        Summary.MethodSummary m = s.methods().get("m");
        assertEquals("attribution", m.kind());
        assertEquals(3, m.examples());
        assertEquals(2, m.alignment().examples());
        assertEquals(0, m.alignment().undefined());
        assertEquals(0.75, m.alignment().precision(), EPS);
        assertEquals(0.5, m.alignment().recall(), EPS);
        assertEquals(7.0 / 12, m.alignment().f1().mean(), EPS);
        Bootstrap.Interval ci = Bootstrap.meanCi(new double[]{2.0 / 3, 0.5});
        assertEquals(ci.lower(), m.alignment().f1().lower(), EPS);
        assertEquals(ci.upper(), m.alignment().f1().upper(), EPS);
        assertTrue(m.alignment().f1().lower() >= 0.5 - EPS && m.alignment().f1().upper() <= 2.0 / 3 + EPS);
        // IOU: instances (1 tp, 1 pred, 2 human), (1, 2, 1): macro P = (1 + 1/2)/2, R = (1/2 + 1)/2, F1 = 0.75; micro 2/3
        assertEquals(0.75, m.iouF1().precision(), EPS);
        assertEquals(0.75, m.iouF1().recall(), EPS);
        assertEquals(0.75, m.iouF1().f1(), EPS);
        assertEquals(2.0 / 3, m.iouF1().microF1(), EPS);
        assertEquals(2, m.iouF1().instances());
        assertEquals(0.7, m.auprc().mean(), EPS);
        assertEquals(2, m.auprc().n());
        assertEquals(2.0 / 3, m.flipRate().mean(), EPS);
        assertEquals(3, m.flipRate().n());
        assertEquals(0.4, m.comprehensiveness().mean(), EPS);
        assertEquals(0.1, m.sufficiency().mean(), EPS);
        assertEquals(0.3, m.aopcComprehensiveness().mean(), EPS);
        assertEquals(0.1, m.aopcSufficiency().mean(), EPS);
        assertEquals(List.of("0.1", "0.5"), List.copyOf(m.flipRateByFraction().keySet()));
        assertEquals(2.0 / 3, m.flipRateByFraction().get("0.1").mean(), EPS);
        assertEquals(1.0, m.flipRateByFraction().get("0.5").mean(), EPS);
        assertEquals(0.5, m.meanSeconds(), EPS);
        assertNull(m.prompting());

        Summary.MethodSummary r = s.methods().get("random");
        assertEquals("baseline", r.kind());
        assertEquals(0.25, r.alignment().f1().mean(), EPS);
        assertEquals(0.0, r.flipRate().mean(), EPS);
        assertEquals(0.0, r.comprehensiveness().mean(), EPS);
        assertEquals(0.0, r.flipRateByFraction().get("0.1").mean(), EPS);
        assertEquals(2.0 / 3, r.flipRateByFraction().get("0.5").mean(), EPS);

        Summary.MethodSummary p = s.methods().get("p");
        assertEquals("prompting", p.kind());
        assertEquals(new Summary.PromptingSummary(2, 1, 1, 2), p.prompting());
        assertEquals(1.0 / 3, p.alignment().f1().mean(), EPS);
        assertTrue(Double.isNaN(p.auprc().mean()));
        assertEquals(0, p.auprc().n());
        assertEquals(0.5, p.flipRate().mean(), EPS);
        assertTrue(p.flipRateByFraction().isEmpty());

        assertEquals(List.of("m/p/f1", "m/p/flip", "m/random/f1", "m/random/flip", "p/random/f1", "p/random/flip"),
                s.pairedTests().stream().map(t -> t.a() + "/" + t.b() + "/" + t.metric()).toList());
        Summary.PairedTest f1 = s.pairedTests().get(2);
        assertEquals(2, f1.n());
        assertEquals(7.0 / 12, f1.meanA(), EPS);
        assertEquals(0.25, f1.meanB(), EPS);
        assertEquals(1.0 / 3, f1.difference(), EPS);
        Bootstrap.PairedTest ref = Bootstrap.pairedTest(new double[]{2.0 / 3, 0.5}, new double[]{0, 0.5});
        assertEquals(ref.pValue(), f1.pValue(), EPS);
        Summary.PairedTest flip = s.pairedTests().get(3);
        assertEquals(3, flip.n());
        assertEquals(2.0 / 3, flip.difference(), EPS);
        Summary.PairedTest pf = s.pairedTests().get(5);
        assertEquals(2, pf.n(), "p has masking outcomes on examples 0 and 2 only");
    }

    @Test
    void onlySelectedIndicesAndFirstLinePerIndexCount() {
        List<ExampleResult> rs = new ArrayList<>(handSet());
        rs.add(rs.get(1));   // a repeated index is counted once
        Summary s = Summary.of(ctx(2), rs, "now");
        assertEquals(2, s.counts().done());
        assertEquals(0, s.counts().remaining());
        assertTrue(s.complete());
        assertEquals(0.5, s.labels().accuracy(), EPS);
    }

    static List<ExampleResult> collapsed(int n, int others) {
        List<ExampleResult> rs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String pred = i < others ? "b" : "a";
            rs.add(new ExampleResult(i, "e" + i, null, List.of(), i % 2 == 0 ? "a" : "b", pred, Map.of(), null, Map.of(), 0));
        }
        return rs;
    }

    @Test
    void labelCollapseRaisesTheBiasFlagAndWarning() {
        Summary s = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("m"), 20, 20, Map.of()), collapsed(20, 1), "now");
        Summary.Bias b = s.labels().bias();
        assertTrue(b.flagged());
        assertEquals("a", b.dominantLabel());
        assertEquals(0.95, b.share(), EPS);
        assertTrue(b.warning().startsWith("WARNING: label bias"), b.warning());
        assertTrue(b.warning().contains("'a'") && b.warning().contains("95.0%"), b.warning());
        assertEquals(0.45, s.labels().accuracy(), EPS, "e0 (gold a) predicted b, e2..e18 right");
        assertEquals(Map.of("a", 19L, "b", 1L), s.labels().predictedCounts());

        Summary exactly90 = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("m"), 20, 20, Map.of()), collapsed(20, 2), "now");
        assertFalse(exactly90.labels().bias().flagged(), "90% is not MORE than 90%");
    }

    @Test
    void jsonShapeSnakeCaseAndNullForUndefined() throws Exception {
        Summary s = Summary.of(ctx(5), handSet(), "2025-01-01T00:00:00Z");
        JsonNode j = new ObjectMapper().readTree(SummaryWriter.json(s));
        for (String k : List.of("run", "summarized_at", "complete", "counts", "skipped", "labels", "methods", "paired_tests", "bootstrap")) {
            assertTrue(j.has(k), k);
        }
        assertEquals(4, j.get("counts").get("done").asInt());
        assertEquals(1, j.get("counts").get("evaluator_skipped").asInt());
        assertEquals(2, j.get("skipped").get("dataset").get("missing label").asInt());
        assertEquals(2.0 / 3, j.get("labels").get("accuracy").asDouble(), EPS);
        assertEquals(3, j.get("labels").get("confusion").get("counts").size());
        assertFalse(j.get("labels").get("bias").get("flagged").asBoolean());
        assertTrue(j.get("labels").get("bias").get("share").isNull(), "NaN is written as null");
        JsonNode m = j.get("methods").get("m");
        assertEquals(7.0 / 12, m.get("alignment").get("f1").get("mean").asDouble(), EPS);
        assertTrue(m.get("alignment").get("f1").has("lower"));
        assertEquals(0.75, m.get("iou_f1").get("f1").asDouble(), EPS);
        assertEquals(2.0 / 3, m.get("flip_rate").get("mean").asDouble(), EPS);
        assertEquals(List.of("0.1", "0.5"), iter(m.get("flip_rate_by_fraction").fieldNames()));
        assertTrue(j.get("methods").get("p").get("auprc").get("mean").isNull());
        assertEquals(1, j.get("methods").get("p").get("prompting").get("unparseable").asInt());
        assertTrue(m.get("prompting").isNull());
        assertEquals(6, j.get("paired_tests").size());
        assertEquals("f1", j.get("paired_tests").get(0).get("metric").asText());
        assertEquals(1000, j.get("bootstrap").get("resamples").asInt());
    }

    @Test
    void csvOneRowPerMethodWithCiColumnsAndTheCurve() {
        Summary s = Summary.of(ctx(5), handSet(), "now");
        List<String> lines = SummaryWriter.csv(s).lines().toList();
        assertEquals(4, lines.size(), "header + 3 methods");
        List<String> header = Arrays.asList(lines.get(0).split(",", -1));
        List<String> expected = new ArrayList<>(SummaryWriter.CSV_COLUMNS);
        expected.add("flip_rate@0.1");
        expected.add("flip_rate@0.5");
        assertEquals(expected, header);
        Map<String, List<String>> rows = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            List<String> cells = Arrays.asList(line.split(",", -1));
            assertEquals(header.size(), cells.size(), line);
            rows.put(cells.get(0), cells);
        }
        assertEquals(List.of("m", "p", "random"), List.copyOf(rows.keySet()));
        List<String> m = rows.get("m");
        assertEquals(7.0 / 12, Double.parseDouble(m.get(header.indexOf("f1"))), EPS);
        assertTrue(Double.parseDouble(m.get(header.indexOf("f1_lower"))) <= 7.0 / 12);
        assertEquals(2.0 / 3, Double.parseDouble(m.get(header.indexOf("flip_rate"))), EPS);
        assertEquals(1.0, Double.parseDouble(m.get(header.indexOf("flip_rate@0.5"))), EPS);
        assertEquals("attribution", m.get(header.indexOf("kind")));
        assertEquals("", rows.get("p").get(header.indexOf("auprc")), "undefined is an empty cell");
        assertEquals("1", rows.get("p").get(header.indexOf("unparseable_answers")));
        assertEquals("", rows.get("p").get(header.indexOf("flip_rate@0.1")));
        assertEquals("false", m.get(header.indexOf("label_bias")));
    }

    private static List<String> iter(java.util.Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
