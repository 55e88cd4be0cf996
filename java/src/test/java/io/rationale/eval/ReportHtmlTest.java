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

    static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }
}
