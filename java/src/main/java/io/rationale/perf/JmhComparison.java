package io.rationale.perf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.commons.math3.distribution.NormalDistribution;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The regression gate of {@code bench compare}: two JMH result files, a baseline and a candidate, benchmark by
 * benchmark.
 *
 * <ul>
 *   <li>Results are matched by benchmark name, mode and parameters ({@link JmhResults.Key}); one on only one side is
 *       a warning. A key that occurs several times in one file (runs concatenated) pools its samples.</li>
 *   <li>Which direction is better comes from the mode: {@code thrpt} (operations per time) higher; {@code avgt},
 *       {@code sample}, {@code ss} (time per operation) lower. Scores in different units of the same kind
 *       ({@code ms/op} against {@code us/op}) are converted to the baseline's.</li>
 *   <li>The samples are the measurement iterations of all forks ({@link JmhResults}). The two sets are tested with
 *       the two-sided Mann–Whitney U test ({@link #mannWhitneyP}: ties ranked by their average; exact up to
 *       {@link #EXACT_MAX_N} pooled samples, beyond by the normal approximation with the tie-corrected variance and
 *       no continuity correction), and the change is the ratio of the medians, {@code median(candidate) /
 *       median(baseline) − 1}, on the score (so −10% in {@code thrpt} is 10% fewer operations per second), with a
 *       percentile bootstrap interval at level 1 − alpha ({@link Options#bootstrap} resamples of each side, a fixed
 *       seed: the same files give the same interval).</li>
 *   <li>Verdict: {@code regression} when p &lt; alpha and the score moved by more than the threshold in the worse
 *       direction (thrpt: candidate &lt; baseline·(1 − t); the others: candidate &gt; baseline·(1 + t));
 *       {@code improvement} likewise in the better direction; {@code within threshold} when significant but smaller;
 *       {@code no significant change} otherwise.</li>
 *   <li>Warnings: a benchmark on one side only; too few samples for the test to ever reach alpha (the p-value of two
 *       completely separated sets of those sizes, by the same test, is not below alpha); different JVMs
 *       ({@code jvm}, {@code jdkVersion}, {@code vmName}, {@code vmVersion}, {@code jvmArgs}), thread counts or
 *       machines. JMH records no machine; a sidecar next to a result file, {@code NAME.machine.json} for
 *       {@code NAME.json} (written by {@code bench machine}), is compared key by key when both files have one.</li>
 * </ul>
 */
public final class JmhComparison {

    /**
     * Settings of a comparison.
     *
     * @param threshold relative change of the score (0.05 = 5%) a regression must exceed
     * @param alpha     significance level of the Mann–Whitney test
     * @param bootstrap resamples for the interval of the median ratio (0: none)
     */
    public record Options(double threshold, double alpha, int bootstrap) {
        public Options {
            if (!(threshold >= 0) || !Double.isFinite(threshold)) throw new IllegalArgumentException("threshold must be >= 0, got " + threshold);
            if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("alpha must be in (0, 1), got " + alpha);
            if (bootstrap < 0) throw new IllegalArgumentException("bootstrap resamples must be >= 0, got " + bootstrap);
        }
    }

    /** What a comparison found for one benchmark. */
    public enum Verdict {
        REGRESSION("regression"), IMPROVEMENT("improvement"), WITHIN_THRESHOLD("within threshold"),
        NO_CHANGE("no significant change"), INCOMPARABLE("incomparable");

        public final String text;

        Verdict(String text) { this.text = text; }
    }

    /**
     * One matched benchmark.
     *
     * @param change      median(candidate)/median(baseline) − 1 of the score (NaN when incomparable)
     * @param changeLow   lower end of the bootstrap interval of the change (NaN without bootstrap)
     * @param changeHigh  upper end
     * @param p           two-sided Mann–Whitney p-value (NaN when incomparable)
     * @param minP        the smallest p-value the test can give for these sample sizes
     */
    public record Row(JmhResults.Key key, String unit, boolean higherIsBetter, int nBaseline, int nCandidate,
                      double medianBaseline, double medianCandidate, double change, double changeLow, double changeHigh,
                      double p, double minP, Verdict verdict, String note) {
        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("benchmark", key.benchmark());
            m.put("mode", key.mode());
            m.put("params", key.params());
            m.put("unit", unit);
            m.put("better", higherIsBetter ? "higher" : "lower");
            m.put("n_baseline", nBaseline);
            m.put("n_candidate", nCandidate);
            m.put("median_baseline", finite(medianBaseline));
            m.put("median_candidate", finite(medianCandidate));
            m.put("change", finite(change));
            m.put("change_ci", Double.isNaN(changeLow) ? null : List.of(changeLow, changeHigh));
            m.put("p", finite(p));
            m.put("min_p", finite(minP));
            m.put("verdict", verdict.text);
            if (note != null) m.put("note", note);
            return m;
        }
    }

    /** The whole comparison: rows in baseline order, warnings, and whether any row is a regression. */
    public record Report(Options options, List<Row> rows, List<String> warnings, List<JmhResults.Key> onlyBaseline,
                         List<JmhResults.Key> onlyCandidate) {
        public boolean regression() { return rows.stream().anyMatch(r -> r.verdict == Verdict.REGRESSION); }

        /** The report as a JSON-ready map. */
        public Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("threshold", options.threshold());
            m.put("alpha", options.alpha());
            m.put("bootstrap", options.bootstrap());
            m.put("regression", regression());
            m.put("benchmarks", rows.stream().map(Row::json).toList());
            m.put("only_baseline", onlyBaseline.stream().map(JmhResults.Key::toString).toList());
            m.put("only_candidate", onlyCandidate.stream().map(JmhResults.Key::toString).toList());
            m.put("warnings", warnings);
            return m;
        }

        /** A markdown table, one row per matched benchmark. */
        public String markdown() {
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "Threshold %s, alpha %s (two-sided Mann-Whitney U on the iteration samples)%s%n%n",
                    percent(options.threshold()), options.alpha(),
                    options.bootstrap() > 0 ? "; change interval: " + percent(1 - options.alpha()) + " bootstrap of the median ratio" : ""));
            b.append("| benchmark | mode | params | baseline | candidate | unit | change | interval | p | n | verdict |\n");
            b.append("|---|---|---|---:|---:|---|---:|---|---:|---|---|\n");
            for (Row r : rows) {
                b.append("| ").append(shortName(r.key.benchmark())).append(" | ").append(r.key.mode()).append(" | ")
                        .append(r.key.paramsText().isEmpty() ? "" : r.key.paramsText()).append(" | ")
                        .append(num(r.medianBaseline)).append(" | ").append(num(r.medianCandidate)).append(" | ").append(r.unit).append(" | ")
                        .append(Double.isNaN(r.change) ? "" : signedPercent(r.change)).append(" | ")
                        .append(Double.isNaN(r.changeLow) ? "" : "[" + signedPercent(r.changeLow) + ", " + signedPercent(r.changeHigh) + "]").append(" | ")
                        .append(Double.isNaN(r.p) ? "" : String.format(Locale.ROOT, "%.3g", r.p)).append(" | ")
                        .append(r.nBaseline).append('/').append(r.nCandidate).append(" | ")
                        .append(r.verdict.text).append(r.note == null ? "" : " (" + r.note + ")").append(" |\n");
            }
            return b.toString();
        }
    }

    private JmhComparison() {}

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Reads both files (and their machine sidecars, if any) and compares them. */
    public static Report compare(Path baseline, Path candidate, Options o) throws IOException {
        List<JmhResults.Result> b = JmhResults.read(baseline), c = JmhResults.read(candidate);
        Report r = compare(b, c, o);
        List<String> warnings = new ArrayList<>(r.warnings());
        Map<String, String> mb = machine(baseline), mc = machine(candidate);
        if (mb != null && mc != null) {
            for (String k : new LinkedHashSet<>(union(mb.keySet(), mc.keySet())))
                if (!Objects.equals(mb.get(k), mc.get(k)))
                    warnings.add(0, "different machines: " + k + " is '" + mb.get(k) + "' in the baseline, '" + mc.get(k) + "' in the candidate");
        } else if (mb != null || mc != null) {
            warnings.add(0, "only the " + (mb != null ? "baseline" : "candidate") + " has a machine sidecar (" + sidecar(mb != null ? baseline : candidate)
                    + "): the machines cannot be compared");
        }
        return new Report(o, r.rows(), warnings, r.onlyBaseline(), r.onlyCandidate());
    }

    /** {@code NAME.machine.json} for {@code NAME.json} (else {@code FILE.machine.json}). */
    public static Path sidecar(Path resultFile) {
        String n = resultFile.getFileName().toString();
        String base = n.endsWith(".json") ? n.substring(0, n.length() - 5) : n;
        return resultFile.resolveSibling(base + ".machine.json");
    }

    private static Map<String, String> machine(Path resultFile) throws IOException {
        Path s = sidecar(resultFile);
        if (!Files.isRegularFile(s)) return null;
        JsonNode n;
        try {
            n = MAPPER.readTree(s.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(s + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException(s + ": not a JSON object of machine facts");
        Map<String, String> m = new LinkedHashMap<>();
        n.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString()));
        return m;
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> s = new LinkedHashSet<>(a);
        s.addAll(b);
        return s;
    }

    /** Compares parsed results (no machine sidecars). */
    public static Report compare(List<JmhResults.Result> baseline, List<JmhResults.Result> candidate, Options o) {
        Map<JmhResults.Key, JmhResults.Result> cand = merged(candidate), base = merged(baseline);
        List<Row> rows = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<JmhResults.Key> onlyB = new ArrayList<>(), onlyC = new ArrayList<>();
        Set<String> jvmDiffs = new LinkedHashSet<>();
        for (JmhResults.Result b : base.values()) {
            JmhResults.Result c = cand.get(b.key());
            if (c == null) {
                onlyB.add(b.key());
                warnings.add("missing in the candidate: " + b.key());
                continue;
            }
            rows.add(row(b, c, o, warnings));
            b.jvm().fields().forEach((k, v) -> {
                Object w = c.jvm().fields().get(k);
                if (!Objects.equals(v, w)) jvmDiffs.add(k + " is '" + text(v) + "' in the baseline, '" + text(w) + "' in the candidate");
            });
            if (b.threads() != c.threads())
                warnings.add(b.key() + ": " + b.threads() + " benchmark thread(s) in the baseline, " + c.threads() + " in the candidate");
        }
        for (JmhResults.Key k : cand.keySet())
            if (!base.containsKey(k)) {
                onlyC.add(k);
                warnings.add("missing in the baseline: " + k);
            }
        List<String> all = new ArrayList<>();
        for (String d : jvmDiffs) all.add("different JVMs: " + d);
        all.addAll(warnings);
        return new Report(o, rows, all, onlyB, onlyC);
    }

    /**
     * Results by key; a key that occurs several times (files of several runs concatenated, e.g. {@code jq -s add},
     * to interleave baseline and candidate runs) pools its samples, in order.
     */
    static Map<JmhResults.Key, JmhResults.Result> merged(List<JmhResults.Result> results) {
        Map<JmhResults.Key, JmhResults.Result> m = new LinkedHashMap<>();
        for (JmhResults.Result r : results)
            m.merge(r.key(), r, (a, b) -> {
                if (!a.unit().equals(b.unit()))
                    throw new IllegalArgumentException(a.key() + " occurs with units " + a.unit() + " and " + b.unit() + " in one file");
                double[] x = Arrays.copyOf(a.samples(), a.samples().length + b.samples().length);
                System.arraycopy(b.samples(), 0, x, a.samples().length, b.samples().length);
                return new JmhResults.Result(a.key(), a.unit(), a.threads(), a.forks() + b.forks(), a.jvm(), x);
            });
        return m;
    }

    private static String text(Object v) { return v == null ? "(not recorded)" : v.toString(); }

    /** Whether higher scores are better in {@code mode}; null for a mode this gate does not know. */
    public static Boolean higherIsBetter(String mode) {
        return switch (mode) {
            case "thrpt" -> true;
            case "avgt", "sample", "ss" -> false;
            default -> null;
        };
    }

    private static Row row(JmhResults.Result b, JmhResults.Result c, Options o, List<String> warnings) {
        Boolean higher = higherIsBetter(b.key().mode());
        double[] xb = b.samples(), xc = c.samples();
        if (higher == null)
            return incomparable(b, c, true, "unknown mode '" + b.key().mode() + "'", warnings);
        if (!b.unit().equals(c.unit())) {
            double f = Units.factor(c.unit(), b.unit());
            if (Double.isNaN(f)) return incomparable(b, c, higher, "units " + b.unit() + " and " + c.unit() + " do not convert", warnings);
            xc = Arrays.stream(xc).map(v -> v * f).toArray();
        }
        if (xb.length == 0 || xc.length == 0) return incomparable(b, c, higher, "no samples", warnings);
        double mb = Quantiles.median(xb), mc = Quantiles.median(xc);
        double change = mc / mb - 1;
        double minP = minP(xb.length, xc.length);
        if (!(minP < o.alpha()))
            warnings.add(String.format(Locale.ROOT, "%s: %d and %d samples: the smallest p-value the test can give (untied samples) is %.3g, not below alpha %s; "
                    + "no change can be significant (run more iterations or forks)", b.key(), xb.length, xc.length, minP, o.alpha()));
        double p = mannWhitneyP(xb, xc);
        double[] ci = o.bootstrap() > 0 ? bootstrap(xb, xc, o.bootstrap(), o.alpha()) : new double[]{Double.NaN, Double.NaN};
        double worse = higher ? -change : change;         // > 0: the candidate is worse
        boolean significant = p < o.alpha();
        Verdict v = !significant ? Verdict.NO_CHANGE
                : worse > o.threshold() ? Verdict.REGRESSION
                : -worse > o.threshold() ? Verdict.IMPROVEMENT
                : Verdict.WITHIN_THRESHOLD;
        return new Row(b.key(), b.unit(), higher, xb.length, xc.length, mb, mc, change, ci[0], ci[1], p, minP, v,
                b.unit().equals(c.unit()) ? null : "candidate converted from " + c.unit());
    }

    private static Row incomparable(JmhResults.Result b, JmhResults.Result c, boolean higher, String why, List<String> warnings) {
        warnings.add(b.key() + ": not compared: " + why);
        return new Row(b.key(), b.unit(), higher, b.samples().length, c.samples().length, Quantiles.median(b.samples()), Double.NaN,
                Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Verdict.INCOMPARABLE, why);
    }

    /** The p-value of two completely separated sample sets of sizes n1 and n2: the smallest the test can give. */
    public static double minP(int n1, int n2) {
        if (n1 < 1 || n2 < 1) return 1;
        double[] a = new double[n1], b = new double[n2];
        for (int i = 0; i < n1; i++) a[i] = i;
        for (int i = 0; i < n2; i++) b[i] = n1 + i;
        return mannWhitneyP(a, b);
    }

    /** Pooled sample sizes up to which {@link #mannWhitneyP} is exact; beyond, the normal approximation. */
    public static final int EXACT_MAX_N = 100;

    /**
     * The two-sided p-value of the Mann–Whitney U test of {@code a} against {@code b}. Ranks of the pooled samples,
     * ties getting the average of their ranks; {@code R_a} the rank sum of {@code a}.
     * <ul>
     *   <li>Up to {@link #EXACT_MAX_N} pooled samples, exact: the share of the {@code C(n, n_a)} ways to choose
     *       {@code n_a} of the pooled ranks (ties kept as they are: the permutation distribution given the ties) whose
     *       rank sum lies at least as far from its mean {@code n_a(n + 1)/2} as {@code R_a} does. For two completely
     *       separated samples this is {@code 2 / C(n, n_a)}; the normal approximation is far off at such sizes (3 + 3:
     *       0.0495 instead of 0.1).</li>
     *   <li>Beyond, the normal approximation: {@code U = R_a − n_a(n_a + 1)/2},
     *       {@code z = (min(U, n_a·n_b − U) − n_a·n_b/2) / σ} with the tie-corrected
     *       {@code σ² = n_a·n_b/12 · ((n + 1) − Σ(t³ − t) / (n(n − 1)))} (t: the size of each group of tied values,
     *       n = n_a + n_b); p = 2·Φ(z), at most 1, no continuity correction. Without ties this is the value of
     *       commons-math3's {@code MannWhitneyUTest}, whose variance leaves the tie term out (so with tied samples,
     *       e.g. {@code ss} times at a coarse clock, it is too large and the test too weak).</li>
     * </ul>
     * 1 when every value is the same or a side is empty.
     */
    public static double mannWhitneyP(double[] a, double[] b) {
        int na = a.length, nb = b.length, n = na + nb;
        if (na == 0 || nb == 0) return 1;
        double[] all = new double[n];
        System.arraycopy(a, 0, all, 0, na);
        System.arraycopy(b, 0, all, na, nb);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (i, j) -> Double.compare(all[i], all[j]));
        int[] rank2 = new int[n];                          // twice each pooled value's (average) rank: an integer
        double tieTerm = 0;
        long rankSum2A = 0;
        for (int i = 0; i < n; ) {
            int j = i;
            while (j + 1 < n && all[order[j + 1]] == all[order[i]]) j++;
            for (int k = i; k <= j; k++) {
                rank2[k] = i + j + 2;                      // 2 × the average of ranks i+1 .. j+1
                if (order[k] < na) rankSum2A += i + j + 2;
            }
            double t = j - i + 1;
            tieTerm += t * t * t - t;
            i = j + 1;
        }
        if (tieTerm == (double) n * n * n - n) return 1;   // every value the same: no evidence of a change
        if (n <= EXACT_MAX_N) return exactP(rank2, na, rankSum2A);
        double u = rankSum2A / 2.0 - na * (na + 1) / 2.0, prod = (double) na * nb;
        double var = prod / 12 * ((n + 1) - tieTerm / ((double) n * (n - 1)));
        double z = (Math.min(u, prod - u) - prod / 2) / Math.sqrt(var);
        return Math.min(1, 2 * new NormalDistribution(null, 0, 1).cumulativeProbability(z));
    }

    /**
     * The exact two-sided p-value of a doubled rank sum: how many of the ways to choose {@code k} of {@code rank2}
     * give a sum at least as far from its mean as {@code observed}, over all ways (counted per sum, in doubles: the
     * counts are exact up to 2^53 and their ratio accurate to rounding beyond).
     */
    private static double exactP(int[] rank2, int k, long observed) {
        int total = 0;
        for (int r : rank2) total += r;
        double[][] ways = new double[k + 1][total + 1];    // ways[j][s]: subsets of j ranks seen so far with sum s
        ways[0][0] = 1;
        int seen = 0;
        for (int r : rank2) {
            seen += r;
            for (int j = k; j >= 1; j--) {
                double[] to = ways[j], from = ways[j - 1];
                for (int s = seen; s >= r; s--) to[s] += from[s - r];
            }
        }
        long mean2 = (long) k * total;                     // n × the mean of the chosen sum, k·total/n
        int n = rank2.length;
        // |s − k·total/n| ≥ |observed − k·total/n|  ⇔  |n·s − k·total| ≥ |n·observed − k·total| (integers)
        long far = Math.abs(n * observed - mean2);
        double hit = 0, all = 0;
        for (int s = 0; s <= total; s++) {
            double w = ways[k][s];
            if (w == 0) continue;
            all += w;
            if (Math.abs((long) n * s - mean2) >= far) hit += w;
        }
        return Math.min(1, hit / all);
    }

    /** Percentile bootstrap interval at level 1 − alpha of median(candidate)/median(baseline) − 1 (seed 1). */
    static double[] bootstrap(double[] b, double[] c, int resamples, double alpha) {
        SplittableRandom rnd = new SplittableRandom(1);
        double[] ratios = new double[resamples];
        double[] rb = new double[b.length], rc = new double[c.length];
        for (int i = 0; i < resamples; i++) {
            for (int j = 0; j < rb.length; j++) rb[j] = b[rnd.nextInt(b.length)];
            for (int j = 0; j < rc.length; j++) rc[j] = c[rnd.nextInt(c.length)];
            ratios[i] = Quantiles.median(rc) / Quantiles.median(rb) - 1;
        }
        return new double[]{Quantiles.quantile(ratios, alpha / 2), Quantiles.quantile(ratios, 1 - alpha / 2)};
    }

    private static Object finite(double v) { return Double.isFinite(v) ? v : null; }

    private static String shortName(String benchmark) {
        int dot = benchmark.lastIndexOf('.');
        int prev = dot < 0 ? -1 : benchmark.lastIndexOf('.', dot - 1);
        return prev < 0 ? benchmark : benchmark.substring(prev + 1);
    }

    private static String num(double v) {
        if (Double.isNaN(v)) return "";
        return String.format(Locale.ROOT, Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? "%.4g" : "%.3f", v);
    }

    private static String percent(double f) {
        return new java.math.BigDecimal(100 * f).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString() + "%";
    }

    private static String signedPercent(double f) { return String.format(Locale.ROOT, "%+.2f%%", 100 * f); }

    /** JMH's score units: time per operation and operations per time. */
    static final class Units {
        private Units() {}

        /** The factor that turns a value in {@code from} into {@code to}; NaN when they are not of one kind. */
        static double factor(String from, String to) {
            double[] f = parse(from), t = parse(to);
            if (f == null || t == null || f[0] != t[0]) return Double.NaN;
            // kind 0: time/op, value·seconds(unit); kind 1: ops/time, value/seconds(unit)
            return f[0] == 0 ? f[1] / t[1] : t[1] / f[1];
        }

        /** {kind, seconds of the time unit}, or null. */
        private static double[] parse(String unit) {
            String u = unit.trim();
            if (u.endsWith("/op")) {
                double s = seconds(u.substring(0, u.length() - 3));
                return Double.isNaN(s) ? null : new double[]{0, s};
            }
            if (u.startsWith("ops/")) {
                double s = seconds(u.substring(4));
                return Double.isNaN(s) ? null : new double[]{1, s};
            }
            return null;
        }

        private static double seconds(String t) {
            return switch (t) {
                case "ns" -> 1e-9;
                case "us", "µs" -> 1e-6;
                case "ms" -> 1e-3;
                case "s" -> 1;
                case "min" -> 60;
                case "hr", "h" -> 3600;
                case "day", "d" -> 86400;
                default -> Double.NaN;
            };
        }
    }
}
