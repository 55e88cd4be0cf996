package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.dataset.DatasetLoader;
import io.rationale.eval.EvaluatorFactory;
import io.rationale.eval.FakeEvaluator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.*;

class EvalCliTest {
    static <T> T withFactory(EvaluatorFactory f, Callable<T> body) throws Exception {
        EvaluatorFactory old = EvalCommand.evaluatorFactory;
        EvalCommand.evaluatorFactory = f;
        try {
            return body.call();
        } finally {
            EvalCommand.evaluatorFactory = old;
        }
    }

    static CliRun fake(String... args) throws Exception {
        return withFactory(FakeEvaluator.factory(FakeEvaluator.Settings.plain()), () -> CliRun.of(args));
    }

    static Path dataset(Path dir) throws Exception {
        Path f = dir.resolve("d.jsonl");
        try (var in = EvalCliTest.class.getResourceAsStream(EvalCommand.BUILTIN_RESOURCE)) {
            Files.copy(in, f);
        }
        return f;
    }

    static String lastLine(String s) {
        List<String> l = s.strip().lines().toList();
        return l.get(l.size() - 1);
    }

    @Test
    void theDefaultJobIsTheBuiltinEvaluation() {
        assertArrayEquals(new String[]{"eval", "--builtin"}, Main.DEFAULT_ARGS);
    }

    @Test
    void builtinExamplesLoadWithRationales() throws Exception {
        var d = DatasetLoader.load("jsonl:" + dataset(Files.createTempDirectory("builtin")));
        assertEquals(6, d.size());
        assertEquals(0, d.skipped().size());
        assertEquals(6, d.withRationales());
        for (var e : d.examples()) assertEquals(List.of("entailment", "neutral", "contradiction"), e.labels());
    }

    @Test
    void builtinRunEndsWithTheReportPathAndStartsFreshEachTime(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("demo");
        CliRun r = fake("eval", "--builtin", "--out", out.toString(), "--progress", "lines");
        assertEquals(0, r.exitCode(), r.err());
        Path report = out.resolve("report.html").toAbsolutePath().normalize();
        assertEquals(report.toString(), lastLine(r.out()));
        assertTrue(Files.isRegularFile(report));
        assertTrue(Files.isRegularFile(out.resolve("tiny-model/config.json")));
        assertTrue(r.out().contains("results: " + out.toAbsolutePath().normalize() + " (6 of 6 examples done: 6 now, 0 resumed)"), r.out());
        for (String m : List.of("input_x_gradient", "attention", "prompt_guided", "random")) assertTrue(r.out().contains("\n" + m + " "), m + " in " + r.out());
        assertTrue(r.err().contains("[6/6] id=builtin-6 "), r.err());
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertEquals("[\"entailment\",\"neutral\",\"contradiction\"]", summary.get("labels").get("labels").toString(),
                "the examples' own label order");
        JsonNode run = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals(List.of("input_x_gradient", "attention", "prompt_guided"),
                new ObjectMapper().convertValue(run.get("options").get("methods"), List.class));

        CliRun again = fake("eval", "--builtin", "--out", out.toString(), "--progress", "none");
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("(6 of 6 examples done: 6 now, 0 resumed)"), again.out());

        // a folder holding another evaluation is left alone
        Path other = tmp.resolve("other");
        CliRun real = fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + dataset(tmp), "--methods", "saliency",
                "--out", other.toString(), "--progress", "none");
        assertEquals(0, real.exitCode(), real.err());
        CliErrorsTest.assertOneLineError(fake("eval", "--builtin", "--out", other.toString()), 1, "holds another evaluation");
        assertFalse(Files.exists(other.resolve("tiny-model")));
    }

    @Test
    void evalResumesAndRefusesAnotherRun(@TempDir Path tmp) throws Exception {
        Path data = dataset(tmp), out = tmp.resolve("out");
        String[] args = {"eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "saliency, attention,random",
                "--out", out.toString(), "--limit", "4", "--progress", "none"};
        CliRun r = fake(args);
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("(4 of 4 examples done: 4 now, 0 resumed)"), r.out());
        JsonNode run = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        assertEquals("[\"saliency\",\"attention\"]", run.get("options").get("methods").toString(), "random is implicit");
        assertEquals(4, run.get("limit").asInt());

        String[] more = args.clone();
        more[10] = "6";
        CliRun r2 = fake(more);
        assertEquals(0, r2.exitCode(), r2.err());
        assertTrue(r2.out().contains("(6 of 6 examples done: 2 now, 4 resumed)"), r2.out());

        CliRun other = fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "saliency,attention",
                "--out", out.toString(), "--k", "0.3", "--seed", "5");
        CliErrorsTest.assertOneLineError(other, 1, "holds a different run", "k human -> 0.3", "seed 0 -> 5", "--restart");
        CliErrorsTest.assertOneLineError(fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "saliency,attention",
                "--out", out.toString(), "--k", "0.30"), 1, "k human -> 0.3)");

        CliRun restarted = fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "saliency,attention",
                "--out", out.toString(), "--k", "0.3", "--restart", "--progress", "none");
        assertEquals(0, restarted.exitCode(), restarted.err());
        assertTrue(restarted.out().contains("(6 of 6 examples done: 6 now, 0 resumed)"), restarted.out());
    }

    /** Item 15 of issue 10: every check of the options alone is bad usage, exit 2; what needs the files, exit 1. */
    @Test
    void usageAndValueErrors(@TempDir Path tmp) throws Exception {
        Path data = dataset(tmp);
        CliErrorsTest.assertOneLineError(fake("eval", "--dataset", "jsonl:" + data, "--methods", "saliency", "--out", tmp.toString()), 2, "--model");
        CliErrorsTest.assertOneLineError(fake("eval", "--builtin", "--model", tmp.toString()), 2, "--builtin");
        String[] base = {"eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--out", tmp.resolve("o").toString()};
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--k", "1.5")), 2, "--k");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--mask", "replace:")), 2, "--mask");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--annotators", "best")), 2, "--annotators");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency,saliency")), 2, "twice");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "random")), 2, "--methods");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "magic")), 2, "unknown method 'magic'", "prompt_guided", "all");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--limit", "0")), 2, "--limit");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--on-error", "ignore")), 2, "--on-error");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--select", "best")), 2, "unknown selection 'best'");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--ig-baseline", "mean")), 2, "baseline 'mean'", "token:N");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--target", "gold")), 2, "target 'gold'");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--progress", "fancy")), 2, "--progress");
        CliErrorsTest.assertOneLineError(fake(cat(base, "--methods", "saliency", "--device", "tpu")), 2, "unknown device 'tpu'");
        Path junk = tmp.resolve("junk.jsonl");
        Files.writeString(junk, "name,label\nx,y\n");
        CliErrorsTest.assertOneLineError(fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + junk, "--methods", "saliency",
                "--out", tmp.resolve("o2").toString()), 1, "junk.jsonl");
        assertFalse(Files.exists(tmp.resolve("o2")));
        assertFalse(Files.exists(tmp.resolve("o")), "no usage error created the results folder");
    }

    /** Item 8 of issue 10: a failed start creates nothing, so the corrected command is not refused as another run. */
    @Test
    void aFailedStartLeavesNothingBehind(@TempDir Path tmp) throws Exception {
        Path data = dataset(tmp), out = tmp.resolve("out");
        // a model folder that does not exist: the real evaluator fails to open it
        CliRun missing = CliRun.of("eval", "--model", tmp.resolve("no-model").toString(), "--dataset", "jsonl:" + data,
                "--methods", "attention", "--out", out.toString(), "--progress", "none");
        CliErrorsTest.assertOneLineError(missing, 1, "no-model");
        assertFalse(Files.exists(out), "nothing written for a run that could not start");
        // a model folder that does not load (a config.json only)
        Path broken = Files.createDirectories(tmp.resolve("broken"));
        Files.writeString(broken.resolve("config.json"), "{}");
        CliErrorsTest.assertOneLineError(CliRun.of("eval", "--model", broken.toString(), "--dataset", "jsonl:" + data,
                "--methods", "attention", "--out", out.toString(), "--progress", "none"), 1);
        assertFalse(Files.exists(out));
        // the corrected command runs (the fake evaluator stands in for the model)
        CliRun fixed = fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", out.toString(), "--progress", "none");
        assertEquals(0, fixed.exitCode(), fixed.err());
    }

    /** Item 10 of issue 10: --methods all is every attribution method, never a method named "all"; --help lists them. */
    @Test
    void methodsAllExpandsAndHelpListsTheMethods(@TempDir Path tmp) throws Exception {
        Path data = dataset(tmp), out = tmp.resolve("out");
        CliRun r = fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "all,prompt_guided",
                "--out", out.toString(), "--progress", "none", "--limit", "2");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode run = new ObjectMapper().readTree(out.resolve("run.json").toFile());
        List<String> expected = new java.util.ArrayList<>();
        for (io.rationale.attribution.Method m : io.rationale.attribution.Method.values())
            if (m != io.rationale.attribution.Method.RANDOM) expected.add(m.cliName());
        expected.add("prompt_guided");
        assertEquals(expected, new ObjectMapper().convertValue(run.get("options").get("methods"), List.class));
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        assertFalse(summary.get("methods").has("all"), summary.get("methods").toString());
        String help = CliRun.of("eval", "--help").out().replaceAll("\\s+", " ");
        for (String m : expected) assertTrue(help.contains(m), m + " in eval --help");
    }

    /** Item 11 of issue 10: --out naming a file, and an annotator the dataset lacks, are one clear line each. */
    @Test
    void outIsAFileAndUnknownAnnotator(@TempDir Path tmp) throws Exception {
        Path data = dataset(tmp), file = Files.writeString(tmp.resolve("results.txt"), "x");
        CliErrorsTest.assertOneLineError(fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", file.toString()), 1, file.toString(), "not a folder");
        CliErrorsTest.assertOneLineError(fake("eval", "--builtin", "--out", file.toString()), 1, file.toString(), "not a folder");
        Path out = tmp.resolve("out");
        CliErrorsTest.assertOneLineError(fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", out.toString(), "--annotators", "annotator:zoe"), 1, "annotator 'zoe'", "annotators: 1");
        CliErrorsTest.assertOneLineError(fake("eval", "--model", tmp.toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", out.toString(), "--annotators", "index:3"), 1, "index 3", "index:0");
        assertFalse(Files.exists(out));
    }

    @Test
    void realBuiltinRun(@TempDir Path tmp) throws Exception {
        CliRun r = CliRun.of("eval", "--builtin", "--out", tmp.toString(), "--progress", "lines");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(tmp.resolve("report.html").toAbsolutePath().normalize().toString(), lastLine(r.out()));
        var summary = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tmp.resolve("summary.json").toFile());
        assertTrue(summary.get("complete").asBoolean(), summary.toString());
        for (String m : new String[]{"input_x_gradient", "attention", "prompt_guided", "random"})
            assertTrue(summary.get("methods").has(m), m + " in " + summary.get("methods").fieldNames());
    }

    static String[] cat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
