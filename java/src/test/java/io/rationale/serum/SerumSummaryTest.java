package io.rationale.serum;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The summary's numbers on made-up lines, against hand counts; the report escapes what it shows. */
class SerumSummaryTest {
    static CaseResult line(int q, String hint, int setting, String unhinted, String hinted, String x, boolean explained,
                           boolean kw, boolean kwS, Boolean llm, Boolean llmS, String expl) {
        boolean kept = unhinted != null && x.equals(hinted);
        return new CaseResult(q, "q" + q, "s", hint, setting, setting < 0 ? null : 0.1, setting < 0 ? null : "1,2", 4, "A", x, unhinted, hinted,
                "raw", "raw", kept, explained, null, setting < 0 ? null : new int[]{1, 2}, null, "pe_lrp", "max_abs", "post", "all", 5,
                new int[]{3, 6}, List.of("a", "<b>", "c"), new int[]{5, 6}, new double[]{1, -2, 0.5}, new double[]{0.5, -1, 0.25},
                expl, expl + " steered", 4, 5, explained ? kw : null, explained ? kwS : null, explained ? kw : null, explained ? kwS : null,
                llm, llmS, null, null, llm == null ? null : true, llmS == null ? null : true, 0.5, 0.25, 0.75, 0.5, 3.0, 5.0, 1.0);
    }

    /** A case's one line without explanations (setting −1): answers, raw answers (null: not generated) and why it was skipped. */
    static CaseResult unexplained(int q, String unhinted, String hinted, String x, String rawWithout, String rawWith, String skipped) {
        return new CaseResult(q, "q" + q, "s", "sycophancy", -1, null, null, 4, "A", x, unhinted, hinted, rawWithout, rawWith,
                unhinted != null && x.equals(hinted), false, skipped, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, 0, 0, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, 1.0);
    }

    /**
     * Cases whose answer prompt does not fit the model are counted as skipped: neither tried (nor unparsed, nor in the
     * flip rate) nor errors; an over-long explanation prompt still leaves a tried case.
     */
    @Test
    @SuppressWarnings("unchecked")
    void casesSkippedBeforeTheirAnswersAreNotTried() {
        SerumOptions.Setting s0 = new SerumOptions.Setting(0, 0.1, LayerChoice.parse("1,2"));
        List<CaseResult> lines = List.of(
                unexplained(0, "A", null, "B", "A", null, "the answer prompt with the hint has 600 tokens, the model's positions 512"),
                unexplained(1, null, null, "C", null, null, "the answer prompt without the hint has 700 tokens, the model's positions 512"),
                unexplained(2, null, null, "B", null, null, "error: boom"),
                unexplained(3, "A", "B", "B", "A", "B", "the explanation prompt has 600 tokens, the model's positions 512"),
                unexplained(4, "A", "C", "B", "A", "C", null),
                unexplained(5, null, "D", "D", "?", "D", null));
        Map<String, Object> s = SerumSummary.of(Map.of(), lines, List.of(s0), List.of("sycophancy"), 6, "now");
        assertTrue((Boolean) s.get("complete"));
        Map<String, Object> counts = (Map<String, Object>) s.get("counts");
        assertEquals(6, counts.get("cases_done"));
        assertEquals(1, counts.get("errors"));
        assertEquals(2, counts.get("skipped"));
        Map<String, Object> g = (Map<String, Object>) ((List<Object>) s.get("groups")).get(0);
        assertEquals(3, g.get("tried"), "q3, q4 and q5");
        assertEquals(2, g.get("skipped"));
        assertEquals(1, g.get("errors"));
        assertEquals(1, g.get("unhinted_unparsed"), "q5 only");
        assertEquals(0, g.get("hinted_unparsed"));
        assertEquals(1, g.get("flipped"), "q3");
        Map<String, Object> flip = (Map<String, Object>) g.get("flip_rate");
        assertEquals(2, flip.get("n"), "q3 and q4 have a parsed unhinted answer");
        assertEquals(0.5, (Double) flip.get("mean"), 1e-12);
        assertEquals(0, g.get("explained"));
    }

    /**
     * With --keep all, cases the hint did not move are explained too: the judges' rates stay over the kept cases, as
     * the paper reports them, and the rates over every explained case come apart ({@code judges_explained}).
     * Kept q3 (keyword F→T) and q4 (T→T); not kept q5 (answer unchanged, T→F): kept rates 1/2 → 1, all 2/3 → 2/3.
     */
    @Test
    @SuppressWarnings("unchecked")
    void judgeRatesAreOverKeptCasesAndOverAllExplainedApart() {
        SerumOptions.Setting s0 = new SerumOptions.Setting(0, 0.1, LayerChoice.parse("1,2"));
        List<CaseResult> lines = List.of(
                line(3, "sycophancy", 0, "A", "B", "B", true, false, true, null, null, "e3"),
                line(4, "sycophancy", 0, "A", "C", "C", true, true, true, null, null, "e4"),
                line(5, "sycophancy", 0, "A", "A", "B", true, true, false, null, null, "e5"));
        Map<String, Object> s = SerumSummary.of(Map.of(), lines, List.of(s0), List.of("sycophancy"), 3, "now");
        Map<String, Object> st = (Map<String, Object>) ((List<Object>) ((Map<String, Object>) ((List<Object>) s.get("groups")).get(0)).get("settings")).get(0);
        assertEquals(3, st.get("explained"));
        assertEquals(2, st.get("kept"));
        Map<String, Object> kw = (Map<String, Object>) ((Map<String, Object>) st.get("judges")).get("keyword");
        assertEquals(0.5, (Double) ((Map<String, Object>) kw.get("without")).get("mean"), 1e-12);
        assertEquals(1.0, (Double) ((Map<String, Object>) kw.get("with")).get("mean"), 1e-12);
        assertEquals(2, ((Map<String, Object>) kw.get("without")).get("n"));
        Map<String, Object> all = (Map<String, Object>) ((Map<String, Object>) st.get("judges_explained")).get("keyword");
        assertEquals(2.0 / 3, (Double) ((Map<String, Object>) all.get("without")).get("mean"), 1e-12);
        assertEquals(2.0 / 3, (Double) ((Map<String, Object>) all.get("with")).get("mean"), 1e-12);
    }

    @Test
    @SuppressWarnings("unchecked")
    void countsRatesTestsAndAgreement() {
        SerumOptions.Setting s0 = new SerumOptions.Setting(0, 0.1, LayerChoice.parse("1,2"));
        List<CaseResult> lines = new ArrayList<>();
        // sycophancy: 6 questions; q0 unhinted unparsed; q1 not flipped (to another option); q2 hinted unparsed; q3..q5 kept
        lines.add(line(0, "sycophancy", -1, null, "B", "B", false, false, false, null, null, null));
        lines.add(line(1, "sycophancy", -1, "A", "C", "B", false, false, false, null, null, null));
        lines.add(line(2, "sycophancy", -1, "A", null, "B", false, false, false, null, null, null));
        // kept: keyword without/with: (F,T), (F,T), (T,T); llm: (F,T), (T,T), (F,F)
        lines.add(line(3, "sycophancy", 0, "A", "B", "B", true, false, true, false, true, "<script>x</script>"));
        lines.add(line(4, "sycophancy", 0, "A", "C", "C", true, false, true, true, true, "e4"));
        lines.add(line(5, "sycophancy", 0, "D", "B", "B", true, true, true, false, false, "e5"));
        Map<String, Object> s = SerumSummary.of(Map.of("model", "m", "questions", "mmlu:x"), lines, List.of(s0), List.of("sycophancy"), 6, "now");
        assertTrue((Boolean) s.get("complete"));
        Map<String, Object> g = (Map<String, Object>) ((List<Object>) s.get("groups")).get(0);
        assertEquals(6, g.get("tried"));
        assertEquals(1, g.get("unhinted_unparsed"));
        assertEquals(1, g.get("hinted_unparsed"));
        assertEquals(3, g.get("flipped"));
        Map<String, Object> flip = (Map<String, Object>) g.get("flip_rate");
        assertEquals(3.0 / 5, (Double) flip.get("mean"), 1e-12, "kept over the cases with a parsed unhinted answer");
        assertEquals(5, flip.get("n"));
        assertEquals(1, g.get("switched_to_other"));
        assertEquals(4, g.get("both_parsed"));
        // Chen: p = 3/4, q = 1/4, n = 4: alpha = 1 - 0.25 / (2 * 0.75) = 5/6
        assertEquals(5.0 / 6, (Double) g.get("chen_alpha"), 1e-12);
        Map<String, Object> st = (Map<String, Object>) ((List<Object>) g.get("settings")).get(0);
        assertEquals(3, st.get("explained"));
        Map<String, Object> kw = (Map<String, Object>) ((Map<String, Object>) st.get("judges")).get("keyword");
        assertEquals(1.0 / 3, (Double) ((Map<String, Object>) kw.get("without")).get("mean"), 1e-12);
        assertEquals(1.0, (Double) ((Map<String, Object>) kw.get("with")).get("mean"), 1e-12);
        Map<String, Object> mc = (Map<String, Object>) kw.get("mcnemar");
        assertEquals(0, mc.get("only_without"));
        assertEquals(2, mc.get("only_with"));
        assertEquals(0.5, (Double) mc.get("p_value"), 1e-12, "2 * P(X <= 0), X ~ Bin(2, 1/2)");
        assertEquals(Math.min(1, (1.0 / 3) / (5.0 / 6)), (Double) kw.get("without_chen_normalized"), 1e-12);
        assertEquals(1.0, (Double) kw.get("with_chen_normalized"), 1e-12);
        // κ keyword vs llm over both explanations: pairs (F,F) (T,T) (F,T) (T,T) (T,F) (T,F) -> p_o 2/6... computed by hand
        Map<String, Object> kappa = (Map<String, Object>) ((Map<String, Object>) st.get("kappa")).get("keyword_vs_llm");
        boolean[] a = {false, false, true, true, true, true}, b = {false, true, false, true, true, false};
        double po = 3.0 / 6, pa = 4.0 / 6, pb = 3.0 / 6, pe = pa * pb + (1 - pa) * (1 - pb);
        assertEquals((po - pe) / (1 - pe), (Double) kappa.get("pooled"), 1e-12);
        assertEquals(SerumStats.cohensKappa(a, b), (Double) kappa.get("pooled"), 1e-12);
        assertEquals(3.0, (Double) ((Map<String, Object>) ((Map<String, Object>) st.get("perplexity")).get("without")).get("mean"), 1e-12);
        // incomplete when a selected case is missing; csv has a row per (group, setting)
        assertFalse((Boolean) SerumSummary.of(Map.of(), lines, List.of(s0), List.of("sycophancy"), 7, "now").get("complete"));
        assertEquals(2, SerumSummary.csv(s).strip().split("\n").length);
        // no LLM judge: its entry is null
        List<CaseResult> noLlm = List.of(line(3, "metadata", 0, "A", "B", "B", true, false, true, null, null, "e"));
        Map<String, Object> s2 = SerumSummary.of(Map.of(), noLlm, List.of(s0), List.of("metadata"), 4, "now");
        Map<String, Object> st2 = (Map<String, Object>) ((List<Object>) ((Map<String, Object>) ((List<Object>) s2.get("groups")).get(0)).get("settings")).get(0);
        assertNull(((Map<String, Object>) st2.get("judges")).get("llm"));

        String html = SerumReport.html(s, lines);
        assertFalse(html.contains("<script>x"), "explanations are escaped");
        assertTrue(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assertTrue(html.contains("&lt;b&gt;"), "span tokens are escaped");
        assertTrue(html.contains("class=\"t h\""), "the hint token is outlined");
    }
}
