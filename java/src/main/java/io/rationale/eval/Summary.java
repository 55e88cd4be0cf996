package io.rationale.eval;

import io.rationale.metrics.Alignment;
import io.rationale.metrics.Bootstrap;
import io.rationale.metrics.IouF1;
import io.rationale.metrics.LabelStats;
import io.rationale.metrics.Prf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The aggregate of an evaluation run ({@code summary.json}; {@link SummaryWriter} writes it and {@code summary.csv}).
 * Computed from the {@link ExampleResult}s alone by {@link #of}; undefined numbers are NaN here and null in JSON.
 *
 * <p>Definitions (over the examples the evaluator did not skip):
 * <ul>
 *   <li>accuracy, confusion matrix (gold rows, predicted columns), gold and predicted label counts and shares;
 *       label bias when one label takes MORE than 90% of the predictions ({@link LabelStats#labelBias}), with a
 *       warning: flip rates are near zero then whatever the method (paper 1);</li>
 *   <li>per method: alignment = macro word P/R/F1 over the examples with a human rationale and a defined F1
 *       ({@link Alignment#macro}), bootstrap CI of F1; ERASER IOU-F1 ({@link IouF1#score}, one instance per
 *       (example, field) pair, as ERASER's per (annotation, document); a line without per-field counts is one); AUPRC = mean of the defined per-example APs with CI; flip rate over ALL examples with a
 *       masking outcome (CI); comprehensiveness, sufficiency, AOPC comprehensiveness/sufficiency means (CIs);
 *       flip rate per AOPC fraction (the flip-rate-vs-k curve); prompting methods: answers with no usable
 *       rationale word and unmatched answer words;</li>
 *   <li>paired bootstrap tests between every pair of methods ({@code random} included) on alignment F1 and on
 *       flips, over the examples where both are defined;</li>
 *   <li>skips: the dataset loader's reasons and the evaluator's, counted.</li>
 * </ul>
 * Bootstrap: {@link Bootstrap} defaults (1000 resamples, seed {@value Bootstrap#DEFAULT_SEED}, 95%).
 */
public record Summary(Map<String, Object> run, String summarizedAt, boolean complete, Counts counts, Skips skipped,
                      Labels labels, Map<String, MethodSummary> methods, List<PairedTest> pairedTests,
                      BootstrapInfo bootstrap, Map<String, Object> selection, TargetSummary attributionTarget,
                      String device, Map<String, Object> resolved, FlipPaths flipPaths) {

    /**
     * How the flip evaluation scored the evaluated examples' masked variants ({@link ExampleResult#flipPath()}),
     * counted from the examples' lines (so over every process and resume that wrote them).
     *
     * @param tokenLevel examples whose variants the backend built from their token-level description and scored
     * @param host       examples whose variants were tokenized and scored one by one on the host
     */
    public record FlipPaths(int tokenLevel, int host) {
        static FlipPaths of(List<ExampleResult> ok) {
            int t = 0, h = 0;
            for (ExampleResult r : ok) {
                if (ExampleResult.FLIP_TOKEN_LEVEL.equals(r.flipPath())) t++;
                else if (ExampleResult.FLIP_HOST.equals(r.flipPath())) h++;
            }
            return t + h == 0 ? null : new FlipPaths(t, h);
        }

        /** One line for the console and the report. */
        public String description() {
            return tokenLevel + " examples' variants built from their tokens by the backend, " + host + " tokenized on the host";
        }
    }

    /** Above this relative completeness error an integrated-gradients result is counted as not converged. */
    public static final double COMPLETENESS_WARNING = io.rationale.attribution.Attributor.WARN_COMPLETENESS;

    /**
     * What the attribution methods explained.
     *
     * @param option      the run's {@code --target} ({@code auto}, {@code predicted}, {@code contrast})
     * @param counts      kind ({@code predicted}, {@code contrast}) → evaluated examples
     * @param description one sentence for the report and the console
     */
    public record TargetSummary(String option, Map<String, Integer> counts, String description) {}

    public static final String RANDOM = "random";

    /** A mean with its 95% bootstrap interval over {@code n} values (all NaN when n = 0). */
    public record Stat(double mean, double lower, double upper, int n) {
        static final Stat NONE = new Stat(Double.NaN, Double.NaN, Double.NaN, 0);

        static Stat of(List<Double> values) {
            if (values.isEmpty()) return NONE;
            double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
            Bootstrap.Interval ci = Bootstrap.meanCi(v);
            return new Stat(ci.mean(), ci.lower(), ci.upper(), v.length);
        }
    }

    /**
     * @param datasetExamples  usable examples in the dataset
     * @param datasetSkipped   entries the loader skipped
     * @param selected         examples this run covers (the limit applied)
     * @param done             selected examples with a result
     * @param evaluated        done and not skipped by the evaluator
     * @param evaluatorSkipped done but skipped by the evaluator
     * @param remaining        selected examples without a result yet
     */
    public record Counts(int datasetExamples, int datasetSkipped, int selected, int done, int evaluated,
                         int evaluatorSkipped, int remaining) {}

    /** Skip reasons with their counts, in order of first occurrence. */
    public record Skips(Map<String, Integer> dataset, Map<String, Integer> evaluator) {}

    public record Labels(List<String> labels, double accuracy, Stat accuracyCi, Map<String, Long> goldCounts,
                         Map<String, Long> predictedCounts, Map<String, Double> goldDistribution,
                         Map<String, Double> predictedDistribution, Confusion confusion, Bias bias) {}

    /** counts[g][p]: examples with gold labels.get(g) predicted as labels.get(p). */
    public record Confusion(List<String> labels, long[][] counts) {}

    /** @param flagged one label takes more than {@code threshold} of the predictions; {@code warning} says so, else null */
    public record Bias(boolean flagged, String dominantLabel, double share, double threshold, String warning) {}

    /**
     * @param kind      {@code attribution}, {@code prompting} or {@code baseline} ({@code random})
     * @param examples  evaluated examples that have this method
     * @param prompting prompting methods only (else null)
     */
    public record MethodSummary(String kind, int examples, AlignmentSummary alignment, IouSummary iouF1, Stat auprc,
                                Stat flipRate, Stat comprehensiveness, Stat sufficiency, Stat aopcComprehensiveness,
                                Stat aopcSufficiency, Map<String, Stat> flipRateByFraction, double meanK,
                                double meanSeconds, PromptingSummary prompting, Completeness completeness) {}

    /**
     * Integrated gradients' completeness error over the examples ({@code null} for other methods).
     *
     * @param error        the relative error {@code |Σ scores − (f(x) − f(b))| / |f(x) − f(b)|}: mean with CI, n
     * @param median       its median
     * @param max          its largest value
     * @param overWarning  examples above {@link #COMPLETENESS_WARNING}
     */
    public record Completeness(Stat error, double median, double max, int overWarning) {}

    /** Macro word P/R/F1 over {@code examples} defined comparisons ({@code undefined} left out), F1 with its CI. */
    public record AlignmentSummary(int examples, int undefined, double precision, double recall, Stat f1) {}

    /** ERASER IOU-F1: macro P/R and F1 of those (the reported number), micro F1, over {@code instances}. */
    public record IouSummary(double precision, double recall, double f1, double microF1, int instances) {}

    /**
     * @param answers            examples with an answer
     * @param unparseable        answers from which no input word could be parsed (empty rationale)
     * @param withUnmatchedWords answers with at least one word matching no input word
     * @param unmatchedWords     such words over all answers
     */
    public record PromptingSummary(int answers, int unparseable, int withUnmatchedWords, int unmatchedWords) {}

    /**
     * A paired bootstrap comparison of methods a and b on {@code metric} ({@code f1} or {@code flip}) over the n
     * examples where both are defined: means, difference a − b with its CI, two-sided p.
     */
    public record PairedTest(String a, String b, String metric, int n, double meanA, double meanB, double difference,
                             double lower, double upper, double pValue) {}

    public record BootstrapInfo(int resamples, long seed, double level) {}

    /**
     * What the summary needs besides the results.
     *
     * @param run                run.json as a map (copied into the summary as metadata)
     * @param labels             the dataset's label set
     * @param methods            the requested methods (order of columns; {@code random} and any other method found
     *                           in the results follow)
     * @param datasetExamples    usable examples in the dataset
     * @param selected           examples the run covers
     * @param datasetSkipReasons the loader's skip reasons with counts
     */
    public record Context(Map<String, Object> run, List<String> labels, List<String> methods, int datasetExamples,
                         int selected, Map<String, Integer> datasetSkipReasons, java.util.Set<Integer> selectedIndices,
                         Map<String, Object> selection, String targetOption, String device, Map<String, Object> resolved) {
        /** The first {@code selected} indices in dataset order, nothing else known (tests). */
        public Context(Map<String, Object> run, List<String> labels, List<String> methods, int datasetExamples,
                       int selected, Map<String, Integer> datasetSkipReasons) {
            this(run, labels, methods, datasetExamples, selected, datasetSkipReasons, null, Map.of(), null, null, Map.of());
        }

        /** Whether example {@code index} is one of the run's selection. */
        boolean isSelected(int index) {
            return selectedIndices != null ? selectedIndices.contains(index) : index >= 0 && index < selected;
        }
    }

    public Optional<MethodSummary> method(String name) { return Optional.ofNullable(methods.get(name)); }

    /** Aggregates {@code results} (any order; only indices below {@code ctx.selected()} count, first per index). */
    public static Summary of(Context ctx, List<ExampleResult> results, String now) {
        TreeMap<Integer, ExampleResult> byIndex = new TreeMap<>();
        for (ExampleResult r : results) if (ctx.isSelected(r.index())) byIndex.putIfAbsent(r.index(), r);
        List<ExampleResult> all = new ArrayList<>(byIndex.values());
        List<ExampleResult> ok = new ArrayList<>();
        Map<String, Integer> evalSkips = new LinkedHashMap<>();
        for (ExampleResult r : all) {
            if (r.skipped() != null) evalSkips.merge(r.skipped(), 1, Integer::sum);
            else ok.add(r);
        }
        int datasetSkipped = ctx.datasetSkipReasons().values().stream().mapToInt(Integer::intValue).sum();
        Counts counts = new Counts(ctx.datasetExamples(), datasetSkipped, ctx.selected(), all.size(), ok.size(),
                all.size() - ok.size(), ctx.selected() - all.size());
        Skips skips = new Skips(new LinkedHashMap<>(ctx.datasetSkipReasons()), evalSkips);

        List<String> order = methodOrder(ctx.methods(), ok);
        Map<String, MethodSummary> methods = new LinkedHashMap<>();
        for (String m : order) methods.put(m, method(m, ok));
        List<PairedTest> tests = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            for (int j = i + 1; j < order.size(); j++) {
                pairedF1(order.get(i), order.get(j), ok).ifPresent(tests::add);
                pairedFlip(order.get(i), order.get(j), ok).ifPresent(tests::add);
            }
        }
        return new Summary(ctx.run(), now, counts.remaining() == 0, counts, skips, labels(ctx.labels(), ok), methods, tests,
                new BootstrapInfo(Bootstrap.DEFAULT_RESAMPLES, Bootstrap.DEFAULT_SEED, Bootstrap.DEFAULT_LEVEL),
                ctx.selection(), target(ctx.targetOption(), ok), ctx.device(), ctx.resolved(), FlipPaths.of(ok));
    }

    /** What the attribution methods explained, counted over the evaluated examples (null when none recorded it). */
    static TargetSummary target(String option, List<ExampleResult> ok) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        Map<String, Integer> pairs = new LinkedHashMap<>();
        for (ExampleResult r : ok) {
            ExampleResult.AttributionTarget t = r.attributionTarget();
            if (t == null) continue;
            counts.merge(t.kind(), 1, Integer::sum);
            if (t.foil() != null) pairs.merge(t.label() + " not " + t.foil(), 1, Integer::sum);
        }
        if (counts.isEmpty() && option == null) return null;
        List<String> parts = new ArrayList<>();
        Integer contrast = counts.get(ExampleResult.AttributionTarget.CONTRAST), predicted = counts.get(ExampleResult.AttributionTarget.PREDICTED);
        if (contrast != null) parts.add(String.format(Locale.ROOT, "on %d example%s the contrast logit(gold label) − logit(foil): why the label and "
                + "not the foil, the question the contrastive rationales answer", contrast, contrast == 1 ? "" : "s"));
        if (predicted != null) parts.add(String.format(Locale.ROOT, "on %d example%s the logit of the predicted label", predicted, predicted == 1 ? "" : "s"));
        String description = "attribution methods explain " + (parts.isEmpty() ? "nothing yet" : String.join("; ", parts))
                + (option == null ? "" : " (--target " + option + ")");
        return new TargetSummary(option, counts, description);
    }

    static List<String> methodOrder(List<String> requested, List<ExampleResult> results) {
        LinkedHashSet<String> o = new LinkedHashSet<>(requested);
        o.add(RANDOM);
        for (ExampleResult r : results) if (r.methods() != null) o.addAll(r.methods().keySet());
        return List.copyOf(o);
    }

    static String predictedOf(ExampleResult r) { return r.predicted() == null ? "(none)" : r.predicted(); }

    static String goldOf(ExampleResult r) { return r.gold() == null ? "(none)" : r.gold(); }

    static Labels labels(List<String> labelSet, List<ExampleResult> ok) {
        List<String> gold = ok.stream().map(Summary::goldOf).toList();
        List<String> pred = ok.stream().map(Summary::predictedOf).toList();
        List<Double> correct = new ArrayList<>();
        for (int i = 0; i < gold.size(); i++) correct.add(gold.get(i).equals(pred.get(i)) ? 1.0 : 0.0);
        LabelStats.ConfusionMatrix cm = LabelStats.confusion(labelSet, gold, pred);
        Map<String, Long> gc = LabelStats.counts(cm.labels(), gold), pc = LabelStats.counts(cm.labels(), pred);
        Map<String, Double> gd = LabelStats.distribution(cm.labels(), gold), pd = LabelStats.distribution(cm.labels(), pred);
        Optional<String> dom = LabelStats.dominantLabel(pred, LabelStats.LABEL_BIAS_THRESHOLD);
        double share = dom.map(d -> (double) pc.get(d) / pred.size()).orElse(Double.NaN);
        String warning = dom.map(d -> String.format(Locale.ROOT,
                "WARNING: label bias: the model predicts '%s' for %.1f%% of the %d evaluated examples (more than %.0f%%); "
                        + "flip rates are near zero for every method then and say little about faithfulness",
                d, 100 * share, pred.size(), 100 * LabelStats.LABEL_BIAS_THRESHOLD)).orElse(null);
        return new Labels(cm.labels(), LabelStats.accuracy(gold, pred), Stat.of(correct), gc, pc, gd, pd,
                new Confusion(cm.labels(), cm.counts()), new Bias(dom.isPresent(), dom.orElse(null), share,
                LabelStats.LABEL_BIAS_THRESHOLD, warning));
    }

    static String kind(String name, List<ExampleResult.MethodResult> rs) {
        if (name.equals(RANDOM)) return "baseline";
        if (name.startsWith("prompt")) return "prompting";
        for (ExampleResult.MethodResult m : rs) if (m.scores() == null && m.raw() != null) return "prompting";
        return "attribution";
    }

    static MethodSummary method(String name, List<ExampleResult> ok) {
        List<ExampleResult.MethodResult> rs = new ArrayList<>();
        for (ExampleResult r : ok) {
            ExampleResult.MethodResult m = r.methods() == null ? null : r.methods().get(name);
            if (m != null) rs.add(m);
        }
        String kind = kind(name, rs);
        List<Prf> prf = new ArrayList<>();
        List<Double> f1s = new ArrayList<>(), aps = new ArrayList<>();
        List<IouF1.Instance> iou = new ArrayList<>();
        List<Double> flips = new ArrayList<>(), comp = new ArrayList<>(), suff = new ArrayList<>(),
                aopcC = new ArrayList<>(), aopcS = new ArrayList<>();
        TreeMap<Double, List<Double>> byFraction = new TreeMap<>();
        TreeMap<Double, String> fractionKeys = new TreeMap<>();
        double sumK = 0, sumSec = 0;
        int answers = 0, unparseable = 0, withUnmatched = 0, unmatched = 0;
        List<Double> completeness = new ArrayList<>();
        for (ExampleResult.MethodResult m : rs) {
            sumK += m.k();
            sumSec += m.seconds();
            if (m.completenessError() != null && Double.isFinite(m.completenessError())) completeness.add(m.completenessError());
            ExampleResult.Alignment a = m.alignment();
            if (a != null) {
                Prf p = Double.isNaN(a.f1()) ? Prf.UNDEFINED : new Prf(a.precision(), a.recall(), a.f1());
                prf.add(p);
                if (p.defined()) f1s.add(a.f1());
                if (Double.isFinite(a.auprc())) aps.add(a.auprc());
                iou.addAll(a.iouInstances());
            }
            ExampleResult.Faithfulness f = m.faithfulness();
            if (f != null) {
                if (f.main() != null) {
                    flips.add(f.main().flipped() ? 1.0 : 0.0);
                    addFinite(comp, f.main().comprehensiveness());
                    addFinite(suff, f.main().sufficiency());
                }
                addFinite(aopcC, f.aopcComprehensiveness());
                addFinite(aopcS, f.aopcSufficiency());
                if (f.byFraction() != null) {
                    for (Map.Entry<String, ExampleResult.Masked> e : f.byFraction().entrySet()) {
                        if (e.getValue() == null) continue;
                        double x = fraction(e.getKey());
                        fractionKeys.putIfAbsent(x, e.getKey());
                        byFraction.computeIfAbsent(x, z -> new ArrayList<>()).add(e.getValue().flipped() ? 1.0 : 0.0);
                    }
                }
            }
            if (kind.equals("prompting")) {
                answers++;
                if (m.rationale() == null || m.rationale().length == 0) unparseable++;
                if (m.unparsed() != null && !m.unparsed().isEmpty()) {
                    withUnmatched++;
                    unmatched += m.unparsed().size();
                }
            }
        }
        Alignment.MacroPrf macro = Alignment.macro(prf);
        IouF1.Score is = iou.isEmpty() ? null : IouF1.score(iou);
        IouSummary iouSummary = is == null ? new IouSummary(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0)
                : new IouSummary(is.macro().precision(), is.macro().recall(), is.macro().f1(), is.micro().f1(), is.instances());
        Map<String, Stat> curve = new LinkedHashMap<>();
        for (Map.Entry<Double, List<Double>> e : byFraction.entrySet()) curve.put(fractionKeys.get(e.getKey()), Stat.of(e.getValue()));
        int n = rs.size();
        return new MethodSummary(kind, n,
                new AlignmentSummary(macro.examples(), macro.undefined(), macro.precision(), macro.recall(), Stat.of(f1s)),
                iouSummary, Stat.of(aps), Stat.of(flips), Stat.of(comp), Stat.of(suff), Stat.of(aopcC), Stat.of(aopcS), curve,
                n == 0 ? Double.NaN : sumK / n, n == 0 ? Double.NaN : sumSec / n,
                kind.equals("prompting") ? new PromptingSummary(answers, unparseable, withUnmatched, unmatched) : null,
                completeness(completeness));
    }

    static Completeness completeness(List<Double> errors) {
        if (errors.isEmpty()) return null;
        double[] v = errors.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        int over = 0;
        for (double x : v) if (x > COMPLETENESS_WARNING) over++;
        return new Completeness(Stat.of(errors), median, v[v.length - 1], over);
    }

    private static void addFinite(List<Double> to, double v) {
        if (Double.isFinite(v)) to.add(v);
    }

    static double fraction(String key) {
        try {
            return Double.parseDouble(key);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    static Optional<PairedTest> pairedF1(String a, String b, List<ExampleResult> ok) {
        List<double[]> pairs = new ArrayList<>();
        for (ExampleResult r : ok) {
            double x = f1(r, a), y = f1(r, b);
            if (Double.isFinite(x) && Double.isFinite(y)) pairs.add(new double[]{x, y});
        }
        return paired(a, b, "f1", pairs);
    }

    static Optional<PairedTest> pairedFlip(String a, String b, List<ExampleResult> ok) {
        List<double[]> pairs = new ArrayList<>();
        for (ExampleResult r : ok) {
            ExampleResult.Masked x = main(r, a), y = main(r, b);
            if (x != null && y != null) pairs.add(new double[]{x.flipped() ? 1 : 0, y.flipped() ? 1 : 0});
        }
        return paired(a, b, "flip", pairs);
    }

    private static Optional<PairedTest> paired(String a, String b, String metric, List<double[]> pairs) {
        if (pairs.isEmpty()) return Optional.empty();
        double[] x = new double[pairs.size()], y = new double[pairs.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = pairs.get(i)[0];
            y[i] = pairs.get(i)[1];
        }
        Bootstrap.PairedTest t = Bootstrap.pairedTest(x, y);
        return Optional.of(new PairedTest(a, b, metric, x.length, t.meanA(), t.meanB(), t.difference().mean(),
                t.difference().lower(), t.difference().upper(), t.pValue()));
    }

    private static double f1(ExampleResult r, String method) {
        ExampleResult.MethodResult m = r.methods() == null ? null : r.methods().get(method);
        return m == null || m.alignment() == null ? Double.NaN : m.alignment().f1();
    }

    private static ExampleResult.Masked main(ExampleResult r, String method) {
        ExampleResult.MethodResult m = r.methods() == null ? null : r.methods().get(method);
        return m == null || m.faithfulness() == null ? null : m.faithfulness().main();
    }

    /** The fractions of the flip-rate-vs-k curve over all methods, ascending, as their keys. */
    public List<String> curveFractions() {
        TreeMap<Double, String> keys = new TreeMap<>();
        for (MethodSummary m : methods.values()) for (String k : m.flipRateByFraction().keySet()) keys.putIfAbsent(fraction(k), k);
        return List.copyOf(keys.values());
    }
}
