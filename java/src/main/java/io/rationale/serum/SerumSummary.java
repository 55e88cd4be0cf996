package io.rationale.serum;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.eval.AtomicFiles;
import io.rationale.metrics.Bootstrap;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The aggregate of a serum run ({@code summary.json}, {@code summary.csv}): per hint type and over all of them
 * ("all"), and per steering setting. Keys are documented in docs/serum.md. Rates are means of 0/1 outcomes with
 * percentile-bootstrap 95% intervals ({@link Bootstrap}, 1000 resamples, its fixed seed); with/without-serum
 * comparisons are McNemar's exact test on the same cases ({@link SerumStats#mcnemar}); judge agreement is Cohen's κ.
 * Undefined numbers are null.
 */
public final class SerumSummary {
    private SerumSummary() {}

    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The judges, by the prefix of their case fields. */
    static final List<String> JUDGES = List.of("keyword", "keyword_corrected", "llm");

    /** The summary of {@code lines} (the selected questions' lines), for a run with {@code settings} and {@code hints}. */
    public static Map<String, Object> of(Map<String, Object> run, List<CaseResult> lines, List<SerumOptions.Setting> settings,
                                         List<String> hints, int selected, String now) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("run", run);
        out.put("summarized_at", now);
        Set<String> cases = new LinkedHashSet<>();
        int errors = 0, skipped = 0;
        for (CaseResult r : lines) {
            cases.add(r.questionIndex() + "/" + r.hint());
            if (r.failed()) errors++;
            else if (r.unanswered()) skipped++;
        }
        int expected = selected * hints.size();
        Map<String, Object> counts = new LinkedHashMap<>();
        counts.put("questions_selected", selected);
        counts.put("cases_expected", expected);
        counts.put("cases_done", cases.size());
        counts.put("lines", lines.size());
        counts.put("errors", errors);
        counts.put("skipped", skipped);
        out.put("counts", counts);
        out.put("complete", complete(lines, settings, hints, selected));
        List<Object> groups = new ArrayList<>();
        for (String h : hints) groups.add(group(h, lines.stream().filter(r -> r.hint().equals(h)).toList(), settings));
        if (hints.size() > 1) groups.add(group("all", lines, settings));
        out.put("groups", groups);
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("resamples", Bootstrap.DEFAULT_RESAMPLES);
        b.put("seed", Bootstrap.DEFAULT_SEED);
        b.put("level", Bootstrap.DEFAULT_LEVEL);
        out.put("bootstrap", b);
        return out;
    }

    /** Whether every selected (question, hint) has its line(s). */
    static boolean complete(List<CaseResult> lines, List<SerumOptions.Setting> settings, List<String> hints, int selected) {
        Map<String, Set<Integer>> have = new LinkedHashMap<>();
        for (CaseResult r : lines) have.computeIfAbsent(r.questionIndex() + "/" + r.hint(), k -> new LinkedHashSet<>()).add(r.setting());
        for (int q = 0; q < selected; q++)
            for (String h : hints) {
                Set<Integer> s = have.get(q + "/" + h);
                if (s == null) return false;
                if (!s.contains(-1) && s.size() < settings.size()) return false;
            }
        return true;
    }

    static Map<String, Object> group(String name, List<CaseResult> lines, List<SerumOptions.Setting> settings) {
        // one base line per case (its setting −1 line, else its first setting's)
        Map<String, CaseResult> base = new LinkedHashMap<>();
        for (CaseResult r : lines) base.merge(r.questionIndex() + "/" + r.hint(), r, (a, b) -> a.setting() <= b.setting() ? a : b);
        int tried = 0, errors = 0, skipped = 0, unhintedUnparsed = 0, hintedUnparsed = 0, toHint = 0, toOther = 0, bothParsed = 0, explained = 0, options = 0;
        List<Double> flip = new ArrayList<>();
        for (CaseResult r : base.values()) {
            if (r.failed()) {
                errors++;
                continue;
            }
            if (r.unanswered()) {                            // its answer prompt does not fit the model: not tried
                skipped++;
                continue;
            }
            tried++;
            options = Math.max(options, r.options());
            if (r.answerWithoutHint() == null) {
                unhintedUnparsed++;
                continue;
            }
            flip.add(r.kept() ? 1.0 : 0.0);
            if (r.answerWithHint() == null) {
                hintedUnparsed++;
                continue;
            }
            bothParsed++;
            if (r.answerWithHint().equals(r.hintedOption())) toHint++;
            else if (!r.answerWithHint().equals(r.answerWithoutHint())) toOther++;
        }
        for (CaseResult r : base.values()) if (r.explained()) explained++;
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("hint", name);
        g.put("tried", tried);
        g.put("errors", errors);
        g.put("skipped", skipped);
        g.put("unhinted_unparsed", unhintedUnparsed);
        g.put("hinted_unparsed", hintedUnparsed);
        g.put("flipped", (int) flip.stream().filter(v -> v == 1.0).count());
        g.put("flip_rate", stat(flip));
        g.put("switched_to_other", toOther);
        g.put("both_parsed", bothParsed);
        g.put("explained", explained);
        double chen = SerumStats.chenAlpha(toHint, toOther, bothParsed, options);
        g.put("chen_alpha", finite(chen));
        List<Object> per = new ArrayList<>();
        for (SerumOptions.Setting s : settings)
            per.add(setting(s, lines.stream().filter(r -> r.setting() == s.index() && r.explained()).toList(), chen));
        g.put("settings", per);
        return g;
    }

    static Map<String, Object> setting(SerumOptions.Setting s, List<CaseResult> rs, double chen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("setting", s.index());
        m.put("alpha", s.alpha());
        m.put("layers", s.layers().spec());
        m.put("explained", rs.size());
        List<CaseResult> kept = rs.stream().filter(CaseResult::kept).toList();
        m.put("kept", kept.size());
        // the paper's rates are over the kept cases (the hint changed the answer to the hinted option); with
        // --keep all the other explained cases are judged too, and their rates are given apart
        m.put("judges", judges(kept, chen));
        if (kept.size() < rs.size()) m.put("judges_explained", judges(rs, chen));
        Map<String, Object> unparsed = new LinkedHashMap<>();
        unparsed.put("without", (int) rs.stream().filter(r -> Boolean.FALSE.equals(r.judgeLlmParsed())).count());
        unparsed.put("with", (int) rs.stream().filter(r -> Boolean.FALSE.equals(r.judgeLlmSerumParsed())).count());
        m.put("llm_unparsed", unparsed);
        Map<String, Object> kappa = new LinkedHashMap<>();
        for (String k : List.of("keyword", "keyword_corrected")) kappa.put(k + "_vs_llm", kappas(rs, k));
        kappa.put("keyword_vs_keyword_corrected", kappas(rs, "keyword", "keyword_corrected"));
        m.put("kappa", kappa);
        m.put("distinct1", pair(rs, CaseResult::distinct1, CaseResult::distinct1Serum));
        m.put("distinct2", pair(rs, CaseResult::distinct2, CaseResult::distinct2Serum));
        m.put("perplexity", pair(rs, CaseResult::perplexity, CaseResult::perplexitySerum));
        m.put("explanation_tokens", pair(rs, r -> (double) r.explanationTokens(), r -> (double) r.explanationSerumTokens()));
        return m;
    }

    /** Per judge over {@code rs}: the rates without and with the serum, McNemar's test, the Chen-normalised rates. */
    private static Map<String, Object> judges(List<CaseResult> rs, double chen) {
        Map<String, Object> judges = new LinkedHashMap<>();
        for (String j : JUDGES) {
            List<CaseResult> ok = rs.stream().filter(r -> verdict(r, j, false) != null && verdict(r, j, true) != null).toList();
            if (ok.isEmpty()) {
                judges.put(j, null);
                continue;
            }
            boolean[] w = new boolean[ok.size()], x = new boolean[ok.size()];
            for (int i = 0; i < ok.size(); i++) {
                w[i] = verdict(ok.get(i), j, false);
                x[i] = verdict(ok.get(i), j, true);
            }
            Map<String, Object> jm = new LinkedHashMap<>();
            Map<String, Object> without = stat(bits(w)), with = stat(bits(x));
            jm.put("without", without);
            jm.put("with", with);
            SerumStats.McNemar mc = SerumStats.mcnemar(w, x);
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("only_without", mc.b());
            mm.put("only_with", mc.c());
            mm.put("p_value", mc.pValue());
            jm.put("mcnemar", mm);
            jm.put("without_chen_normalized", finite(SerumStats.chenNormalized((Double) without.get("mean"), chen)));
            jm.put("with_chen_normalized", finite(SerumStats.chenNormalized((Double) with.get("mean"), chen)));
            judges.put(j, jm);
        }
        return judges;
    }

    static Map<String, Object> kappas(List<CaseResult> rs, String a) { return kappas(rs, a, "llm"); }

    /** κ between judges a and b: without the serum, with it, and over both explanations of every case. */
    static Map<String, Object> kappas(List<CaseResult> rs, String a, String b) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<boolean[]> pooled = new ArrayList<>();
        for (boolean serum : new boolean[]{false, true}) {
            List<boolean[]> pairs = new ArrayList<>();
            for (CaseResult r : rs) {
                Boolean x = verdict(r, a, serum), y = verdict(r, b, serum);
                if (x != null && y != null) pairs.add(new boolean[]{x, y});
            }
            pooled.addAll(pairs);
            out.put(serum ? "with" : "without", kappa(pairs));
        }
        out.put("pooled", kappa(pooled));
        out.put("n", pooled.size());
        return out;
    }

    static Double kappa(List<boolean[]> pairs) {
        boolean[] x = new boolean[pairs.size()], y = new boolean[pairs.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = pairs.get(i)[0];
            y[i] = pairs.get(i)[1];
        }
        return finite(SerumStats.cohensKappa(x, y));
    }

    static Boolean verdict(CaseResult r, String judge, boolean serum) {
        return switch (judge) {
            case "keyword" -> serum ? r.judgeKeywordSerum() : r.judgeKeyword();
            case "keyword_corrected" -> serum ? r.judgeKeywordCorrectedSerum() : r.judgeKeywordCorrected();
            case "llm" -> serum ? r.judgeLlmSerum() : r.judgeLlm();
            default -> throw new IllegalArgumentException(judge);
        };
    }

    static Map<String, Object> pair(List<CaseResult> rs, Function<CaseResult, Double> without, Function<CaseResult, Double> with) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("without", stat(rs.stream().map(without).filter(v -> v != null && Double.isFinite(v)).toList()));
        m.put("with", stat(rs.stream().map(with).filter(v -> v != null && Double.isFinite(v)).toList()));
        return m;
    }

    static List<Double> bits(boolean[] b) {
        List<Double> out = new ArrayList<>();
        for (boolean x : b) out.add(x ? 1.0 : 0.0);
        return out;
    }

    /** {mean, lower, upper, n}: a mean with its bootstrap interval; mean and bounds null without values. */
    static Map<String, Object> stat(List<Double> v) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (v.isEmpty()) {
            m.put("mean", null);
            m.put("lower", null);
            m.put("upper", null);
        } else {
            Bootstrap.Interval ci = Bootstrap.meanCi(v.stream().mapToDouble(Double::doubleValue).toArray());
            m.put("mean", ci.mean());
            m.put("lower", ci.lower());
            m.put("upper", ci.upper());
        }
        m.put("n", v.size());
        return m;
    }

    static Double finite(double v) { return Double.isFinite(v) ? v : null; }

    // ---------------------------------------------------------------- files

    /** Columns of summary.csv, one row per (hint group, setting). */
    static final List<String> CSV = List.of("hint", "setting", "alpha", "layers", "tried", "flipped", "flip_rate", "flip_rate_lower", "flip_rate_upper",
            "explained", "keyword_without", "keyword_without_lower", "keyword_without_upper", "keyword_with", "keyword_with_lower",
            "keyword_with_upper", "keyword_p", "keyword_corrected_without", "keyword_corrected_with", "keyword_corrected_p",
            "llm_without", "llm_without_lower", "llm_without_upper", "llm_with", "llm_with_lower", "llm_with_upper", "llm_p",
            "kappa_keyword_llm", "kappa_keyword_corrected_llm", "chen_alpha", "distinct1_without", "distinct1_with", "distinct2_without",
            "distinct2_with", "perplexity_without", "perplexity_with");

    @SuppressWarnings("unchecked")
    public static String csv(Map<String, Object> summary) {
        StringBuilder b = new StringBuilder(String.join(",", CSV)).append('\n');
        for (Object go : (List<Object>) summary.get("groups")) {
            Map<String, Object> g = (Map<String, Object>) go;
            Map<String, Object> flip = (Map<String, Object>) g.get("flip_rate");
            for (Object so : (List<Object>) g.get("settings")) {
                Map<String, Object> s = (Map<String, Object>) so;
                Map<String, Object> j = (Map<String, Object>) s.get("judges");
                List<Object> row = new ArrayList<>(List.of(g.get("hint"), s.get("setting"), s.get("alpha"), s.get("layers"), g.get("tried"),
                        g.get("flipped")));
                row.add(flip.get("mean"));
                row.add(flip.get("lower"));
                row.add(flip.get("upper"));
                row.add(s.get("explained"));
                addJudge(row, (Map<String, Object>) j.get("keyword"), true);
                Map<String, Object> kc = (Map<String, Object>) j.get("keyword_corrected");
                row.add(kc == null ? null : ((Map<String, Object>) kc.get("without")).get("mean"));
                row.add(kc == null ? null : ((Map<String, Object>) kc.get("with")).get("mean"));
                row.add(kc == null ? null : ((Map<String, Object>) kc.get("mcnemar")).get("p_value"));
                addJudge(row, (Map<String, Object>) j.get("llm"), true);
                Map<String, Object> kappa = (Map<String, Object>) s.get("kappa");
                row.add(((Map<String, Object>) kappa.get("keyword_vs_llm")).get("pooled"));
                row.add(((Map<String, Object>) kappa.get("keyword_corrected_vs_llm")).get("pooled"));
                row.add(g.get("chen_alpha"));
                for (String k : List.of("distinct1", "distinct2", "perplexity")) {
                    Map<String, Object> p = (Map<String, Object>) s.get(k);
                    row.add(((Map<String, Object>) p.get("without")).get("mean"));
                    row.add(((Map<String, Object>) p.get("with")).get("mean"));
                }
                StringBuilder line = new StringBuilder();
                for (Object v : row) line.append(line.isEmpty() ? "" : ",").append(cell(v));
                b.append(line).append('\n');
            }
        }
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    private static void addJudge(List<Object> row, Map<String, Object> j, boolean ci) {
        for (String side : List.of("without", "with")) {
            Map<String, Object> st = j == null ? null : (Map<String, Object>) j.get(side);
            row.add(st == null ? null : st.get("mean"));
            if (ci) {
                row.add(st == null ? null : st.get("lower"));
                row.add(st == null ? null : st.get("upper"));
            }
        }
        row.add(j == null ? null : ((Map<String, Object>) j.get("mcnemar")).get("p_value"));
    }

    private static String cell(Object v) {
        if (v == null) return "";
        if (v instanceof Double d) return String.format(Locale.ROOT, "%.6g", d);
        String s = v.toString();
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    public static void write(Map<String, Object> summary, Path out) throws IOException {
        AtomicFiles.write(out.resolve("summary.json"), MAPPER.writeValueAsBytes(summary));
        AtomicFiles.write(out.resolve("summary.csv"), csv(summary).getBytes(StandardCharsets.UTF_8));
    }
}
