package io.rationale.eval;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class ReportHtmlTest {
    static final String EVIL = "<script>alert('x')</script>";

    /** The hand set plus an example whose text, id, labels and method name try to inject markup. */
    static List<ExampleResult> withInjection() {
        List<ExampleResult> rs = new ArrayList<>(SummaryTest.handSet());
        List<ExampleResult.WordRef> words = List.of(
                new ExampleResult.WordRef("premise", EVIL, 0, EVIL.length()),
                new ExampleResult.WordRef("premise", "\"><img src=x onerror=alert(1)>", 0, 30),
                new ExampleResult.WordRef("hyp<b>", "fine", 0, 4));
        Map<String, ExampleResult.MethodResult> ms = new LinkedHashMap<>();
        ms.put("m", new ExampleResult.MethodResult(new double[]{1.0, -0.5, 0.1}, new int[]{0, 2, 1}, 1, new int[]{0}, null, null,
                new ExampleResult.Alignment(1, 1, 1, 1, 1, 1, 1), null, 0));
        ms.put("p", new ExampleResult.MethodResult(null, new int[]{1}, 1, new int[]{1}, "words: " + EVIL, List.of(EVIL), null, null, 0));
        ms.put("x<i>y", new ExampleResult.MethodResult(new double[]{0, 0, 0}, new int[]{0, 1, 2}, 1, new int[]{0}, null, null, null, null, 0));
        rs.add(new ExampleResult(4, "id\"<script>", null, words, "</td>" + EVIL, "<b>a</b>", Map.of("<l>", 0.5), List.of(0), ms, 0));
        return rs;
    }

    @Test
    void selfContainedWithSectionsAndEscaped() {
        List<ExampleResult> rs = withInjection();
        Summary s = Summary.of(SummaryTest.ctx(6), rs, "now<script>");
        String html = ReportHtml.render(s, rs);
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        // no network: nothing loaded from elsewhere
        Matcher ext = Pattern.compile("(?i)(src|href|xlink:href)\\s*=\\s*[\"']?\\s*(https?:|//)").matcher(html);
        assertFalse(ext.find(), () -> "external reference: " + ext.group());
        assertFalse(html.contains("http://") || html.contains("https://"), "no URLs at all");
        assertFalse(Pattern.compile("(?i)<link|@import|<iframe|<object|<embed").matcher(html).find());
        // sections
        for (String id : List.of("run", "labels", "summary", "plots", "curve", "tests", "skipped", "examples")) {
            assertTrue(html.contains("<section id=\"" + id + "\">"), id);
        }
        assertTrue(html.contains("Alignment F1") && html.contains("Flip rate (all examples"));
        assertTrue(html.contains("Confusion matrix"));
        assertTrue(html.contains("<svg"));
        assertTrue(html.contains("<polyline"), "flip-rate-vs-k curves");
        assertTrue(html.contains("stroke-dasharray"), "random drawn dashed");
        assertTrue(html.contains("class=\"mrow\" data-m=\"m\""));
        // escaping: the only script element is the report's own
        assertEquals(1, count(html, "<script"), "one <script> (ours)");
        assertFalse(html.contains("<img"));
        assertFalse(html.contains("<i>y"));
        assertFalse(html.contains("<b>a</b>"));
        assertFalse(html.contains("</td><script"));
        assertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assertTrue(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assertTrue(html.contains("data-m=\"x&lt;i&gt;y\""));
        assertTrue(html.contains("hyp&lt;b&gt;"));
        // balanced structure for the parts we generate
        assertEquals(count(html, "<section"), count(html, "</section>"));
        assertEquals(count(html, "<svg"), count(html, "</svg>"));
        assertEquals(count(html, "<table"), count(html, "</table>"));
    }

    @Test
    void biasWarningShownAndExamplesCapped() {
        List<ExampleResult> rs = SummaryTest.collapsed(60, 1);
        Summary s = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("m"), 60, 60, Map.of()), rs, "now");
        String html = ReportHtml.render(s, rs);
        assertTrue(html.contains("class=\"warn\">WARNING: label bias"), "warning box");
        assertTrue(html.contains("Showing 50 of 60 examples"));
        assertEquals(50, count(html, "<div class=\"ex\">"));
        assertTrue(html.contains("No masking outcomes per fraction yet."));
    }

    @Test
    void partialRunsAreMarked() {
        Summary s = Summary.of(SummaryTest.ctx(5), SummaryTest.handSet(), "now");
        assertTrue(ReportHtml.render(s, SummaryTest.handSet()).contains("Partial results: 4 of 5"));
    }

    @Test
    void niceAxisMaximum() {
        assertEquals(1, ReportHtml.niceMax(0));
        assertEquals(0.05, ReportHtml.niceMax(0.01));
        assertEquals(0.25, ReportHtml.niceMax(0.21));
        assertEquals(1, ReportHtml.niceMax(0.8));
        assertEquals(2, ReportHtml.niceMax(1.2));
    }

    /** Results with the widest method names and every optional column (prompting answers, IG completeness). */
    static List<ExampleResult> wide() {
        List<ExampleResult> rs = new ArrayList<>();
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 12; i++) {
            Map<String, ExampleResult.MethodResult> ms = new LinkedHashMap<>();
            for (String m : List.of("integrated_gradients", "attention_rollout", "input_x_gradient", "random")) {
                ExampleResult.MethodResult a = SummaryTest.attr(r.nextDouble(), r.nextDouble(), r.nextDouble(), 1, 1, 2, r.nextDouble(),
                        r.nextBoolean(), r.nextDouble() - 0.5, r.nextDouble() - 0.5, r.nextDouble() - 0.5, r.nextDouble() - 0.5, r.nextBoolean(), r.nextBoolean());
                ms.put(m, new ExampleResult.MethodResult(a.scores(), a.ranking(), a.k(), a.rationale(), null, null, a.alignment(), a.faithfulness(),
                        a.seconds(), m.equals("integrated_gradients") ? 0.5 * r.nextDouble() : null));
            }
            ms.put("prompt_unbound", SummaryTest.prompt(r.nextDouble(), r.nextDouble(), r.nextDouble(), new int[]{1}, List.of("a", "b"), r.nextBoolean()));
            rs.add(new ExampleResult(i, "e" + i, null, List.of(), i % 2 == 0 ? "a" : "b", "a", Map.of(), List.of(0), ms, 1,
                    new ExampleResult.AttributionTarget("predicted", "a", null)));
        }
        return rs;
    }

    /**
     * Item 17 of issue 10: the summary table fits a 1400-px window. Width estimate: per column the widest line of
     * its cells at 7.5 px per character (13-px text) plus 16 px padding; header text wraps (also at a soft hyphen),
     * so a header counts with its longest word, at least 60 px.
     */
    @Test
    void summaryTableFitsA1400PixelWindow() {
        List<ExampleResult> rs = wide();
        Summary s = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("integrated_gradients", "attention_rollout",
                "input_x_gradient", "prompt_unbound"), 12, 12, Map.of()), rs, "now");
        String html = ReportHtml.render(s, rs);
        String table = html.substring(html.indexOf("<table class=\"grid summary\">"));
        table = table.substring(0, table.indexOf("</table>"));
        String[] rows = table.split("<tr");
        double[] width = new double[32];
        int columns = 0;
        for (int r = 1; r < rows.length; r++) {
            String[] cells = rows[r].split("<t[hd][ >]");
            for (int c = 1; c < cells.length; c++) {
                double w = 0;
                for (String line : cells[c].split("<br>")) {
                    String text = line.replaceAll("<[^>]*>", "").replace("&shy;", "- ").replaceAll("&[a-z#0-9]+;", "x").strip();
                    if (r == 1) for (String word : text.split(" ")) w = Math.max(w, Math.max(60, 7.5 * word.length() + 16));
                    else w = Math.max(w, 7.5 * text.length() + 16);
                }
                width[c - 1] = Math.max(width[c - 1], w);
                columns = Math.max(columns, c);
            }
        }
        double total = 0;
        for (int c = 0; c < columns; c++) total += width[c];
        assertTrue(total <= 1400 - 48, "summary table about " + Math.round(total) + " px wide: " + java.util.Arrays.toString(java.util.Arrays.copyOf(width, columns)));
        assertTrue(html.contains("IG completeness error"), "the completeness column");
    }

    /** Item 17: a value that rounds to zero never prints as "-0.000". */
    @Test
    void noNegativeZero() {
        assertEquals("0.000", ReportHtml.fmt(-0.0, 3));
        assertEquals("0.000", ReportHtml.fmt(-0.0004, 3));
        assertEquals("0.0", ReportHtml.fmt(-0.04, 1));
        assertEquals("-0.001", ReportHtml.fmt(-0.0008, 3));
        assertEquals("-2.50", ReportHtml.fmt(-2.5, 2));
        List<ExampleResult> rs = wide();
        String html = ReportHtml.render(Summary.of(SummaryTest.ctx(12), rs, "now"), rs);
        assertFalse(Pattern.compile("-0\\.0+(?![0-9])").matcher(html).find(), "no -0.000 in the report");
    }

    /** Item 17: a method's colour is its name's, whatever else the report holds and in whatever order. */
    @Test
    void aMethodKeepsItsColourAcrossReports() {
        List<ExampleResult> rs = wide();
        Summary one = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("integrated_gradients", "input_x_gradient"), 12, 12, Map.of()), rs, "now");
        Summary two = Summary.of(new Summary.Context(Map.of(), List.of("a", "b"), List.of("input_x_gradient", "attention_rollout"), 12, 12, Map.of()), rs, "now");
        for (String m : List.of("input_x_gradient", "integrated_gradients", "attention_rollout", "random")) {
            String a = barColour(ReportHtml.render(one, rs), m), b = barColour(ReportHtml.render(two, rs), m);
            assertEquals(a, b, m);
            assertEquals(ReportHtml.color(m), a, m);
        }
        assertNotEquals(ReportHtml.color("input_x_gradient"), ReportHtml.color("integrated_gradients"));
        assertEquals(ReportHtml.color("my_method"), ReportHtml.color("my_method"));
    }

    static String barColour(String html, String method) {
        Matcher m = Pattern.compile("fill=\"(#[0-9a-f]{6})\" opacity=\"0.85\"><title>" + Pattern.quote(method) + ":").matcher(html);
        assertTrue(m.find(), method);
        return m.group(1);
    }

    static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }
}
