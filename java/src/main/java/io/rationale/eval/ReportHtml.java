package io.rationale.eval;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code report.html}: one self-contained page (inline CSS and SVG, a few lines of inline script to pick the method
 * shown in the heatmaps; nothing is loaded from the network). Sections: run, label-bias diagnostics (warning,
 * gold vs predicted distribution, confusion matrix), the summary table, bar plots of alignment F1 and flip rate
 * with 95% CI whiskers, flip rate versus the masked fraction k per method, paired tests, skips, and a word
 * heatmap per example (the first {@value #MAX_EXAMPLES}).
 *
 * <p>Every piece of text from the dataset, the model or the options goes through {@link #esc}; nothing from them
 * reaches the script or a style attribute.
 */
public final class ReportHtml {
    private ReportHtml() {}

    public static final int MAX_EXAMPLES = 50;

    private static final String[] PALETTE = {"#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#ea580c"};
    private static final String RANDOM_COLOR = "#6b7280";
    /**
     * A method's colour follows its NAME, so it is the same in every report: the known methods have fixed colours,
     * any other name one picked by its hash.
     */
    private static final Map<String, String> METHOD_COLORS = Map.ofEntries(
            Map.entry("saliency", "#2563eb"), Map.entry("input_x_gradient", "#dc2626"), Map.entry("integrated_gradients", "#059669"),
            Map.entry("attnlrp", "#d97706"), Map.entry("cplrp", "#7c3aed"), Map.entry("attention", "#db2777"),
            Map.entry("attention_rollout", "#0891b2"), Map.entry("occlusion", "#65a30d"), Map.entry("prompt_guided", "#9333ea"),
            Map.entry("prompt_unbound", "#ea580c"), Map.entry(Summary.RANDOM, RANDOM_COLOR));

    public static void write(Summary s, List<ExampleResult> results, Path file) throws IOException {
        AtomicFiles.write(file, render(s, results).getBytes(StandardCharsets.UTF_8));
    }

    public static String render(Summary s, List<ExampleResult> results) {
        Map<String, String> colors = colors(s);
        StringBuilder b = new StringBuilder(64 * 1024);
        String dataset = str(s.run().get("dataset"));
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>Rationale evaluation: ").append(esc(dataset)).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
        b.append("<header><h1>Rationale evaluation</h1><p class=\"sub\">model <code>").append(esc(str(s.run().get("model"))))
                .append("</code> &middot; dataset <code>").append(esc(dataset)).append("</code> &middot; summarized ")
                .append(esc(s.summarizedAt())).append("</p>");
        if (!s.complete()) {
            b.append("<p class=\"note\">Partial results: ").append(s.counts().done()).append(" of ").append(s.counts().selected())
                    .append(" examples done (the run is going on, or was stopped and can be resumed with the same command).</p>");
        }
        b.append("<nav><a href=\"#run\">run</a><a href=\"#labels\">label bias</a><a href=\"#summary\">summary</a>")
                .append("<a href=\"#plots\">plots</a><a href=\"#curve\">flip rate vs k</a><a href=\"#tests\">paired tests</a>")
                .append("<a href=\"#skipped\">skipped</a><a href=\"#examples\">examples</a></nav></header>\n<main>\n");
        runSection(b, s);
        labelSection(b, s);
        summarySection(b, s);
        plotSection(b, s, colors);
        curveSection(b, s, colors);
        testSection(b, s);
        skipSection(b, s);
        exampleSection(b, s, results);
        b.append("</main>\n<script>\n").append(SCRIPT).append("</script>\n</body>\n</html>\n");
        return b.toString();
    }

    // ---- sections ------------------------------------------------------------------------------------------

    private static void runSection(StringBuilder b, Summary s) {
        b.append("<section id=\"run\"><h2>Run</h2><table class=\"kv\">");
        Summary.Counts c = s.counts();
        kv(b, "examples", c.done() + " done of " + c.selected() + " selected (" + c.datasetExamples() + " in the dataset"
                + (s.run().get("limit") != null ? ", limit " + s.run().get("limit") : "") + ")");
        kv(b, "evaluated", c.evaluated() + " (" + c.evaluatorSkipped() + " skipped by the evaluator, "
                + c.datasetSkipped() + " skipped while loading the dataset)");
        if (s.selection() != null && s.selection().get("description") != null) kv(b, "selection", str(s.selection().get("description")));
        if (s.attributionTarget() != null) kv(b, "attribution target", s.attributionTarget().description());
        if (s.device() != null) kv(b, "device", s.device());
        if (s.resolved() != null) for (Map.Entry<String, Object> e : s.resolved().entrySet()) kv(b, e.getKey().replace('_', ' '), str(e.getValue()));
        if (s.flipPaths() != null) kv(b, "flip evaluation", s.flipPaths().description());
        Object options = s.run().get("options");
        if (options instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) kv(b, "option " + e.getKey(), str(e.getValue()));
        }
        for (String k : List.of("model", "dataset", "started", "resumed", "engine", "java_version")) {
            if (s.run().get(k) != null && !str(s.run().get(k)).isEmpty()) kv(b, k, str(s.run().get(k)));
        }
        Object fp = s.run().get("model_fingerprint");
        if (fp instanceof Map<?, ?> m && m.get("sha256") != null) kv(b, "config.json sha256", str(m.get("sha256")));
        fp = s.run().get("dataset_fingerprint");
        if (fp instanceof Map<?, ?> m && m.get("sha256") != null) kv(b, "dataset sha256", str(m.get("sha256")) + " (" + str(m.get("bytes")) + " bytes)");
        kv(b, "bootstrap", s.bootstrap().resamples() + " resamples, seed " + s.bootstrap().seed() + ", "
                + fmt(100 * s.bootstrap().level(), 0) + "% percentile intervals");
        b.append("</table></section>\n");
    }

    private static void labelSection(StringBuilder b, Summary s) {
        Summary.Labels l = s.labels();
        b.append("<section id=\"labels\"><h2>Label bias diagnostics</h2>");
        if (l.bias().flagged()) b.append("<p class=\"warn\">").append(esc(l.bias().warning())).append("</p>");
        else b.append("<p>No label takes more than ").append(fmt(100 * l.bias().threshold(), 0))
                .append("% of the predictions. Flip rates are comparable across methods only when predictions depend on the input.</p>");
        b.append("<p>Accuracy <b>").append(fmt(l.accuracy(), 3)).append("</b> ").append(ci(l.accuracyCi()))
                .append(" over ").append(l.accuracyCi().n()).append(" evaluated examples.</p>");
        b.append("<div class=\"row\"><div>").append(distributionSvg(l)).append("</div><div><h3>Confusion matrix</h3>")
                .append("<table class=\"cm\"><tr><th>gold \\ predicted</th>");
        List<String> labs = l.confusion().labels();
        long max = 1;
        for (long[] r : l.confusion().counts()) for (long v : r) max = Math.max(max, v);
        for (String p : labs) b.append("<th>").append(esc(p)).append("</th>");
        b.append("<th>total</th></tr>");
        for (int g = 0; g < labs.size(); g++) {
            b.append("<tr><th>").append(esc(labs.get(g))).append("</th>");
            long tot = 0;
            for (int p = 0; p < labs.size(); p++) {
                long v = l.confusion().counts()[g][p];
                tot += v;
                double a = 0.08 + 0.72 * v / max;
                b.append("<td style=\"background:rgba(37,99,235,").append(fmt(v == 0 ? 0 : a, 3)).append(")")
                        .append(v > 0 && a > 0.5 ? ";color:#fff" : "").append("\"").append(g == p ? " class=\"diag\"" : "")
                        .append(">").append(v).append("</td>");
            }
            b.append("<td>").append(tot).append("</td></tr>");
        }
        b.append("</table></div></div></section>\n");
    }

    private static String distributionSvg(Summary.Labels l) {
        List<String> labs = l.labels();
        int rowH = 34, left = 130, width = 460, top = 28;
        int h = top + rowH * labs.size() + 10;
        StringBuilder b = new StringBuilder();
        b.append("<h3>Gold vs predicted labels</h3><svg class=\"chart\" width=\"").append(width).append("\" height=\"").append(h)
                .append("\" viewBox=\"0 0 ").append(width).append(' ').append(h).append("\" role=\"img\" aria-label=\"label distribution\">");
        b.append("<rect x=\"").append(left).append("\" y=\"6\" width=\"12\" height=\"10\" fill=\"#9ca3af\"/><text x=\"")
                .append(left + 16).append("\" y=\"15\">gold</text><rect x=\"").append(left + 70)
                .append("\" y=\"6\" width=\"12\" height=\"10\" fill=\"#2563eb\"/><text x=\"").append(left + 86).append("\" y=\"15\">predicted</text>");
        double span = width - left - 60;
        for (int i = 0; i < labs.size(); i++) {
            String lab = labs.get(i);
            double g = nz(l.goldDistribution().get(lab)), p = nz(l.predictedDistribution().get(lab));
            int y = top + i * rowH;
            b.append("<text x=\"").append(left - 6).append("\" y=\"").append(y + 19).append("\" text-anchor=\"end\">")
                    .append(esc(shorten(lab, 20))).append("</text>");
            b.append("<rect x=\"").append(left).append("\" y=\"").append(y + 2).append("\" width=\"").append(fmt(span * g, 1))
                    .append("\" height=\"12\" fill=\"#9ca3af\"><title>gold ").append(esc(lab)).append(": ").append(pct(g)).append("</title></rect>");
            b.append("<text x=\"").append(fmt(left + span * g + 4, 1)).append("\" y=\"").append(y + 12).append("\" class=\"small\">").append(pct(g)).append("</text>");
            b.append("<rect x=\"").append(left).append("\" y=\"").append(y + 16).append("\" width=\"").append(fmt(span * p, 1))
                    .append("\" height=\"12\" fill=\"#2563eb\"><title>predicted ").append(esc(lab)).append(": ").append(pct(p)).append("</title></rect>");
            b.append("<text x=\"").append(fmt(left + span * p + 4, 1)).append("\" y=\"").append(y + 26).append("\" class=\"small\">").append(pct(p)).append("</text>");
        }
        return b.append("</svg>").toString();
    }

    private static void summarySection(StringBuilder b, Summary s) {
        // narrow enough for a 1400-px window: headers wrap, each interval sits under its mean, P/R under F1 and
        // the two AOPC values share a column
        boolean completeness = s.methods().values().stream().anyMatch(m -> m.completeness() != null);
        boolean prompting = s.methods().values().stream().anyMatch(m -> m.prompting() != null);
        b.append("<section id=\"summary\"><h2>Summary</h2>");
        if (s.attributionTarget() != null) b.append("<p>").append(esc(capitalize(s.attributionTarget().description()))).append(".</p>");
        b.append("<div class=\"scroll\"><table class=\"grid summary\"><tr><th>method<br><span class=\"ci\">kind</span></th><th>n</th>")
                .append("<th>alignment F1 [95% CI]<br><span class=\"ci\">P / R</span></th><th>IOU-F1</th><th>AUPRC [CI]</th>")
                .append("<th>flip rate [CI]</th><th>comprehen&shy;siveness [CI]</th><th>sufficiency [CI]</th>")
                .append("<th>AOPC comp. / suff.</th><th>mean k</th>");
        if (completeness) b.append("<th>IG completeness error<br><span class=\"ci\">mean (max)</span></th>");
        if (prompting) b.append("<th>unparseable answers</th>");
        b.append("</tr>");
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            Summary.MethodSummary m = e.getValue();
            b.append("<tr").append(e.getKey().equals(Summary.RANDOM) ? " class=\"baseline\"" : "").append("><th>").append(esc(e.getKey()))
                    .append("<br><span class=\"ci\">").append(esc(m.kind())).append("</span></th><td>").append(m.examples()).append("</td>");
            b.append("<td>").append(statCell(m.alignment().f1())).append("<br><span class=\"ci\">").append(fmt(m.alignment().precision(), 3))
                    .append(" / ").append(fmt(m.alignment().recall(), 3)).append("</span></td><td>").append(fmt(m.iouF1().f1(), 3)).append("</td>");
            b.append("<td>").append(statCell(m.auprc())).append("</td><td>").append(statCell(m.flipRate())).append("</td><td>")
                    .append(statCell(m.comprehensiveness())).append("</td><td>").append(statCell(m.sufficiency())).append("</td><td>")
                    .append(fmt(m.aopcComprehensiveness().mean(), 3)).append(" / ").append(fmt(m.aopcSufficiency().mean(), 3))
                    .append("</td><td>").append(fmt(m.meanK(), 1)).append("</td>");
            if (completeness) {
                Summary.Completeness c = m.completeness();
                b.append("<td>");
                if (c == null) b.append("&ndash;");
                else {
                    b.append(pct(c.error().mean())).append(" (").append(pct(c.max())).append(")");
                    if (c.overWarning() > 0) b.append("<br><span class=\"ci\">").append(c.overWarning()).append(" above ")
                            .append(fmt(100 * Summary.COMPLETENESS_WARNING, 0)).append("%</span>");
                }
                b.append("</td>");
            }
            if (prompting) {
                b.append("<td>");
                if (m.prompting() != null) {
                    b.append(m.prompting().unparseable()).append(" of ").append(m.prompting().answers());
                    if (m.prompting().unmatchedWords() > 0) b.append("<br><span class=\"ci\">").append(m.prompting().unmatchedWords()).append(" unmatched</span>");
                } else b.append("&ndash;");
                b.append("</td>");
            }
            b.append("</tr>");
        }
        b.append("</table></div><p class=\"small\">Alignment: macro word P/R/F1 against the human rationale (examples with one). ")
                .append("Flip rate: share of ALL evaluated examples whose predicted label changes when the rationale is masked. ")
                .append("Comprehensiveness p<sub>y</sub>(x) &minus; p<sub>y</sub>(x&#8726;r), sufficiency p<sub>y</sub>(x) &minus; p<sub>y</sub>(r). ")
                .append("The random baseline masks as many random words.");
        if (completeness) b.append(" IG completeness error: |&Sigma; scores &minus; (f(x) &minus; f(baseline))| / |f(x) &minus; f(baseline)| per example.");
        b.append("</p></section>\n");
    }

    private static String capitalize(String s) {
        return s == null || s.isEmpty() ? "" : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    private static void plotSection(StringBuilder b, Summary s, Map<String, String> colors) {
        List<Bar> f1 = new ArrayList<>(), flip = new ArrayList<>();
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            f1.add(new Bar(e.getKey(), colors.get(e.getKey()), e.getValue().alignment().f1()));
            flip.add(new Bar(e.getKey(), colors.get(e.getKey()), e.getValue().flipRate()));
        }
        b.append("<section id=\"plots\"><h2>Alignment and faithfulness per method</h2><div class=\"row\">")
                .append("<div><h3>Alignment F1 (macro, 95% CI)</h3>").append(barChart(f1, "alignment F1")).append("</div>")
                .append("<div><h3>Flip rate (all examples, 95% CI)</h3>").append(barChart(flip, "flip rate")).append("</div>")
                .append("</div></section>\n");
    }

    private record Bar(String label, String color, Summary.Stat stat) {}

    private static String barChart(List<Bar> bars, String what) {
        int left = 150, right = 70, width = 480, rowH = 28, top = 10, axis = 26;
        int h = top + rowH * bars.size() + axis;
        double max = 0;
        for (Bar bar : bars) max = Math.max(max, Math.max(nz(bar.stat.mean()), nz(bar.stat.upper())));
        double xmax = niceMax(max);
        double span = width - left - right;
        StringBuilder b = new StringBuilder();
        b.append("<svg class=\"chart\" width=\"").append(width).append("\" height=\"").append(h).append("\" viewBox=\"0 0 ")
                .append(width).append(' ').append(h).append("\" role=\"img\" aria-label=\"").append(esc(what)).append(" per method\">");
        int axisY = top + rowH * bars.size();
        double tick = tickStep(xmax);
        for (int t = 0; t * tick <= xmax + 1e-9; t++) {
            double v = t * tick, x = left + span * v / xmax;
            b.append("<line x1=\"").append(fmt(x, 1)).append("\" y1=\"").append(top).append("\" x2=\"").append(fmt(x, 1)).append("\" y2=\"")
                    .append(axisY).append("\" class=\"gridline\"/><text x=\"").append(fmt(x, 1)).append("\" y=\"").append(axisY + 16)
                    .append("\" text-anchor=\"middle\" class=\"small\">").append(fmt(v, tick < 0.05 ? 2 : 1)).append("</text>");
        }
        for (int i = 0; i < bars.size(); i++) {
            Bar bar = bars.get(i);
            int y = top + i * rowH;
            b.append("<text x=\"").append(left - 6).append("\" y=\"").append(y + 18).append("\" text-anchor=\"end\">").append(esc(shorten(bar.label, 22))).append("</text>");
            if (!Double.isFinite(bar.stat.mean())) {
                b.append("<text x=\"").append(left + 4).append("\" y=\"").append(y + 18).append("\" class=\"small\">n/a</text>");
                continue;
            }
            double w = span * bar.stat.mean() / xmax;
            b.append("<rect x=\"").append(left).append("\" y=\"").append(y + 6).append("\" width=\"").append(fmt(w, 1))
                    .append("\" height=\"16\" fill=\"").append(bar.color).append("\" opacity=\"0.85\"><title>").append(esc(bar.label)).append(": ")
                    .append(fmt(bar.stat.mean(), 3)).append(' ').append(ci(bar.stat)).append(", n=").append(bar.stat.n()).append("</title></rect>");
            double lo = left + span * nz(bar.stat.lower()) / xmax, hi = left + span * nz(bar.stat.upper()) / xmax;
            int cy = y + 14;
            b.append("<path d=\"M").append(fmt(lo, 1)).append(' ').append(cy).append("H").append(fmt(hi, 1))
                    .append("M").append(fmt(lo, 1)).append(' ').append(cy - 6).append("V").append(cy + 6)
                    .append("M").append(fmt(hi, 1)).append(' ').append(cy - 6).append("V").append(cy + 6).append("\" class=\"whisker\"/>");
            b.append("<text x=\"").append(fmt(Math.max(hi, left + w) + 5, 1)).append("\" y=\"").append(y + 18).append("\" class=\"small\">")
                    .append(fmt(bar.stat.mean(), 3)).append("</text>");
        }
        return b.append("</svg>").toString();
    }

    private static void curveSection(StringBuilder b, Summary s, Map<String, String> colors) {
        List<String> fr = s.curveFractions();
        b.append("<section id=\"curve\"><h2>Flip rate versus k</h2>");
        if (fr.isEmpty()) {
            b.append("<p>No masking outcomes per fraction yet.</p></section>\n");
            return;
        }
        int left = 50, top = 14, plotW = 420, plotH = 220, legend = 190;
        int width = left + plotW + 20 + legend, h = top + plotH + 44;
        double max = 0;
        for (Summary.MethodSummary m : s.methods().values()) for (Summary.Stat st : m.flipRateByFraction().values()) max = Math.max(max, nz(st.mean()));
        double ymax = niceMax(max);
        b.append("<p>The top fraction k of the example's words in the method's ranking is masked; ")
                .append("the share of ALL examples whose prediction flips. The random baseline is dashed.</p>");
        b.append("<svg class=\"chart\" width=\"").append(width).append("\" height=\"").append(h).append("\" viewBox=\"0 0 ").append(width)
                .append(' ').append(h).append("\" role=\"img\" aria-label=\"flip rate versus k\">");
        double tick = tickStep(ymax);
        for (int t = 0; t * tick <= ymax + 1e-9; t++) {
            double y = top + plotH - plotH * t * tick / ymax;
            b.append("<line x1=\"").append(left).append("\" y1=\"").append(fmt(y, 1)).append("\" x2=\"").append(left + plotW).append("\" y2=\"")
                    .append(fmt(y, 1)).append("\" class=\"gridline\"/><text x=\"").append(left - 6).append("\" y=\"").append(fmt(y + 4, 1))
                    .append("\" text-anchor=\"end\" class=\"small\">").append(fmt(t * tick, tick < 0.05 ? 2 : 1)).append("</text>");
        }
        double step = fr.size() == 1 ? 0 : (double) plotW / (fr.size() - 1);
        for (int i = 0; i < fr.size(); i++) {
            double x = fr.size() == 1 ? left + plotW / 2.0 : left + i * step;
            b.append("<text x=\"").append(fmt(x, 1)).append("\" y=\"").append(top + plotH + 18).append("\" text-anchor=\"middle\" class=\"small\">")
                    .append(esc(fractionLabel(fr.get(i)))).append("</text>");
        }
        b.append("<text x=\"").append(left + plotW / 2).append("\" y=\"").append(top + plotH + 38).append("\" text-anchor=\"middle\">k (fraction of words masked)</text>");
        int li = 0;
        for (Map.Entry<String, Summary.MethodSummary> e : s.methods().entrySet()) {
            String name = e.getKey(), color = colors.get(name);
            StringBuilder pts = new StringBuilder(), dots = new StringBuilder();
            for (int i = 0; i < fr.size(); i++) {
                Summary.Stat st = e.getValue().flipRateByFraction().get(fr.get(i));
                if (st == null || !Double.isFinite(st.mean())) continue;
                double x = fr.size() == 1 ? left + plotW / 2.0 : left + i * step, y = top + plotH - plotH * st.mean() / ymax;
                pts.append(pts.isEmpty() ? "" : " ").append(fmt(x, 1)).append(',').append(fmt(y, 1));
                dots.append("<circle cx=\"").append(fmt(x, 1)).append("\" cy=\"").append(fmt(y, 1)).append("\" r=\"3.5\" fill=\"").append(color)
                        .append("\"><title>").append(esc(name)).append(", k=").append(esc(fractionLabel(fr.get(i)))).append(": ")
                        .append(fmt(st.mean(), 3)).append(' ').append(ci(st)).append("</title></circle>");
            }
            if (pts.isEmpty()) continue;
            b.append("<polyline points=\"").append(pts).append("\" fill=\"none\" stroke=\"").append(color).append("\" stroke-width=\"2\"")
                    .append(name.equals(Summary.RANDOM) ? " stroke-dasharray=\"6 4\"" : "").append("/>").append(dots);
            int ly = top + 8 + li * 20;
            b.append("<line x1=\"").append(left + plotW + 20).append("\" y1=\"").append(ly).append("\" x2=\"").append(left + plotW + 44)
                    .append("\" y2=\"").append(ly).append("\" stroke=\"").append(color).append("\" stroke-width=\"2\"")
                    .append(name.equals(Summary.RANDOM) ? " stroke-dasharray=\"6 4\"" : "").append("/><text x=\"").append(left + plotW + 50)
                    .append("\" y=\"").append(ly + 4).append("\">").append(esc(shorten(name, 22))).append("</text>");
            li++;
        }
        b.append("</svg></section>\n");
    }

    private static void testSection(StringBuilder b, Summary s) {
        b.append("<section id=\"tests\"><h2>Paired bootstrap tests</h2>");
        if (s.pairedTests().isEmpty()) {
            b.append("<p>No pair of methods has common defined values yet.</p></section>\n");
            return;
        }
        b.append("<p class=\"small\">Difference a &minus; b over the examples where both are defined; two-sided p from ")
                .append(s.bootstrap().resamples()).append(" resamples (0 means below 1/").append(s.bootstrap().resamples()).append(").</p>")
                .append("<div class=\"scroll\"><table class=\"grid\"><tr><th>a</th><th>b</th><th>metric</th><th>n</th><th>mean a</th><th>mean b</th>")
                .append("<th>a &minus; b [95% CI]</th><th>p</th></tr>");
        for (Summary.PairedTest t : s.pairedTests()) {
            boolean vsRandom = t.a().equals(Summary.RANDOM) || t.b().equals(Summary.RANDOM);
            b.append("<tr").append(vsRandom ? " class=\"baseline\"" : "").append("><td>").append(esc(t.a())).append("</td><td>").append(esc(t.b()))
                    .append("</td><td>").append(t.metric().equals("f1") ? "alignment F1" : "flip").append("</td><td>").append(t.n())
                    .append("</td><td>").append(fmt(t.meanA(), 3)).append("</td><td>").append(fmt(t.meanB(), 3)).append("</td><td>")
                    .append(fmt(t.difference(), 3)).append(" [").append(fmt(t.lower(), 3)).append(", ").append(fmt(t.upper(), 3))
                    .append("]</td><td").append(t.pValue() < 0.05 ? " class=\"sig\"" : "").append(">").append(fmt(t.pValue(), 3)).append("</td></tr>");
        }
        b.append("</table></div></section>\n");
    }

    private static void skipSection(StringBuilder b, Summary s) {
        b.append("<section id=\"skipped\"><h2>Skipped</h2>");
        if (s.skipped().dataset().isEmpty() && s.skipped().evaluator().isEmpty()) {
            b.append("<p>Nothing was skipped.</p></section>\n");
            return;
        }
        b.append("<table class=\"grid\"><tr><th>where</th><th>reason</th><th>count</th></tr>");
        for (Map.Entry<String, Integer> e : s.skipped().dataset().entrySet())
            b.append("<tr><td>dataset loader</td><td>").append(esc(e.getKey())).append("</td><td>").append(e.getValue()).append("</td></tr>");
        for (Map.Entry<String, Integer> e : s.skipped().evaluator().entrySet())
            b.append("<tr><td>evaluator</td><td>").append(esc(e.getKey())).append("</td><td>").append(e.getValue()).append("</td></tr>");
        b.append("</table></section>\n");
    }

    private static void exampleSection(StringBuilder b, Summary s, List<ExampleResult> results) {
        List<String> methods = new ArrayList<>(s.methods().keySet());
        b.append("<section id=\"examples\"><h2>Examples</h2>");
        int shown = Math.min(MAX_EXAMPLES, results.size());
        b.append("<p class=\"small\">Showing ").append(shown).append(" of ").append(results.size()).append(" examples");
        if (results.size() > MAX_EXAMPLES) b.append(" (the first ").append(MAX_EXAMPLES).append("; every result is in examples.jsonl)");
        b.append(". Word colour: the method's score, scaled by the largest |score| of that example (red positive, blue negative; ")
                .append("prompting methods: amber = the words the model named). <span class=\"w h\">outlined</span> = human rationale, ")
                .append("<span class=\"w r\">underlined bold</span> = the method's top-k rationale.</p>");
        b.append("<p><label for=\"msel\">Method: </label><select id=\"msel\"><option value=\"\">all methods, stacked</option>");
        for (String m : methods) b.append("<option value=\"").append(esc(m)).append("\">").append(esc(m)).append("</option>");
        b.append("</select></p>");
        for (int i = 0; i < shown; i++) example(b, results.get(i), methods);
        b.append("</section>\n");
    }

    private static void example(StringBuilder b, ExampleResult r, List<String> methods) {
        b.append("<div class=\"ex\"><div class=\"exhead\"><b>#").append(r.index()).append("</b> <code>").append(esc(r.id())).append("</code>");
        if (r.skipped() != null) {
            b.append(" <span class=\"skip\">skipped: ").append(esc(r.skipped())).append("</span></div>");
            if (r.words() != null) {
                b.append("<div class=\"words\">");
                words(b, r, null, Set.of());
                b.append("</div>");
            }
            b.append("</div>\n");
            return;
        }
        boolean right = r.gold() != null && r.gold().equals(r.predicted());
        b.append(" gold <span class=\"lab\">").append(esc(r.gold())).append("</span> predicted <span class=\"lab ")
                .append(right ? "right" : "wrong").append("\">").append(esc(r.predicted())).append("</span>");
        if (r.labelProbs() != null && !r.labelProbs().isEmpty()) {
            b.append(" <span class=\"small\">");
            boolean first = true;
            for (Map.Entry<String, Double> e : r.labelProbs().entrySet()) {
                b.append(first ? "" : " &middot; ").append(esc(e.getKey())).append(' ').append(fmt(nz(e.getValue()), 2));
                first = false;
            }
            b.append("</span>");
        }
        b.append("</div>");
        Set<Integer> human = r.human() == null ? Set.of() : new HashSet<>(r.human());
        if (r.human() == null) b.append("<div class=\"small\">no human rationale</div>");
        for (String m : methods) {
            ExampleResult.MethodResult mr = r.methods() == null ? null : r.methods().get(m);
            if (mr == null) continue;
            b.append("<div class=\"mrow\" data-m=\"").append(esc(m)).append("\"><div class=\"mname\"");
            if (mr.raw() != null) b.append(" title=\"answer: ").append(esc(shorten(mr.raw(), 400))).append("\"");
            b.append(">").append(esc(m)).append("<div class=\"small\">").append(methodStats(mr)).append("</div></div><div class=\"words\">");
            words(b, r, mr, human);
            b.append("</div></div>");
        }
        b.append("</div>\n");
    }

    private static String methodStats(ExampleResult.MethodResult mr) {
        StringBuilder b = new StringBuilder("k=").append(mr.k());
        if (mr.alignment() != null) b.append(" &middot; F1 ").append(fmt(mr.alignment().f1(), 2));
        if (mr.faithfulness() != null && mr.faithfulness().main() != null) {
            b.append(mr.faithfulness().main().flipped() ? " &middot; <b>flipped</b> to " + esc(mr.faithfulness().main().predictedWithout()) : " &middot; no flip");
        }
        if (mr.unparsed() != null && !mr.unparsed().isEmpty()) b.append(" &middot; unmatched: ").append(esc(shorten(String.join(" ", mr.unparsed()), 60)));
        return b.toString();
    }

    private static void words(StringBuilder b, ExampleResult r, ExampleResult.MethodResult mr, Set<Integer> human) {
        List<ExampleResult.WordRef> ws = r.words() == null ? List.of() : r.words();
        double[] scores = mr == null ? null : mr.scores();
        double max = 0;
        if (scores != null) for (double v : scores) if (Double.isFinite(v)) max = Math.max(max, Math.abs(v));
        Set<Integer> rat = new HashSet<>();
        if (mr != null && mr.rationale() != null) for (int w : mr.rationale()) rat.add(w);
        Map<Integer, Integer> rank = new HashMap<>();
        if (mr != null && mr.ranking() != null) for (int i = 0; i < mr.ranking().length; i++) rank.putIfAbsent(mr.ranking()[i], i + 1);
        String field = null;
        for (int i = 0; i < ws.size(); i++) {
            ExampleResult.WordRef w = ws.get(i);
            if (w.field() != null && !w.field().equals(field)) {
                field = w.field();
                b.append("<span class=\"field\">").append(esc(field)).append("</span> ");
            }
            String cls = "w" + (human.contains(i) ? " h" : "") + (rat.contains(i) ? " r" : "");
            String bg = null;
            StringBuilder title = new StringBuilder("word ").append(i);
            if (scores != null && i < scores.length) {
                double v = scores[i];
                title.append(" · score ").append(Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "n/a");
                if (max > 0 && Double.isFinite(v) && v != 0) {
                    double a = 0.08 + 0.77 * Math.abs(v) / max;
                    bg = (v > 0 ? "rgba(220,38,38," : "rgba(37,99,235,") + fmt(a, 3) + ")";
                }
            } else if (mr != null && scores == null && rat.contains(i)) {
                bg = "rgba(217,119,6,0.55)";
            }
            if (rank.containsKey(i)) title.append(" · rank ").append(rank.get(i));
            if (rat.contains(i)) title.append(" · in the rationale");
            if (human.contains(i)) title.append(" · human rationale");
            b.append("<span class=\"").append(cls).append("\"");
            if (bg != null) b.append(" style=\"background:").append(bg).append("\"");
            b.append(" title=\"").append(esc(title.toString())).append("\">").append(esc(w.text())).append("</span> ");
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /** HTML text and attribute escaping: {@code & < > " '}. */
    public static String esc(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> {
                    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') b.append('\uFFFD');
                    else b.append(c);
                }
            }
        }
        return b.toString();
    }

    private static Map<String, String> colors(Summary s) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String m : s.methods().keySet()) out.put(m, color(m));
        return out;
    }

    /** The colour of a method, by its name alone. */
    static String color(String method) {
        String c = METHOD_COLORS.get(method);
        return c != null ? c : PALETTE[Math.floorMod(method.hashCode(), PALETTE.length)];
    }

    private static void kv(StringBuilder b, String k, String v) {
        b.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>");
    }

    private static String statCell(Summary.Stat s) {
        if (!Double.isFinite(s.mean())) return "n/a";
        return fmt(s.mean(), 3) + "<br><span class=\"ci\">" + ci(s) + "</span>";
    }

    private static String ci(Summary.Stat s) {
        if (!Double.isFinite(s.lower())) return "";
        return "[" + fmt(s.lower(), 3) + ", " + fmt(s.upper(), 3) + "]";
    }

    /** {@code v} with {@code digits} decimals; a value that rounds to zero is "0.000", never "-0.000". */
    static String fmt(double v, int digits) {
        if (!Double.isFinite(v)) return "n/a";
        String out = String.format(Locale.ROOT, "%." + digits + "f", v);
        return out.startsWith("-") && out.chars().noneMatch(c -> c >= '1' && c <= '9') ? out.substring(1) : out;
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "n/a";
    }

    private static double nz(Double v) {
        return v == null || !Double.isFinite(v) ? 0 : v;
    }

    /** The smallest of 0.05, 0.1, 0.2, 0.25, 0.5, 1 (then multiples of 1) at least v; 1 for v = 0. */
    static double niceMax(double v) {
        if (!(v > 0)) return 1;
        for (double c : new double[]{0.05, 0.1, 0.2, 0.25, 0.5, 1}) if (v <= c) return c;
        return Math.ceil(v);
    }

    /** A round tick step giving at most 5 intervals up to {@code max}. */
    static double tickStep(double max) {
        for (double c : new double[]{0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1}) if (max / c <= 5 + 1e-9) return c;
        return Math.ceil(max / 5);
    }

    private static String fractionLabel(String key) {
        double f = Summary.fraction(key);
        if (!Double.isFinite(f)) return key;
        double p = 100 * f;
        return (p == Math.rint(p) ? Long.toString(Math.round(p)) : String.format(Locale.ROOT, "%.1f", p)) + "%";
    }

    private static String shorten(String s, int max) {
        if (s == null) return "";
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    private static String str(Object o) {
        if (o == null) return "";
        if (o instanceof List<?> l) {
            List<String> parts = new ArrayList<>();
            for (Object x : l) parts.add(str(x));
            return String.join(", ", parts);
        }
        return o.toString();
    }

    private static final String CSS = """
            :root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#fff}
            *{box-sizing:border-box}
            body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
            header{padding:16px 24px 8px;border-bottom:1px solid var(--line);background:#f9fafb}
            h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px} h3{font-size:14px;margin:8px 0}
            .sub{margin:0;color:var(--muted)} nav a{margin-right:14px;font-size:13px;color:#2563eb;text-decoration:none}
            main{padding:0 24px 40px;max-width:1400px}
            code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
            table{border-collapse:collapse} th,td{padding:4px 8px;text-align:left;vertical-align:top}
            table.kv th{color:var(--muted);font-weight:500;white-space:nowrap} table.kv td{word-break:break-all}
            table.grid th,table.grid td{border-bottom:1px solid var(--line);white-space:nowrap} table.grid tr:first-child th{border-bottom:2px solid #d1d5db;font-size:12px}
            table.summary tr:first-child th{white-space:normal;min-width:60px;max-width:120px;vertical-align:bottom} table.summary td{font-size:13px}
            tr.baseline{color:#4b5563;background:#f9fafb} .ci{color:var(--muted);font-size:12px} td.sig{font-weight:700}
            table.cm td{text-align:center;min-width:56px;border:1px solid var(--line)} table.cm td.diag{outline:2px solid #111827;outline-offset:-2px} table.cm th{font-size:12px}
            .warn{background:#fef2f2;border:1px solid #fca5a5;color:#991b1b;padding:10px 12px;border-radius:6px;font-weight:600}
            .note{background:#fffbeb;border:1px solid #fcd34d;padding:6px 10px;border-radius:6px}
            .small{font-size:12px;color:var(--muted)} .scroll{overflow-x:auto}
            .row{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
            svg.chart{font-size:12px;fill:var(--fg)} svg .small{font-size:11px;fill:var(--muted)} svg .gridline{stroke:#e5e7eb} svg .whisker{stroke:#111827;stroke-width:1.5;fill:none}
            .ex{border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:10px 0}
            .exhead{margin-bottom:6px} .lab{font-weight:600;padding:0 4px;border-radius:3px;background:#f3f4f6} .lab.right{background:#dcfce7} .lab.wrong{background:#fee2e2}
            .skip{color:#92400e}
            .mrow{display:flex;gap:12px;padding:4px 0;border-top:1px dashed var(--line)} .mname{flex:0 0 150px;font-weight:600;font-size:12px;word-break:break-all}
            .words{flex:1;line-height:1.9} .field{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;margin-left:4px}
            .w{padding:1px 2px;border-radius:3px} .w.h{outline:2px solid #15803d;outline-offset:0} .w.r{font-weight:700;text-decoration:underline}
            """;

    private static final String SCRIPT = """
            (function(){var s=document.getElementById('msel');if(!s)return;
            s.addEventListener('change',function(){var v=s.value;var rows=document.querySelectorAll('.mrow');
            for(var i=0;i<rows.length;i++){rows[i].style.display=(!v||rows[i].getAttribute('data-m')===v)?'':'none';}});})();
            """;
}
