package io.rationale.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.cli.Main;
import io.rationale.engine.Device;
import io.rationale.eval.AttributionRunner;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.Progress;
import io.rationale.eval.Selection;
import io.rationale.engine.Lora;
import io.rationale.lora.PeftConfig;
import io.rationale.lora.PeftWriter;
import io.rationale.model.ModelConfig;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Spark evaluation against the local one: stories260K on 40 MedicalBios examples with two attribution methods
 * (and the random baseline). The expected values are the local {@code eval}'s own results in the same JVM; numbers
 * must agree within {@link #TOLERANCE} (the same code on the same CPU gives the same bits; the tolerance only allows
 * for a different summation order should the engine ever split work differently), everything else exactly, except
 * wall times, the results folder's path and start time, and the device line.
 */
class SparkEvalTest {
    static final double TOLERANCE = 1e-5;
    static final Path SHARED = Path.of(System.getProperty("rationale.shared", "../../shared"));
    static final Path MODEL = SHARED.resolve("data/models/stories260K-hf");
    static final String DATASET = "medicalbios:" + SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl");
    static final String METHODS = "input_x_gradient,attention";
    static final int LIMIT = 40;
    /** Keys whose values legitimately differ between two runs of the same evaluation. */
    static final Set<String> VARYING = Set.of("seconds", "run", "device", "mean_seconds", "summarized_at");

    static final ObjectMapper JSON = new ObjectMapper();
    static final double MARK = 12345.0;
    static Path local;

    @BeforeAll
    static void localEval(@TempDir Path dir) {
        local = dir.resolve("local");
        int rc = Main.run("eval", "--model", MODEL.toString(), "--dataset", DATASET, "--methods", METHODS, "--limit", "" + LIMIT,
                "--device", "cpu", "--out", local.toString(), "--progress", "none");
        assertEquals(0, rc, "local eval");
    }

    @Test
    void sparkEvalFromTheCommandLineEqualsTheLocalEvalAndLoadsTheModelOnce(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("spark");
        EngineHolder.closeAll();                  // another test may have opened the same model with the same settings
        int loads = EngineHolder.loads();
        int rc = Main.run("eval", "--model", MODEL.toString(), "--dataset", DATASET, "--methods", METHODS, "--limit", "" + LIMIT,
                "--device", "cpu", "--out", out.toString(), "--progress", "none", "--spark", "local[2]");
        assertEquals(0, rc, "spark eval");
        // the driver's own evaluator and both tasks (2 partitions on 2 threads of this JVM) share one load
        assertEquals(1, EngineHolder.loads() - loads, "model loads in this JVM");
        JsonNode summary = JSON.readTree(out.resolve("summary.json").toFile());
        assertTrue(summary.get("device").asText().contains("2 tasks"), summary.get("device").asText());
        assertSameResults(local, out);
        assertFalse(Files.exists(out.resolve(SparkEval.PARTS)), "part files removed after a complete job");
    }

    @Test
    void anAdapterTravelsToTheTasks(@TempDir Path dir) throws IOException {
        // a random rank-2 LoRA on layer 0's q_proj of stories260K, as a PEFT folder
        ModelConfig c = ModelConfig.load(MODEL);
        Lora.Projection q = Lora.Projection.ofModuleName("q_proj");
        int[] shape = q.shape(c);
        int r = 2;
        Random rnd = new Random(7);
        float[] a = new float[r * shape[1]], b = new float[shape[0] * r];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian();
        Path adapter = dir.resolve("adapter");
        PeftWriter.write(adapter, Lora.of(c, List.of(new Lora.Spec("q0", 0, q, r, 1f, a, b))), PeftConfig.json("stories260K", r, r, false, List.of(q)));

        int n = 10;
        Path base = dir.resolve("base"), tuned = dir.resolve("tuned"), spark = dir.resolve("spark");
        String[] common = {"eval", "--model", MODEL.toString(), "--dataset", DATASET, "--methods", METHODS, "--limit", "" + n,
                "--device", "cpu", "--progress", "none"};
        assertEquals(0, Main.run(concat(common, "--out", base.toString())));
        assertEquals(0, Main.run(concat(common, "--out", tuned.toString(), "--adapter", adapter.toString())));
        assertEquals(0, Main.run(concat(common, "--out", spark.toString(), "--adapter", adapter.toString(), "--spark", "local[2]")));
        assertSameResults(tuned, spark, n);
        // and the adapter did change the model: some label probability moves (else this test would prove nothing)
        Map<Integer, JsonNode> b0 = byIndex(lines(base.resolve("examples.jsonl"))), t0 = byIndex(lines(tuned.resolve("examples.jsonl")));
        double most = 0;
        for (int i : b0.keySet()) {
            JsonNode pb = b0.get(i).get("labelProbs"), pt = t0.get(i).get("labelProbs");
            if (pb == null || pb.isNull()) continue;
            for (Iterator<String> it = pb.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                most = Math.max(most, Math.abs(pb.get(k).asDouble() - pt.get(k).asDouble()));
            }
        }
        assertTrue(most > 1e-3, "the adapter moves a label probability by " + most);
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void aTaskThatFailsOnceIsRetriedWithNoExampleLostOrRepeated(@TempDir Path dir) throws IOException {
        SparkSession spark = SparkEval.session("local[2,2]");   // 2 threads, a task may fail once
        try {
            Path out = dir.resolve("retried");
            SparkEval cluster = new SparkEval(spark, Device.CPU, 2).failAttempts(1, 1);
            new EvalRunner(config(out), cluster.factory(io.rationale.lora.Adapters.NONE), Progress.NONE).distributed(cluster).run();
            assertSameResults(local, out);
        } finally {
            spark.stop();
        }
    }

    @Test
    void aFailedJobKeepsItsCompletedTasksAndTheRerunTakesInWhatADriverLeft(@TempDir Path dir) throws IOException {
        SparkSession spark = SparkEval.session("local[2,1]");   // no retries: partition 1 fails the job
        try {
            Path out = dir.resolve("rerun");
            SparkEval failing = new SparkEval(spark, Device.CPU, 2).failAttempts(1, 1);
            EvalRunner.EvalException e = assertThrows(EvalRunner.EvalException.class,
                    () -> new EvalRunner(config(out), failing.factory(io.rationale.lora.Adapters.NONE), Progress.NONE).distributed(failing).run());
            assertTrue(e.getMessage().contains("the Spark job failed") && e.getMessage().contains("fails on purpose"), e.getMessage());
            List<JsonNode> kept = lines(out.resolve("examples.jsonl"));
            assertEquals(LIMIT / 2, kept.size(), "partition 0's examples are kept: " + kept.size());

            // now as if the driver had been killed before it handed partition 0 over: examples.jsonl empty, the part
            // file there, its lines marked (a wall time no run takes) to tell them from a new evaluation
            List<Path> parts;
            try (var files = Files.walk(out.resolve(SparkEval.PARTS))) {
                parts = files.filter(f -> f.getFileName().toString().equals("part-00000.jsonl")).toList();
            }
            assertEquals(1, parts.size(), parts.toString());
            List<String> marked = new ArrayList<>();
            for (JsonNode n : lines(parts.get(0))) marked.add(JSON.writeValueAsString(((ObjectNode) n).put("seconds", MARK)));
            Files.write(parts.get(0), marked);
            Files.write(out.resolve("examples.jsonl"), new byte[0]);

            SparkEval again = new SparkEval(spark, Device.CPU, 2);
            EvalRunner.Outcome o = new EvalRunner(config(out), again.factory(io.rationale.lora.Adapters.NONE), Progress.NONE).distributed(again).run();
            assertEquals(0, o.resumed());
            assertEquals(LIMIT, o.evaluated());
            long taken = lines(out.resolve("examples.jsonl")).stream().filter(n -> n.get("seconds").asDouble() == MARK).count();
            assertEquals(LIMIT / 2, taken, "the left part file's examples are taken in, not evaluated again");
            // the flip evaluation's counts are of every evaluated example, those taken in from the part file included
            assertSameResults(local, out, LIMIT);
            long evaluated = lines(out.resolve("examples.jsonl")).stream().filter(n -> n.get("skipped").isNull()).count();
            JsonNode paths = JSON.readTree(out.resolve("summary.json").toFile()).get("flip_paths");
            assertEquals(evaluated, paths.get("token_level").asLong() + paths.get("host").asLong(), paths.toString());
            assertFalse(Files.exists(out.resolve(SparkEval.PARTS)), "part files removed after a complete job");
        } finally {
            spark.stop();
        }
    }

    /**
     * {@code attribute --dataset --spark}: 10 examples × two methods as a Spark job (local[2,2], partition 1's first
     * attempt failing on purpose after one example) give the local {@code attribute --dataset}'s attributions.jsonl:
     * every (example, method) once, every line equal (numbers within 1e-5) but for wall times and the device.
     */
    @Test
    void sparkAttributionsEqualTheLocalOnesAndATaskFailingOnceIsRetried(@TempDir Path dir) throws IOException {
        int n = 10;
        Path localOut = dir.resolve("local"), sparkOut = dir.resolve("spark");
        assertEquals(0, Main.run("attribute", "--model", MODEL.toString(), "--dataset", DATASET, "--method", METHODS, "--limit", "" + n,
                "--device", "cpu", "--out", localOut.toString(), "--progress", "none"), "local attribute --dataset");
        SparkSession spark = SparkEval.session("local[2,2]");   // 2 threads, a task may fail once
        try {
            SparkEval cluster = new SparkEval(spark, Device.CPU, 2).failAttempts(1, 1);
            EvalOptions o = EvalOptions.defaults(List.of(METHODS.split(",")));
            EvalRunner.Config c = new EvalRunner.Config(MODEL, DATASET, o, n, sparkOut, false, 0, EvalRunner.OnError.STOP, Selection.Mode.STRATIFIED);
            AttributionRunner.Outcome out = new AttributionRunner(c, cluster.factory(io.rationale.lora.Adapters.NONE), Progress.NONE)
                    .distributed(cluster).run();
            assertEquals(n, out.attributed());
        } finally {
            spark.stop();
        }
        List<JsonNode> expected = lines(localOut.resolve(AttributionRunner.ATTRIBUTIONS)), actual = lines(sparkOut.resolve(AttributionRunner.ATTRIBUTIONS));
        assertEquals(2 * n, expected.size());
        Map<String, JsonNode> e = byKey(expected), a = byKey(actual);
        assertEquals(actual.size(), a.size(), "each (example, method) once");
        assertEquals(e.keySet(), a.keySet(), "the same examples and methods");
        int attributed = 0;
        for (String k : e.keySet()) {
            assertSame("attributions.jsonl[" + k + "]", e.get(k), a.get(k));
            if (!e.get(k).has("skipped")) attributed++;
        }
        assertTrue(attributed >= 2 * (n - 1), "lines with scores compared: " + attributed);
        assertFalse(Files.exists(sparkOut.resolve(SparkEval.PARTS)), "part files removed after a complete job");
    }

    static Map<String, JsonNode> byKey(List<JsonNode> lines) {
        Map<String, JsonNode> m = new TreeMap<>();
        for (JsonNode l : lines) m.put(l.get("index").asInt() + "/" + l.get("method").asText(), l);
        return m;
    }

    /** The command line's run ({@code --select stratified}, the default there) through the API. */
    static EvalRunner.Config config(Path out) {
        EvalOptions o = EvalOptions.defaults(List.of(METHODS.split(",")));
        return new EvalRunner.Config(MODEL, DATASET, o, LIMIT, out, false, 10, EvalRunner.OnError.STOP, Selection.Mode.STRATIFIED);
    }

    /** Same examples (each once) with the same results, and the same summary. */
    static void assertSameResults(Path expectedDir, Path actualDir) throws IOException {
        assertSameResults(expectedDir, actualDir, LIMIT);
    }

    static void assertSameResults(Path expectedDir, Path actualDir, int examples) throws IOException {
        Map<Integer, JsonNode> expected = byIndex(lines(expectedDir.resolve("examples.jsonl")));
        List<JsonNode> actualLines = lines(actualDir.resolve("examples.jsonl"));
        Map<Integer, JsonNode> actual = byIndex(actualLines);
        assertEquals(actualLines.size(), actual.size(), "each example once");
        assertEquals(examples, expected.size());
        assertEquals(expected.keySet(), actual.keySet(), "the same examples");
        for (int i : expected.keySet()) assertSame("examples.jsonl[" + i + "]", expected.get(i), actual.get(i));
        ObjectNode expectedSummary = (ObjectNode) JSON.readTree(expectedDir.resolve("summary.json").toFile());
        ObjectNode actualSummary = (ObjectNode) JSON.readTree(actualDir.resolve("summary.json").toFile());
        assertSame("summary.json", expectedSummary, actualSummary);
        assertTrue(Files.size(actualDir.resolve("report.html")) > 0 && Files.exists(actualDir.resolve("summary.csv")));
    }

    static List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(file)) if (!l.isBlank()) out.add(JSON.readTree(l));
        return out;
    }

    static Map<Integer, JsonNode> byIndex(List<JsonNode> lines) {
        Map<Integer, JsonNode> m = new TreeMap<>();
        for (JsonNode n : lines) m.put(n.get("index").asInt(), n);
        return m;
    }

    /** Structural equality, numbers within {@link #TOLERANCE}, {@link #VARYING} keys skipped. */
    static void assertSame(String where, JsonNode e, JsonNode a) {
        if (e.isNumber() && a.isNumber()) {
            double x = e.asDouble(), y = a.asDouble();
            if (!(Math.abs(x - y) <= TOLERANCE || Double.compare(x, y) == 0)) fail(where + ": " + x + " vs " + y);
            return;
        }
        if (e.getNodeType() != a.getNodeType()) fail(where + ": " + e + " vs " + a);
        if (e.isObject()) {
            assertEquals(names(e), names(a), where + " keys");
            for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!VARYING.contains(k)) assertSame(where + "." + k, e.get(k), a.get(k));
            }
        } else if (e.isArray()) {
            assertEquals(e.size(), a.size(), where + " length");
            for (int i = 0; i < e.size(); i++) assertSame(where + "[" + i + "]", e.get(i), a.get(i));
        } else {
            assertEquals(e, a, where);
        }
    }

    static List<String> names(JsonNode n) {
        List<String> l = new ArrayList<>();
        n.fieldNames().forEachRemaining(l::add);
        return l;
    }
}
