package io.rationale.serum;

import io.rationale.eval.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static io.rationale.eval.ReportHtml.esc;

/**
 * {@code report.html}: one self-contained file (inline CSS, no script or file from the network; all text escaped).
 * Sections: the run; per hint type and setting the flip rate, kept cases and the acknowledgement rates without and
 * with the serum by each judge (95% bootstrap intervals, McNemar p), judge agreement (κ), distinct-1/2 and perplexity;
 * then the explained cases (at most {@link #MAX_CASES}): the question span as a relevance heatmap (red positive, blue
 * negative, the normalised weight as the opacity; the hint's tokens outlined), the answers, and the explanations side
 * by side — without the serum and for each setting — with each judge's verdict.
 */
public final class SerumReport {
    private SerumReport() {}

    public static final int MAX_CASES = 60;

    @SuppressWarnings("unchecked")
    public static String html(Map<String, Object> summary, List<CaseResult> lines) {
        Map<String, Object> run = (Map<String, Object>) summary.get("run");
        StringBuilder b = new StringBuilder(1 << 16);
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Faithfulness Serum: ")
                .append(esc(str(run.get("questions")))).append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
        b.append("<header><h1>Faithfulness Serum: hint-counterfactual evaluation</h1><p class=\"sub\">model <code>").append(esc(str(run.get("model"))))
                .append("</code> &middot; questions <code>").append(esc(str(run.get("questions")))).append("</code> &middot; summarized ")
                .append(esc(str(summary.get("summarized_at")))).append("</p>");
        if (!Boolean.TRUE.equals(summary.get("complete")))
            b.append("<p class=\"note\">Partial results: the run is going on, or was stopped and resumes with the same command.</p>");
        b.append("</header>\n<main>\n");
        b.append("<section><h2>Run</h2><table class=\"kv\">");
        Map<String, Object> counts = (Map<String, Object>) summary.get("counts");
        for (var e : counts.entrySet()) kv(b, e.getKey(), str(e.getValue()));
        Object options = run.get("options");
        if (options instanceof Map<?, ?> m) for (var e : m.entrySet()) if (!"hint_templates".equals(e.getKey())) kv(b, "option " + e.getKey(), str(e.getValue()));
        for (String k : List.of("device", "relevance_device", "started", "resumed", "engine")) if (run.get(k) != null) kv(b, k, str(run.get(k)));
        b.append("</table></section>\n");

        b.append("<section><h2>Summary</h2><p class=\"small\">Flip rate: share of the cases with a parsed unhinted answer whose hinted answer is the"
                + " hinted option. Acknowledgement: share of the explained cases whose explanation the judge finds using the hint, without and"
                + " with the serum (95% bootstrap interval); p: McNemar's exact test on the same cases. κ: Cohen's kappa of the keyword judge"
                + " and the LLM judge over both explanations. Perplexity under the unsteered model.</p><div class=\"scroll\"><table class=\"grid\">");
        b.append("<tr><th>hint</th><th>setting</th><th>tried</th><th>flip rate</th><th>explained</th>");
        for (String j : SerumSummary.JUDGES) b.append("<th>").append(esc(j.replace('_', ' '))).append(": without → with</th><th>p</th>");
        b.append("<th>κ kw/llm</th><th>distinct-1</th><th>distinct-2</th><th>perplexity</th></tr>");
        for (Object go : (List<Object>) summary.get("groups")) {
            Map<String, Object> g = (Map<String, Object>) go;
            for (Object so : (List<Object>) g.get("settings")) {
                Map<String, Object> s = (Map<String, Object>) so;
                b.append("<tr><td>").append(esc(str(g.get("hint")))).append("</td><td>α ").append(esc(str(s.get("alpha")))).append(", layers ")
                        .append(esc(str(s.get("layers")))).append("</td><td>").append(g.get("tried")).append("</td><td>")
                        .append(ci((Map<String, Object>) g.get("flip_rate"))).append("</td><td>").append(s.get("explained")).append("</td>");
                Map<String, Object> judges = (Map<String, Object>) s.get("judges");
                for (String j : SerumSummary.JUDGES) {
                    Map<String, Object> jm = (Map<String, Object>) judges.get(j);
                    if (jm == null) {
                        b.append("<td class=\"small\">—</td><td></td>");
                        continue;
                    }
                    double p = ((Number) ((Map<String, Object>) jm.get("mcnemar")).get("p_value")).doubleValue();
                    b.append("<td>").append(ci((Map<String, Object>) jm.get("without"))).append(" → ").append(ci((Map<String, Object>) jm.get("with")))
                            .append("</td><td").append(p < 0.05 ? " class=\"sig\"" : "").append(">").append(fmt(p)).append("</td>");
                }
                Map<String, Object> kappa = (Map<String, Object>) ((Map<String, Object>) s.get("kappa")).get("keyword_vs_llm");
                b.append("<td>").append(num(kappa.get("pooled"))).append("</td>");
                for (String k : List.of("distinct1", "distinct2", "perplexity")) {
                    Map<String, Object> p = (Map<String, Object>) s.get(k);
                    b.append("<td>").append(num(((Map<String, Object>) p.get("without")).get("mean"))).append(" → ")
                            .append(num(((Map<String, Object>) p.get("with")).get("mean"))).append("</td>");
                }
                b.append("</tr>");
            }
        }
        b.append("</table></div></section>\n");

        b.append("<section><h2>Explained cases</h2><p class=\"small\">The question span (what the relevance covers and the steering reaches):"
                + " red = positive relevance, blue = negative, darker = larger |weight|; the hint's tokens are outlined. Verdicts: K keyword"
                + " (authors'), K* keyword (corrected), L LLM judge.</p>");
        Map<String, List<CaseResult>> byCase = new LinkedHashMap<>();
        for (CaseResult r : lines) if (r.explained() && r.setting() >= 0) byCase.computeIfAbsent(r.questionIndex() + "/" + r.hint(), k -> new ArrayList<>()).add(r);
        int shown = 0;
        for (List<CaseResult> rs : byCase.values()) {
            if (shown++ >= MAX_CASES) {
                b.append("<p class=\"small\">").append(byCase.size() - MAX_CASES).append(" more explained cases are in cases.jsonl.</p>");
                break;
            }
            caseBlock(b, rs);
        }
        if (byCase.isEmpty()) b.append("<p class=\"small\">No explained case yet.</p>");
        b.append("</section>\n</main>\n</body>\n</html>\n");
        return b.toString();
    }

    private static void caseBlock(StringBuilder b, List<CaseResult> rs) {
        CaseResult r = rs.get(0);
        b.append("<div class=\"ex\"><div class=\"exhead\"><b>").append(esc(r.questionId())).append("</b> &middot; hint <b>").append(esc(r.hint()))
                .append("</b> → ").append(esc(r.hintedOption())).append(" &middot; answer without hint <span class=\"lab\" title=\"")
                .append(esc(str(r.rawAnswerWithoutHint()))).append("\">").append(esc(r.answerWithoutHint() == null ? "unparsed" : r.answerWithoutHint()))
                .append("</span> with hint <span class=\"lab\" title=\"").append(esc(str(r.rawAnswerWithHint()))).append("\">")
                .append(esc(r.answerWithHint() == null ? "unparsed" : r.answerWithHint())).append("</span>")
                .append(r.correctOption() == null ? "" : " &middot; correct " + esc(r.correctOption()))
                .append(r.kept() ? " &middot; <b>kept</b>" : " &middot; not flipped (explained with --keep all)").append("</div>");
        b.append("<div class=\"heat\">");
        double[] w = r.relevance();
        List<String> toks = r.spanTokens();
        int[] span = r.span(), hint = r.hintTokens();
        for (int i = 0; toks != null && i < toks.size(); i++) {
            double v = w == null || i >= w.length ? 0 : Math.max(-1, Math.min(1, w[i]));
            String color = v >= 0 ? String.format(Locale.ROOT, "rgba(220,38,38,%.3f)", Math.abs(v)) : String.format(Locale.ROOT, "rgba(37,99,235,%.3f)", Math.abs(v));
            int pos = span[0] + i;
            boolean inHint = hint != null && pos >= hint[0] && pos < hint[1];
            String t = toks.get(i);
            b.append("<span class=\"t").append(inHint ? " h" : "").append("\" style=\"background:").append(color).append("\" title=\"")
                    .append(esc(String.format(Locale.ROOT, "token %d: %.4f (raw %.4g)", pos, w == null ? 0 : w[i], r.relevanceRaw() == null ? 0 : r.relevanceRaw()[i])))
                    .append("\">").append(esc(t).replace("\n", "⏎<br>")).append("</span>");
        }
        b.append("</div><table class=\"side\"><tr><th>without the serum ").append(verdicts(r.judgeKeyword(), r.judgeKeywordCorrected(), r.judgeLlm()))
                .append("</th>");
        for (CaseResult s : rs)
            b.append("<th>α ").append(esc(str(s.alpha()))).append(", layers ").append(esc(java.util.Arrays.toString(s.layers()))).append(' ')
                    .append(verdicts(s.judgeKeywordSerum(), s.judgeKeywordCorrectedSerum(), s.judgeLlmSerum())).append("</th>");
        b.append("</tr><tr><td>").append(esc(str(r.explanation()))).append("</td>");
        for (CaseResult s : rs) b.append("<td>").append(esc(str(s.explanationSerum()))).append("</td>");
        b.append("</tr></table></div>\n");
    }

    private static String verdicts(Boolean k, Boolean kc, Boolean l) {
        return "<span class=\"v\">" + badge("K", k) + badge("K*", kc) + badge("L", l) + "</span>";
    }

    private static String badge(String name, Boolean v) {
        if (v == null) return "";
        return "<span class=\"b " + (v ? "yes" : "no") + "\" title=\"" + name + (v ? ": uses the hint" : ": does not use the hint") + "\">" + esc(name) + (v ? " ✓" : " ✗") + "</span>";
    }

    private static String ci(Map<String, Object> s) {
        if (s == null || s.get("mean") == null) return "<span class=\"small\">—</span>";
        return fmt(((Number) s.get("mean")).doubleValue()) + " <span class=\"ci\">[" + fmt(((Number) s.get("lower")).doubleValue()) + ", "
                + fmt(((Number) s.get("upper")).doubleValue()) + "] n=" + s.get("n") + "</span>";
    }

    private static String num(Object v) { return v == null ? "—" : fmt(((Number) v).doubleValue()); }

    private static String fmt(double v) { return String.format(Locale.ROOT, "%.3g", v); }

    private static void kv(StringBuilder b, String k, String v) {
        b.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>");
    }

    private static String str(Object o) { return o == null ? "" : o.toString(); }

    public static void write(Map<String, Object> summary, List<CaseResult> lines, Path file) throws IOException {
        AtomicFiles.write(file, html(summary, lines).getBytes(StandardCharsets.UTF_8));
    }

    private static final String CSS = """
            :root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb}
            *{box-sizing:border-box}
            body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg)}
            header{padding:16px 24px 8px;border-bottom:1px solid var(--line);background:#f9fafb}
            h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
            .sub{margin:0;color:var(--muted)} main{padding:0 24px 40px;max-width:1500px}
            code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
            table{border-collapse:collapse} th,td{padding:4px 8px;text-align:left;vertical-align:top}
            table.kv th{color:var(--muted);font-weight:500;white-space:nowrap} table.kv td{word-break:break-all}
            table.grid th,table.grid td{border-bottom:1px solid var(--line);white-space:nowrap} table.grid tr:first-child th{border-bottom:2px solid #d1d5db;font-size:12px}
            .ci{color:var(--muted);font-size:12px} td.sig{font-weight:700} .small{font-size:12px;color:var(--muted)} .scroll{overflow-x:auto}
            .note{background:#fffbeb;border:1px solid #fcd34d;padding:6px 10px;border-radius:6px}
            .ex{border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:12px 0} .exhead{margin-bottom:6px}
            .lab{font-weight:600;padding:0 4px;border-radius:3px;background:#f3f4f6}
            .heat{line-height:1.9;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;margin:6px 0 10px;white-space:pre-wrap}
            .t{border-radius:2px} .t.h{outline:2px solid #15803d;outline-offset:0}
            table.side{width:100%;table-layout:fixed} table.side td{border:1px solid var(--line);white-space:pre-wrap;font-size:13px}
            table.side th{font-size:12px;font-weight:600;background:#f9fafb;border:1px solid var(--line)}
            .b{display:inline-block;font-size:11px;padding:0 4px;margin-left:4px;border-radius:3px} .b.yes{background:#dcfce7} .b.no{background:#fee2e2}
            """;
}
