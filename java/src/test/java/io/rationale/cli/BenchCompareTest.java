package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.perf.JmhComparison;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static io.rationale.cli.CliErrorsTest.assertOneLineError;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code bench compare} on synthetic JMH result files in the shape {@code -rf json} writes (one object per benchmark,
 * mode and params; {@code primaryMetric.rawData} per fork, per iteration), with known changes: a slower candidate
 * (significant and beyond the threshold: exit 3), a faster one (exit 0, an improvement), noisy equal ones (exit 0),
 * too few samples (a warning, exit 0), a benchmark missing on one side (a warning).
 */
class BenchCompareTest {
    private static final ObjectMapper M = new ObjectMapper();
    private static final String EB = "io.rationale.bench.EngineBench.prefill64", AB = "io.rationale.bench.AttributionBench.saliency";

    /** One JMH result object: forks × iterations samples drawn as {@code center·(1 + noise·u)}, u uniform in [-1, 1). */
    static Map<String, Object> result(String benchmark, String mode, String unit, Map<String, String> params, double center,
                                      double noise, int forks, int iterations, long seed, String vmVersion) {
        SplittableRandom r = new SplittableRandom(seed);
        List<List<Double>> raw = new ArrayList<>();
        List<Double> all = new ArrayList<>();
        for (int f = 0; f < forks; f++) {
            List<Double> it = new ArrayList<>();
            for (int i = 0; i < iterations; i++) {
                double v = center * (1 + noise * (2 * r.nextDouble() - 1));
                it.add(v);
                all.add(v);
            }
            raw.add(it);
        }
        double mean = all.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        Map<String, Object> pm = new LinkedHashMap<>();
        pm.put("score", mean);
        pm.put("scoreError", 0.0);
        pm.put("scoreConfidence", List.of(mean, mean));
        pm.put("scorePercentiles", Map.of("0.0", mean, "50.0", mean, "100.0", mean));
        pm.put("scoreUnit", unit);
        pm.put("rawData", raw);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("jmhVersion", "1.37");
        o.put("benchmark", benchmark);
        o.put("mode", mode);
        o.put("threads", 1);
        o.put("forks", forks);
        o.put("jvm", "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");
        o.put("jvmArgs", List.of("--add-modules=jdk.incubator.vector", "-Xmx20g"));
        o.put("jdkVersion", "25");
        o.put("vmName", "OpenJDK 64-Bit Server VM");
        o.put("vmVersion", vmVersion);
        o.put("warmupIterations", 2);
        o.put("warmupTime", "10 s");
        o.put("warmupBatchSize", 1);
        o.put("measurementIterations", iterations);
        o.put("measurementTime", "10 s");
        o.put("measurementBatchSize", 1);
        if (!params.isEmpty()) o.put("params", params);
        o.put("primaryMetric", pm);
        o.put("secondaryMetrics", Map.of());
        return o;
    }

    static Path write(Path dir, String name, List<Map<String, Object>> results) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, M.writerWithDefaultPrettyPrinter().writeValueAsString(results));
        return p;
    }

    private static final Map<String, String> RATIONALE = Map.of("engine", "rationale");

    @Test
    void slowerThroughputIsARegression(@TempDir Path tmp) throws Exception {
        // prefill tokens/s drops by 20% (thrpt: higher is better); 2 forks × 10 iterations, ±3% noise
        Path b = write(tmp, "base.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.03, 2, 10, 1, "25+36-LTS")));
        Path c = write(tmp, "cand.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 80, 0.03, 2, 10, 2, "25+36-LTS")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        assertEquals(BenchCompareCommand.EXIT_REGRESSION, r.exitCode(), r.err());
        JsonNode row = M.readTree(r.out()).at("/benchmarks/0");
        assertEquals("regression", row.get("verdict").asText());
        assertEquals("higher", row.get("better").asText());
        assertEquals(-0.20, row.get("change").asDouble(), 0.04, "the medians differ by about 20% (noise ±3%)");
        // every candidate sample (≤ 82.4) lies below every baseline sample (≥ 97): U = 0, so p is the smallest possible
        assertEquals(JmhComparison.minP(20, 20), row.get("p").asDouble(), 1e-15);
        assertTrue(row.get("p").asDouble() < 0.01);
        JsonNode ci = row.get("change_ci");
        assertTrue(ci.get(0).asDouble() <= row.get("change").asDouble() && row.get("change").asDouble() <= ci.get(1).asDouble(), ci.toString());
        assertTrue(ci.get(1).asDouble() < -0.10, "the whole interval is a slowdown: " + ci);
        assertFalse(r.err().contains("warning"), r.err());

        // the same change within a 25% threshold is significant but not a regression
        CliRun lenient = CliRun.of("bench", "compare", b.toString(), c.toString(), "--threshold", "25%");
        assertEquals(0, lenient.exitCode(), lenient.err());
        assertTrue(lenient.out().contains("within threshold"), lenient.out());
    }

    @Test
    void fasterAverageTimeIsAnImprovement(@TempDir Path tmp) throws Exception {
        // ms per attribution drops from 50 to 40 (avgt: lower is better)
        Path b = write(tmp, "base.json", List.of(result(AB, "avgt", "ms/op", Map.of(), 50, 0.02, 1, 12, 3, "25+36-LTS")));
        Path c = write(tmp, "cand.json", List.of(result(AB, "avgt", "ms/op", Map.of(), 40, 0.02, 1, 12, 4, "25+36-LTS")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("Threshold 5%"), r.out());
        String line = r.out().lines().filter(l -> l.startsWith("| AttributionBench.saliency")).findFirst().orElseThrow();
        assertTrue(line.contains("| improvement |"), line);
        assertTrue(line.contains("-20.") || line.contains("-19.") || line.contains("-21."), "change about -20%: " + line);

        // and the other way round the same pair is a regression: slower time per op
        CliRun back = CliRun.of("bench", "compare", c.toString(), b.toString());
        assertEquals(BenchCompareTest.regressionExit(), back.exitCode(), back.err());
    }

    static int regressionExit() { return BenchCompareCommand.EXIT_REGRESSION; }

    @Test
    void noisyNoChangeIsNotARegression(@TempDir Path tmp) throws Exception {
        // both sides from the same distribution with ±30% noise: the medians may differ by several percent, but the
        // test must not call it significant at alpha 0.01 (checked over 20 seeds: a false alarm rate of 1% would make
        // a failure here unlikely, at most ~20% over all seeds, and seeds are fixed so the result is deterministic)
        for (int seed = 0; seed < 20; seed++) {
            var b = List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.30, 2, 10, 100 + seed, "25+36-LTS"));
            var c = List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.30, 2, 10, 200 + seed, "25+36-LTS"));
            JmhComparison.Report rep = JmhComparison.compare(io.rationale.perf.JmhResultsAccess.parse(b), io.rationale.perf.JmhResultsAccess.parse(c),
                    new JmhComparison.Options(0.05, 0.01, 200));
            assertFalse(rep.regression(), "seed " + seed + ": " + rep.markdown());
        }
        Path b = write(tmp, "base.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.30, 2, 10, 100, "25+36-LTS")));
        Path c = write(tmp, "cand.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.30, 2, 10, 200, "25+36-LTS")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode row = M.readTree(r.out()).at("/benchmarks/0");
        assertTrue(row.get("p").asDouble() >= 0.01, row.toString());
        assertEquals("no significant change", row.get("verdict").asText());
    }

    @Test
    void tooFewSamplesWarnAndPass(@TempDir Path tmp) throws Exception {
        // 3 against 3 iterations: even completely separated sets give p = 0.1 > 0.01, so a 50% slowdown cannot be called
        Path b = write(tmp, "base.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.01, 1, 3, 5, "25+36-LTS")));
        Path c = write(tmp, "cand.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 50, 0.01, 1, 3, 6, "25+36-LTS")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("3 and 3 samples") && r.err().contains("not below alpha"), r.err());
        assertTrue(JmhComparison.minP(3, 3) > 0.01, "the premise: 3 vs 3 cannot reach 0.01");
        // exact: complete separation is 2 of the C(6, 3) = 20 ways to split the ranks
        assertEquals(0.1, JmhComparison.minP(3, 3), 1e-12);
        assertTrue(r.out().contains("| no significant change |"), r.out());
        // benchmarks/README.md: at alpha 0.01 the test needs at least 5 + 5 samples (2/252 = 0.0079), and 4 + 5
        // (2/126 = 0.0159) is not enough
        assertEquals(2.0 / 252, JmhComparison.minP(5, 5), 1e-15);
        assertEquals(2.0 / 126, JmhComparison.minP(4, 5), 1e-15);
        assertTrue(JmhComparison.minP(4, 4) >= 0.01);
        // with a looser alpha the same data is a regression: the warning is about alpha, not the data
        CliRun loose = CliRun.of("bench", "compare", b.toString(), c.toString(), "--alpha", "0.15");
        assertEquals(BenchCompareCommand.EXIT_REGRESSION, loose.exitCode(), loose.out() + loose.err());
    }

    /** {@code r} with its samples replaced by {@code raw} (per fork, per iteration). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> withSamples(Map<String, Object> r, List<List<Double>> raw) {
        ((Map<String, Object>) r.get("primaryMetric")).put("rawData", raw);
        return r;
    }

    @Test
    void smallSamplesAreTestedExactlyWithTheirTies(@TempDir Path tmp) throws Exception {
        // single-shot times at a 1 ms clock: many ties. Exact p by brute force in Python (fractions, every one of the
        // C(20, 10) = 184756 ways to choose the baseline's 10 average ranks among the pooled 20): 2262 of them lie at
        // least as far from the mean rank sum as the observed one, p = 0.012243. The normal approximations give 0.0088
        // (tie-corrected variance) and 0.0126 (without): the corrected one would call a regression the data does not show.
        List<Double> base = List.of(10.0, 10.0, 10.0, 11.0, 11.0, 11.0, 12.0, 12.0, 10.0, 11.0);
        List<Double> cand = List.of(11.0, 11.0, 12.0, 12.0, 12.0, 13.0, 13.0, 11.0, 12.0, 12.0);
        Path b = write(tmp, "base.json", List.of(withSamples(result(AB, "ss", "ms/op", Map.of(), 1, 0, 1, 10, 1, "25"), List.of(base))));
        Path c = write(tmp, "cand.json", List.of(withSamples(result(AB, "ss", "ms/op", Map.of(), 1, 0, 1, 10, 2, "25"), List.of(cand))));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        JsonNode row = M.readTree(r.out()).at("/benchmarks/0");
        assertEquals(2262.0 / 184756, row.get("p").asDouble(), 1e-12, row.toString());
        assertEquals(12.0 / 11 - 1, row.get("change").asDouble(), 1e-12);
        assertEquals("no significant change", row.get("verdict").asText(), "p 0.0122 is not below alpha 0.01");
        assertEquals(0, r.exitCode(), r.err());
        CliRun loose = CliRun.of("bench", "compare", b.toString(), c.toString(), "--alpha", "0.05");
        assertEquals(BenchCompareCommand.EXIT_REGRESSION, loose.exitCode(), "ss: 9% more time per shot, significant at 0.05");

        // the same brute force: {1,2,2,3} against {2,3,3,4,5}: 14 of 126; untied 5 against 6: 198 of 462;
        // separated 3 against 3: 2 of 20 (the normal approximation said 0.0495)
        assertEquals(14.0 / 126, JmhComparison.mannWhitneyP(new double[]{1, 2, 2, 3}, new double[]{2, 3, 3, 4, 5}), 1e-12);
        assertEquals(198.0 / 462, JmhComparison.mannWhitneyP(new double[]{1.5, 2.25, 3.125, 7.0, 8.5}, new double[]{2.0, 4.0, 5.0, 6.0, 9.0, 10.0}), 1e-12);
        assertEquals(0.1, JmhComparison.mannWhitneyP(new double[]{0, 1, 2}, new double[]{3, 4, 5}), 1e-12);
        assertEquals(1.0, JmhComparison.mannWhitneyP(new double[]{4, 4}, new double[]{4, 4, 4}), 0, "all equal: no evidence");
    }

    @Test
    void largeSamplesUseTheNormalApproximationWithTheTieCorrectedVariance() {
        // 60 + 60 samples (beyond EXACT_MAX_N), integers 100-110 against 101-113: heavy ties. The tie-corrected normal
        // approximation (σ² = n₁n₂/12·((n+1) − Σ(t³−t)/(n(n−1))), no continuity correction) recomputed in Python:
        // 0.011489223311068398
        double[] base = new double[60], cand = new double[60];
        for (int i = 0; i < 60; i++) {
            base[i] = (i * 37) % 11 + 100;
            cand[i] = (i * 53) % 13 + 101;
        }
        assertTrue(base.length + cand.length > JmhComparison.EXACT_MAX_N);
        assertEquals(0.011489223311068398, JmhComparison.mannWhitneyP(base, cand), 1e-12);
        // without ties it is commons-math3's value
        double[] x = new double[60], y = new double[61];
        for (int i = 0; i < 60; i++) x[i] = i * 1.5 + (i % 7) * 0.01;
        for (int i = 0; i < 61; i++) y[i] = i * 1.5 + 3.3 + (i % 5) * 0.013;
        assertEquals(new org.apache.commons.math3.stat.inference.MannWhitneyUTest().mannWhitneyUTest(x, y), JmhComparison.mannWhitneyP(x, y), 1e-15);
    }

    @Test
    void missingBenchmarksAndDifferentJvmsWarn(@TempDir Path tmp) throws Exception {
        var shared = result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 10, 7, "25+36-LTS");
        var sharedC = result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 10, 8, "25.0.1+8-LTS");
        var onlyBase = result(EB, "thrpt", "ops/s", Map.of("engine", "jlama"), 20, 0.02, 1, 10, 9, "25+36-LTS");
        var onlyCand = result(AB, "avgt", "ms/op", Map.of(), 40, 0.02, 1, 10, 10, "25.0.1+8-LTS");
        Path b = write(tmp, "base.json", List.of(shared, onlyBase));
        Path c = write(tmp, "cand.json", List.of(sharedC, onlyCand));
        Files.writeString(tmp.resolve("base.machine.json"), "{\"cpu\":\"AMD EPYC 9654\",\"cores\":2}");
        Files.writeString(tmp.resolve("cand.machine.json"), "{\"cpu\":\"Intel Xeon 8480\",\"cores\":2}");
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("missing in the candidate: " + EB + " [thrpt] {engine=jlama}"), r.err());
        assertTrue(r.err().contains("missing in the baseline: " + AB + " [avgt]"), r.err());
        assertTrue(r.err().contains("different JVMs: vmVersion is '25+36-LTS' in the baseline, '25.0.1+8-LTS' in the candidate"), r.err());
        assertTrue(r.err().contains("different machines: cpu is 'AMD EPYC 9654'"), r.err());
        assertFalse(r.err().contains("cores is"), "equal facts are not reported: " + r.err());
        JsonNode j = M.readTree(r.out());
        assertEquals(1, j.get("benchmarks").size(), "only the benchmark on both sides is compared");
        assertEquals(1, j.get("only_baseline").size());
        assertEquals(1, j.get("only_candidate").size());
    }

    @Test
    void concatenatedRunsPoolTheirSamples(@TempDir Path tmp) throws Exception {
        // two runs of 4 iterations each per side, concatenated into one array (jq -s add): 8 + 8 samples, enough to
        // call a 30% slowdown (4 + 4 alone could not reach alpha 0.01)
        Path b = write(tmp, "base.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 4, 21, "25"),
                result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 4, 22, "25")));
        Path c = write(tmp, "cand.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 70, 0.02, 1, 4, 23, "25"),
                result(EB, "thrpt", "ops/s", RATIONALE, 70, 0.02, 1, 4, 24, "25")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        assertEquals(BenchCompareCommand.EXIT_REGRESSION, r.exitCode(), r.err());
        JsonNode row = M.readTree(r.out()).at("/benchmarks/0");
        assertEquals(8, row.get("n_baseline").asInt());
        assertEquals(8, row.get("n_candidate").asInt());
        assertEquals(1, M.readTree(r.out()).get("benchmarks").size());
    }

    @Test
    void unitsOfOneKindAreConverted(@TempDir Path tmp) throws Exception {
        // 40 ms/op against 40000 us/op: the same time
        Path b = write(tmp, "base.json", List.of(result(AB, "avgt", "ms/op", Map.of(), 40, 0.02, 1, 10, 11, "25+36-LTS")));
        Path c = write(tmp, "cand.json", List.of(result(AB, "avgt", "us/op", Map.of(), 40000, 0.02, 1, 10, 12, "25+36-LTS")));
        CliRun r = CliRun.of("bench", "compare", b.toString(), c.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode row = M.readTree(r.out()).at("/benchmarks/0");
        assertEquals(40, row.get("median_candidate").asDouble(), 40 * 0.02);
        assertEquals(0, row.get("change").asDouble(), 0.04);
    }

    @Test
    void badInput(@TempDir Path tmp) throws Exception {
        Path good = write(tmp, "good.json", List.of(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 10, 1, "25")));
        Path other = write(tmp, "other.json", List.of(result(AB, "avgt", "ms/op", Map.of(), 40, 0.02, 1, 10, 1, "25")));
        Files.writeString(tmp.resolve("broken.json"), "{\"benchmark\": 1}");
        Files.writeString(tmp.resolve("norows.json"), "[{\"benchmark\": \"x.Y.z\", \"mode\": \"avgt\", \"primaryMetric\": {\"scoreUnit\": \"ms/op\"}}]");
        assertOneLineError(CliRun.of("bench", "compare", good.toString()), 2, "CANDIDATE.json");
        assertOneLineError(CliRun.of("bench", "compare", good.toString(), good.toString(), "--threshold", "five"), 2, "--threshold", "five");
        assertOneLineError(CliRun.of("bench", "compare", good.toString(), good.toString(), "--threshold", "5"), 2, "--threshold", "5%");
        assertOneLineError(CliRun.of("bench", "compare", good.toString(), good.toString(), "--alpha", "1.5"), 2, "alpha");
        assertOneLineError(CliRun.of("bench", "compare", tmp.resolve("none.json").toString(), good.toString()), 1, "none.json", "no such file");
        assertOneLineError(CliRun.of("bench", "compare", good.toString(), tmp.toString()), 1, tmp.toString(), "a folder, not a JMH result file");
        assertOneLineError(CliRun.of("bench", "compare", tmp.resolve("broken.json").toString(), good.toString()), 1, "broken.json", "array");
        assertOneLineError(CliRun.of("bench", "compare", tmp.resolve("norows.json").toString(), good.toString()), 1, "norows.json", "result 0", "rawData");
        // JMH run with -Djmh.json.rawData=false writes no samples: nothing can be compared, so the gate must not pass
        Path noSamples = write(tmp, "noraw.json", List.of(withSamples(result(EB, "thrpt", "ops/s", RATIONALE, 100, 0.02, 1, 10, 1, "25"), List.of())));
        CliRun empty = CliRun.of("bench", "compare", noSamples.toString(), noSamples.toString());
        assertEquals(1, empty.exitCode(), empty.err());
        assertTrue(empty.err().lines().filter(l -> l.startsWith("rationale: ")).toList()
                .equals(List.of("rationale: no benchmark could be compared: each of the 1 in common is incomparable (no samples, see the warnings)")), empty.err());
        CliRun disjoint = CliRun.of("bench", "compare", good.toString(), other.toString());
        assertEquals(1, disjoint.exitCode());
        assertTrue(disjoint.err().contains("no benchmark in common"), disjoint.err());
    }

    @Test
    void benchOptionsStillWork() {
        // the subcommand does not change bench itself: a source is still required, and the options still parse
        assertOneLineError(CliRun.of("bench"), 2, "--model", "--preset");
        assertOneLineError(CliRun.of("bench", "--preset", "tiny", "--repeat", "0"), 2, "--repeat");
    }

    @Test
    void machineSidecar(@TempDir Path tmp) throws Exception {
        Path res = tmp.resolve("run.json");
        CliRun r = CliRun.of("bench", "machine", "--for", res.toString());
        assertEquals(0, r.exitCode(), r.err());
        JsonNode m = M.readTree(tmp.resolve("run.machine.json").toFile());
        assertEquals(Runtime.getRuntime().availableProcessors(), m.get("cores").asInt());
        assertTrue(m.has("cpu") && m.has("java") && m.has("memory_bytes"), m.toString());
    }
}
