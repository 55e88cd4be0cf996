package io.rationale.perf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A JMH result file as written by {@code -rf json}: a JSON array with one object per benchmark, mode and parameter
 * set, e.g.
 * <pre>{@code
 * [ { "jmhVersion": "1.37", "benchmark": "io.rationale.bench.EngineBench.prefill64", "mode": "thrpt",
 *     "threads": 1, "forks": 1, "jvm": ".../bin/java", "jvmArgs": ["-Xmx20g"], "jdkVersion": "25",
 *     "vmName": "OpenJDK 64-Bit Server VM", "vmVersion": "25+36-LTS", ..., "params": {"engine": "rationale"},
 *     "primaryMetric": { "score": 69.1, "scoreError": 1.2, ..., "scoreUnit": "ops/s",
 *                        "rawData": [[68.0, 69.0, 70.0]] },          // per fork, per measurement iteration
 *     "secondaryMetrics": {} } ]
 * }</pre>
 * The samples of a result are its measurement iterations over all forks ({@code primaryMetric.rawData}). In
 * {@code sample} mode JMH writes a histogram per iteration instead ({@code rawDataHistogram}: per fork, per
 * iteration, {@code [value, count]} pairs); each iteration's sample is then the mean of its histogram, so that every
 * mode is tested on one value per iteration.
 */
public final class JmhResults {
    private JmhResults() {}

    /** What identifies a benchmark across runs: its name, mode and parameters (sorted by name). */
    public record Key(String benchmark, String mode, Map<String, String> params) {
        /** {@code name [mode] {p=v, ...}}: for messages. */
        @Override
        public String toString() {
            return benchmark + " [" + mode + "]" + (params.isEmpty() ? "" : " " + params);
        }

        /** The parameters as {@code p=v,q=w} (empty without). */
        public String paramsText() {
            StringBuilder b = new StringBuilder();
            params.forEach((k, v) -> b.append(b.isEmpty() ? "" : ",").append(k).append('=').append(v));
            return b.toString();
        }
    }

    /** The JVM a result ran on, as JMH records it (null where the file lacks a field). */
    public record Jvm(String jvm, String jdkVersion, String vmName, String vmVersion, List<String> jvmArgs) {
        /** Field name to value, for comparisons and reports. */
        public Map<String, Object> fields() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("jvm", jvm);
            m.put("jdkVersion", jdkVersion);
            m.put("vmName", vmName);
            m.put("vmVersion", vmVersion);
            m.put("jvmArgs", jvmArgs);
            return m;
        }
    }

    /** One benchmark's result: its key, unit, threads, forks, JVM and the measurement samples. */
    public record Result(Key key, String unit, int threads, int forks, Jvm jvm, double[] samples) {}

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /**
     * Reads a JMH JSON result file.
     *
     * @throws IllegalArgumentException naming the file and the result that is malformed
     * @throws IOException              when the file cannot be read
     */
    public static List<Result> read(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new IllegalArgumentException(file + ": a folder, not a JMH result file");
        if (!Files.isRegularFile(file)) throw new NoSuchFileException(file.toString());
        JsonNode root;
        try {
            root = MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (root == null || !root.isArray())
            throw new IllegalArgumentException(file + ": not a JMH JSON result file (expected an array of results, as -rf json writes)");
        List<Result> out = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) out.add(result(file, i, root.get(i)));
        return out;
    }

    private static Result result(Path file, int i, JsonNode r) {
        String where = file + ": result " + i;
        String benchmark = text(r, "benchmark", where);
        String mode = text(r, "mode", where);
        where += " (" + benchmark + ")";
        Map<String, String> params = new TreeMap<>();
        JsonNode p = r.get("params");
        if (p != null && p.isObject()) for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
            var e = it.next();
            params.put(e.getKey(), e.getValue().asText());
        }
        JsonNode pm = r.get("primaryMetric");
        if (pm == null || !pm.isObject()) throw new IllegalArgumentException(where + " has no primaryMetric");
        String unit = text(pm, "scoreUnit", where + ": primaryMetric");
        List<Double> samples = new ArrayList<>();
        JsonNode raw = pm.get("rawData"), hist = pm.get("rawDataHistogram");
        if (raw != null && raw.isArray()) {
            for (JsonNode fork : raw) {
                if (!fork.isArray()) throw new IllegalArgumentException(where + ": primaryMetric.rawData is not an array of arrays (per fork, per iteration)");
                for (JsonNode v : fork) {
                    if (!v.isNumber()) throw new IllegalArgumentException(where + ": primaryMetric.rawData holds '" + v + "', not a number");
                    samples.add(v.asDouble());
                }
            }
        } else if (hist != null && hist.isArray()) {
            for (JsonNode fork : hist)
                for (JsonNode iteration : fork) {
                    double sum = 0, count = 0;
                    for (JsonNode pair : iteration) {
                        if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isNumber() || !pair.get(1).isNumber())
                            throw new IllegalArgumentException(where + ": primaryMetric.rawDataHistogram holds '" + pair + "', not a [value, count] pair");
                        sum += pair.get(0).asDouble() * pair.get(1).asDouble();
                        count += pair.get(1).asDouble();
                    }
                    if (count > 0) samples.add(sum / count);
                }
        } else {
            throw new IllegalArgumentException(where + " has neither primaryMetric.rawData nor primaryMetric.rawDataHistogram");
        }
        for (double v : samples)
            if (!Double.isFinite(v)) throw new IllegalArgumentException(where + ": a sample is " + v);
        List<String> args = new ArrayList<>();
        JsonNode a = r.get("jvmArgs");
        if (a != null && a.isArray()) for (JsonNode x : a) args.add(x.asText());
        Jvm jvm = new Jvm(opt(r, "jvm"), opt(r, "jdkVersion"), opt(r, "vmName"), opt(r, "vmVersion"), a == null ? null : List.copyOf(args));
        return new Result(new Key(benchmark, mode, java.util.Collections.unmodifiableMap(params)), unit, r.path("threads").asInt(1), r.path("forks").asInt(1),
                jvm, samples.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static String text(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual() || v.asText().isBlank()) throw new IllegalArgumentException(where + " has no '" + field + "'");
        return v.asText();
    }

    private static String opt(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
