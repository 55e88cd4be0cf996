package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.metrics.Bootstrap;
import io.rationale.metrics.LabelStats;
import io.rationale.serum.SerumStats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.BiFunction;

/**
 * Two evaluation runs of the same dataset side by side, example by example ({@code eval-compare}): typically a base
 * model (run A) and the same model with a fine-tuned adapter (run B). The examples are paired by dataset index (and
 * id); only examples that both runs evaluated count, in index order, each run's first line of an example as in its
 * summary, so a run compared with itself has its summary's intervals.
 *
 * <ul>
 *   <li>accuracy of each run with its 95% bootstrap interval, the paired bootstrap test of the difference
 *       ({@link Bootstrap#pairedTest}, B − A), and McNemar's exact test on the correct/incorrect pairs
 *       ({@link SerumStats#mcnemar}: b = right only in A, c = right only in B);</li>
 *   <li>each run's predicted-label distribution and label-bias flag ({@link LabelStats#labelBias}: one label takes
 *       more than 90% of the predictions, where flip rates say nothing about the method);</li>
 *   <li>per method that both runs have ({@code random} included): alignment F1 (over the examples where both runs
 *       define it), flip rate (with McNemar on the flips), comprehensiveness, sufficiency, AOPC comprehensiveness and
 *       sufficiency: each run's mean with its interval and the paired test of B − A.</li>
 * </ul>
 * Bootstrap: {@link Bootstrap} defaults (1000 resamples, seed {@value Bootstrap#DEFAULT_SEED}, 95%).
 *
 * @param a          run A's folder and description
 * @param b          run B's folder and description
 * @param paired     examples evaluated in both runs
 * @param onlyA      examples evaluated in A only (not compared)
 * @param onlyB      examples evaluated in B only (not compared)
 */
public record Comparison(Run a, Run b, int paired, int onlyA, int onlyB, Metric accuracy, SerumStats.McNemar accuracyMcNemar,
                         List<String> labels, Map<String, Long> predictedA, Map<String, Long> predictedB, boolean labelBiasA,
                         boolean labelBiasB, Map<String, Map<String, Metric>> methods, Map<String, SerumStats.McNemar> flipMcNemar) {

    /**
     * A run: its folder, name and what its run.json says about the model and the adapters.
     *
     * @param limit      the run's {@code --limit} (of its last session), or null
     * @param unselected examples with a result in examples.jsonl outside the run's selection (an earlier session's
     *                   larger {@code --limit}): left out, as the run's summary leaves them out
     */
    public record Run(String name, String dir, String model, String adapters, String dataset, Integer limit, int unselected) {}

    /**
     * One metric of both runs over the pairs where both define it.
     *
     * @param n          pairs
     * @param a          run A's mean and interval
     * @param b          run B's mean and interval
     * @param difference B − A with its paired-bootstrap interval
     * @param pValue     paired bootstrap, two-sided
     */
    public record Metric(int n, Bootstrap.Interval a, Bootstrap.Interval b, Bootstrap.Interval difference, double pValue) {}

    /** The metrics compared per method, in report order. */
    public static final List<String> METHOD_METRICS = List.of("alignment_f1", "flip_rate", "comprehensiveness", "sufficiency",
            "aopc_comprehensiveness", "aopc_sufficiency");

    /**
     * Reads both folders' {@code examples.jsonl} and {@code run.json} and compares them: each run's examples are
     * those its summary describes ({@link #evaluated}).
     */
    public static Comparison of(Path dirA, String nameA, Path dirB, String nameB) {
        JsonNode ja = runJson(dirA), jb = runJson(dirB);
        String da = ja.path("dataset").asText(null), db = jb.path("dataset").asText(null);
        if (da != null && db != null && !da.equals(db))
            throw new IllegalArgumentException(dirB + ": evaluated " + db + ", but " + dirA + " evaluated " + da
                    + ": compare runs of the same dataset");
        Results resultsA = evaluated(dirA, nameA, ja), resultsB = evaluated(dirB, nameB, jb);
        Run ra = resultsA.run(), rb = resultsB.run();
        SortedMap<Integer, ExampleResult> a = resultsA.evaluated(), b = resultsB.evaluated();
        List<ExampleResult[]> pairs = new ArrayList<>();   // in dataset index order, as the summary takes the examples
        int onlyA = 0;
        for (ExampleResult x : a.values()) {
            ExampleResult y = b.get(x.index());
            if (y == null || !y.id().equals(x.id())) onlyA++;
            else pairs.add(new ExampleResult[]{x, y});
        }
        int onlyB = b.size() - pairs.size();
        if (pairs.isEmpty()) throw new IllegalArgumentException(dirA + " and " + dirB + " have no evaluated example in common");

        List<double[]> acc = new ArrayList<>();
        boolean[] rightA = new boolean[pairs.size()], rightB = new boolean[pairs.size()];
        List<String> predA = new ArrayList<>(), predB = new ArrayList<>();
        LinkedHashSet<String> labelSet = new LinkedHashSet<>();
        for (int i = 0; i < pairs.size(); i++) {
            ExampleResult x = pairs.get(i)[0], y = pairs.get(i)[1];
            rightA[i] = x.gold().equals(x.predicted());
            rightB[i] = y.gold().equals(y.predicted());
            acc.add(new double[]{rightA[i] ? 1 : 0, rightB[i] ? 1 : 0});
            predA.add(x.predicted());
            predB.add(y.predicted());
            if (x.labelProbs() != null) labelSet.addAll(x.labelProbs().keySet());
            labelSet.add(x.gold());
        }
        List<String> labels = List.copyOf(labelSet);

        List<String> common = new ArrayList<>();
        for (String m : pairs.get(0)[0].methods().keySet()) if (pairs.get(0)[1].methods().containsKey(m)) common.add(m);
        Map<String, Map<String, Metric>> methods = new LinkedHashMap<>();
        Map<String, SerumStats.McNemar> flips = new LinkedHashMap<>();
        for (String m : common) {
            Map<String, Metric> mm = new LinkedHashMap<>();
            mm.put("alignment_f1", metric(pairs, m, (r, res) -> res.alignment() == null ? Double.NaN : res.alignment().f1()));
            mm.put("flip_rate", metric(pairs, m, (r, res) -> main(res) == null ? Double.NaN : main(res).flipped() ? 1 : 0));
            mm.put("comprehensiveness", metric(pairs, m, (r, res) -> main(res) == null ? Double.NaN : main(res).comprehensiveness()));
            mm.put("sufficiency", metric(pairs, m, (r, res) -> main(res) == null ? Double.NaN : main(res).sufficiency()));
            mm.put("aopc_comprehensiveness", metric(pairs, m, (r, res) -> res.faithfulness() == null ? Double.NaN : res.faithfulness().aopcComprehensiveness()));
            mm.put("aopc_sufficiency", metric(pairs, m, (r, res) -> res.faithfulness() == null ? Double.NaN : res.faithfulness().aopcSufficiency()));
            methods.put(m, mm);
            List<boolean[]> fp = new ArrayList<>();
            for (ExampleResult[] p : pairs) {
                ExampleResult.Masked x = main(p[0].methods().get(m)), y = main(p[1].methods().get(m));
                if (x != null && y != null) fp.add(new boolean[]{x.flipped(), y.flipped()});
            }
            boolean[] fa = new boolean[fp.size()], fb = new boolean[fp.size()];
            for (int i = 0; i < fp.size(); i++) {
                fa[i] = fp.get(i)[0];
                fb[i] = fp.get(i)[1];
            }
            flips.put(m, SerumStats.mcnemar(fa, fb));
        }
        return new Comparison(ra, rb, pairs.size(), onlyA, onlyB, metric(acc), SerumStats.mcnemar(rightA, rightB), labels,
                LabelStats.counts(labels, predA), LabelStats.counts(labels, predB), LabelStats.labelBias(predA), LabelStats.labelBias(predB),
                methods, flips);
    }

    private static ExampleResult.Masked main(ExampleResult.MethodResult r) {
        return r == null || r.faithfulness() == null ? null : r.faithfulness().main();
    }

    private static Metric metric(List<ExampleResult[]> pairs, String method, BiFunction<ExampleResult, ExampleResult.MethodResult, Double> value) {
        List<double[]> v = new ArrayList<>();
        for (ExampleResult[] p : pairs) {
            ExampleResult.MethodResult x = p[0].methods().get(method), y = p[1].methods().get(method);
            if (x == null || y == null) continue;
            double va = value.apply(p[0], x), vb = value.apply(p[1], y);
            if (Double.isFinite(va) && Double.isFinite(vb)) v.add(new double[]{va, vb});
        }
        return metric(v);
    }

    private static Metric metric(List<double[]> pairs) {
        int n = pairs.size();
        if (n == 0) {
            Bootstrap.Interval none = new Bootstrap.Interval(Double.NaN, Double.NaN, Double.NaN, Bootstrap.DEFAULT_LEVEL, 0, Bootstrap.DEFAULT_SEED);
            return new Metric(0, none, none, none, Double.NaN);
        }
        double[] a = new double[n], b = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = pairs.get(i)[0];
            b[i] = pairs.get(i)[1];
        }
        Bootstrap.PairedTest t = Bootstrap.pairedTest(b, a);
        return new Metric(n, Bootstrap.meanCi(a), Bootstrap.meanCi(b), t.difference(), t.pValue());
    }

    /** A run's description and its evaluated examples by dataset index. */
    private record Results(Run run, SortedMap<Integer, ExampleResult> evaluated) {}

    /**
     * The run's evaluated examples by dataset index, as its summary takes them ({@link Summary#of}): the examples of
     * the run's selection ({@link #selection}) only, the first line of each index (a repeated index keeps the first,
     * as {@link ExamplesLog}), in index order (not file order, which is the selection's or, with Spark, any), so
     * each run's intervals are its summary's.
     */
    private static Results evaluated(Path dir, String name, JsonNode runJson) {
        Path file = dir.resolve("examples.jsonl");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such file (not an eval results folder)");
        Set<Integer> selected = selection(dir, runJson);
        List<ExampleResult> all;
        try {
            all = ExamplesLog.readAll(file);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        SortedMap<Integer, ExampleResult> first = new TreeMap<>();
        Set<Integer> unselected = new HashSet<>();
        for (ExampleResult r : all) {
            if (selected == null || selected.contains(r.index())) first.putIfAbsent(r.index(), r);
            else unselected.add(r.index());
        }
        first.values().removeIf(r -> r.skipped() != null || r.predicted() == null || r.methods() == null);
        return new Results(run(dir, name, runJson, unselected.size()), first);
    }

    /**
     * The examples the run's summary describes, as {@link EvalRunner} selects them: the first {@code selected} of the
     * run's order over the dataset ({@link Selection#order}; run.json's {@code selected} = min(--limit, dataset size)
     * of the last session, which may have lowered the limit); null for every example (no limit, or one that covers
     * the dataset). The order of {@code --select first} (and of a run.json from before --select) is file order;
     * another order is recomputed from the dataset, which must still be the file the run evaluated (run.json's
     * fingerprint), else the comparison is refused.
     */
    static Set<Integer> selection(Path dir, JsonNode j) {
        JsonNode limit = j.get("limit"), selected = j.get("selected"), size = j.get("dataset_size");
        if (limit == null || limit.isNull() || selected == null || !selected.canConvertToInt()) return null;
        int n = selected.asInt();
        if (size != null && size.canConvertToInt() && n >= size.asInt()) return null;
        Selection.Mode mode = j.hasNonNull("selection") ? Selection.Mode.parse(j.get("selection").asText()) : Selection.Mode.FIRST;
        if (mode == Selection.Mode.FIRST) {
            Set<Integer> first = new HashSet<>();
            for (int i = 0; i < n; i++) first.add(i);
            return first;
        }
        String spec = j.path("dataset").asText(null);
        String what = dir + ": its summary describes the first " + n + " examples of the " + mode.cliName() + " order (--limit " + limit.asText()
                + "), recomputed from the dataset " + spec;
        Dataset d;
        try {
            d = DatasetLoader.load(spec);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(what + ", which cannot be read: " + RunManifest.firstLine(e.getMessage()));
        }
        JsonNode fp = j.path("dataset_fingerprint");
        boolean changed = fp.isObject() && !RunManifest.sameContent(new RunManifest.Fingerprint(fp.path("bytes").asLong(), null, fp.path("sha256").asText(null)),
                RunManifest.fileFingerprint(d.path()));
        if (changed || size != null && size.canConvertToInt() && d.size() != size.asInt())
            throw new IllegalArgumentException(what + ", which changed since the run");
        List<Integer> order = Selection.order(d.examples(), mode, j.path("options").path("seed").asLong(0));
        return new HashSet<>(order.subList(0, Math.min(n, order.size())));
    }

    private static JsonNode runJson(Path dir) {
        Path file = dir.resolve("run.json");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such file (not an eval results folder)");
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": unreadable (" + e.getMessage() + ")");
        }
    }

    private static Run run(Path dir, String name, JsonNode j, int unselected) {
        JsonNode ad = j.get("adapters");
        String adapters = "none";
        JsonNode list = ad != null && ad.isObject() ? ad.get("adapters") : ad;
        if (list != null && list.isArray() && !list.isEmpty()) {
            List<String> names = new ArrayList<>();
            for (JsonNode x : list) names.add(x.path("dir").asText() + (x.path("scale").asDouble(1) == 1 ? "" : ":" + x.path("scale").asDouble()));
            adapters = String.join(", ", names);
        }
        JsonNode limit = j.get("limit");
        return new Run(name, dir.toAbsolutePath().normalize().toString(), j.path("model").asText(null), adapters, j.path("dataset").asText(null),
                limit != null && limit.canConvertToInt() ? limit.asInt() : null, unselected);
    }

    // ------------------------------------------------------------------------------------------------ output

    public String toJson() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(this) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One row per (method, metric), accuracy first: the two means with intervals, B − A with its interval and p. */
    public String toCsv() {
        StringBuilder s = new StringBuilder("method,metric,n,a,a_lower,a_upper,b,b_lower,b_upper,difference,difference_lower,difference_upper,p_paired_bootstrap,p_mcnemar\n");
        row(s, "", "accuracy", accuracy, accuracyMcNemar.pValue());
        for (Map.Entry<String, Map<String, Metric>> m : methods.entrySet())
            for (Map.Entry<String, Metric> e : m.getValue().entrySet())
                row(s, m.getKey(), e.getKey(), e.getValue(), e.getKey().equals("flip_rate") ? flipMcNemar.get(m.getKey()).pValue() : Double.NaN);
        return s.toString();
    }

    private static void row(StringBuilder s, String method, String metric, Metric m, double mcnemar) {
        s.append(method).append(',').append(metric).append(',').append(m.n());
        for (double v : new double[]{m.a().mean(), m.a().lower(), m.a().upper(), m.b().mean(), m.b().lower(), m.b().upper(),
                m.difference().mean(), m.difference().lower(), m.difference().upper(), m.pValue(), mcnemar})
            s.append(',').append(Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6g", v));
        s.append('\n');
    }

    /** A mean and its interval as the eval report prints them ({@link ReportHtml#fmt}: never {@code -0.000}). */
    private static String ci(Bootstrap.Interval i) {
        return Double.isNaN(i.mean()) ? "—" : ReportHtml.fmt(i.mean(), 3) + " [" + ReportHtml.fmt(i.lower(), 3) + ", " + ReportHtml.fmt(i.upper(), 3) + "]";
    }

    private static String p(double p) { return Double.isNaN(p) ? "—" : p < 0.001 ? "<0.001" : ReportHtml.fmt(p, 3); }

    /** One line per run with results outside its selection, which are left out. */
    private List<String> unselected() {
        List<String> out = new ArrayList<>();
        for (String ab : List.of("A", "B")) {
            Run r = ab.equals("A") ? a : b;
            if (r.unselected() > 0) out.add(String.format(Locale.ROOT, "%s: %d examples with results beyond the run's --limit %d left out, "
                    + "as its summary leaves them out", ab, r.unselected(), r.limit()));
        }
        return out;
    }

    /** A plain-text table. */
    public String toText() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "A = %s: %s (model %s, adapters %s)%nB = %s: %s (model %s, adapters %s)%n", a.name(), a.dir(), a.model(),
                a.adapters(), b.name(), b.dir(), b.model(), b.adapters()));
        s.append(String.format(Locale.ROOT, "%d examples evaluated in both (%d only in A, %d only in B); B − A with paired bootstrap 95%% CI%n", paired, onlyA, onlyB));
        for (String u : unselected()) s.append(u).append('\n');
        s.append(String.format(Locale.ROOT, "accuracy: A %s, B %s, B − A %s, p %s (McNemar: %d right only in A, %d only in B, p %s)%n",
                ci(accuracy.a()), ci(accuracy.b()), ci(accuracy.difference()), p(accuracy.pValue()), accuracyMcNemar.b(), accuracyMcNemar.c(),
                p(accuracyMcNemar.pValue())));
        s.append("predicted labels: A ").append(predictedA).append(labelBiasA ? " (LABEL BIAS: >90% one label)" : "")
                .append("; B ").append(predictedB).append(labelBiasB ? " (LABEL BIAS: >90% one label)" : "").append('\n');
        s.append(String.format(Locale.ROOT, "%-18s %-22s %4s %-24s %-24s %-26s %7s%n", "method", "metric", "n", "A", "B", "B − A", "p"));
        for (Map.Entry<String, Map<String, Metric>> m : methods.entrySet())
            for (Map.Entry<String, Metric> e : m.getValue().entrySet()) {
                Metric x = e.getValue();
                String pv = p(x.pValue()) + (e.getKey().equals("flip_rate") ? " (McNemar " + p(flipMcNemar.get(m.getKey()).pValue()) + ")" : "");
                s.append(String.format(Locale.ROOT, "%-18s %-22s %4d %-24s %-24s %-26s %s%n", m.getKey(), e.getKey(), x.n(), ci(x.a()), ci(x.b()),
                        ci(x.difference()), pv));
            }
        return s.toString();
    }

    /** A self-contained HTML page with the same tables. */
    public String toHtml() {
        StringBuilder s = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>eval comparison</title><style>"
                + "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                + "td:first-child,td:nth-child(2),th{text-align:left}.sig{font-weight:bold}</style></head><body>");
        s.append("<h1>Base vs fine-tuned: two eval runs side by side</h1><p>A = <b>").append(esc(a.name())).append("</b>: ").append(esc(a.dir()))
                .append(" (adapters ").append(esc(a.adapters())).append(")<br>B = <b>").append(esc(b.name())).append("</b>: ").append(esc(b.dir()))
                .append(" (adapters ").append(esc(b.adapters())).append(")</p>");
        s.append(String.format(Locale.ROOT, "<p>%d examples evaluated in both (%d only in A, %d only in B). Means with 95%% bootstrap intervals; "
                + "B − A with the paired bootstrap interval and two-sided p; bold: p &lt; 0.05.</p>", paired, onlyA, onlyB));
        for (String u : unselected()) s.append("<p>").append(esc(u)).append("</p>");
        s.append("<h2>Accuracy and labels</h2><table><tr><th>label</th><th>predicted by A</th><th>predicted by B</th></tr>");
        for (String l : labels) s.append("<tr><td>").append(esc(l)).append("</td><td>").append(predictedA.getOrDefault(l, 0L))
                .append("</td><td>").append(predictedB.getOrDefault(l, 0L)).append("</td></tr>");
        s.append("</table>");
        s.append("<p>").append(labelBiasA ? "A: LABEL BIAS (one label takes more than 90% of the predictions). " : "")
                .append(labelBiasB ? "B: LABEL BIAS (one label takes more than 90% of the predictions)." : "").append("</p>");
        s.append("<table><tr><th>method</th><th>metric</th><th>n</th><th>A</th><th>B</th><th>B − A</th><th>p</th><th>McNemar p</th></tr>");
        htmlRow(s, "", "accuracy", accuracy, accuracyMcNemar.pValue());
        for (Map.Entry<String, Map<String, Metric>> m : methods.entrySet())
            for (Map.Entry<String, Metric> e : m.getValue().entrySet())
                htmlRow(s, m.getKey(), e.getKey(), e.getValue(), e.getKey().equals("flip_rate") ? flipMcNemar.get(m.getKey()).pValue() : Double.NaN);
        return s.append("</table></body></html>\n").toString();
    }

    private static void htmlRow(StringBuilder s, String method, String metric, Metric m, double mcnemar) {
        boolean sig = m.pValue() < 0.05;
        s.append("<tr><td>").append(esc(method)).append("</td><td>").append(metric).append("</td><td>").append(m.n()).append("</td><td>")
                .append(ci(m.a())).append("</td><td>").append(ci(m.b())).append("</td><td").append(sig ? " class=\"sig\">" : ">")
                .append(ci(m.difference())).append("</td><td>").append(p(m.pValue())).append("</td><td>").append(p(mcnemar)).append("</td></tr>");
    }

    private static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** Writes compare.json, compare.csv and compare.html into {@code out} (created), each atomically. */
    public void write(Path out) {
        try {
            Files.createDirectories(out);
            AtomicFiles.write(out.resolve("compare.json"), toJson().getBytes(StandardCharsets.UTF_8));
            AtomicFiles.write(out.resolve("compare.csv"), toCsv().getBytes(StandardCharsets.UTF_8));
            AtomicFiles.write(out.resolve("compare.html"), toHtml().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write into " + out + ": " + e.getMessage(), e);
        }
    }
}
