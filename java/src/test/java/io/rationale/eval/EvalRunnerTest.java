package io.rationale.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.dataset.DatasetException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class EvalRunnerTest {
    static final EvalOptions OPTS = EvalOptions.defaults(List.of("input_x_gradient", "prompt_guided"));

    static EvalRunner.Config config(Path model, Path data, Path out) {
        return EvalRunner.Config.of(model, "jsonl:" + data, OPTS, out);
    }

    static List<Integer> indices(Path out) throws Exception {
        List<Integer> idx = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(EvalRunner.EXAMPLES))) {
            idx.add(new ObjectMapper().readTree(line).get("index").asInt());   // every line parses
        }
        return idx;
    }

    static void assertEachIndexOnce(Path out, int n) throws Exception {
        List<Integer> idx = indices(out);
        assertEquals(IntStream.range(0, n).boxed().toList(), idx.stream().sorted().toList(), "each index exactly once: " + idx);
    }

    @Test
    void completeRunWritesEveryFile(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 12, 2), out = tmp.resolve("out");
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain().skip(Set.of("ex-7")));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        var progress = new ProgressPrinter(new PrintStream(err, true, StandardCharsets.UTF_8), ProgressPrinter.Mode.LINES);
        EvalRunner.Outcome o = new EvalRunner(config(tmp, data, out), f, progress).run();
        assertEquals(0, o.resumed());
        assertEquals(12, o.evaluated());
        for (String name : EvalRunner.OWN_FILES) assertTrue(Files.isRegularFile(out.resolve(name)), name);
        assertEachIndexOnce(out, 12);
        List<ExampleResult> back = ExamplesLog.readAll(out.resolve(EvalRunner.EXAMPLES));
        assertEquals(12, back.size());
        assertNotNull(back.get(0).methods().get("random").scores(), "results read back through Jackson");

        Summary s = o.summary();
        assertTrue(s.complete());
        assertEquals(new Summary.Counts(12, 2, 12, 12, 11, 1, 0), s.counts());
        assertEquals(1, s.skipped().evaluator().get(FakeEvaluator.SKIP_REASON));
        assertEquals(2, s.skipped().dataset().values().stream().mapToInt(Integer::intValue).sum(), s.skipped().dataset().toString());
        assertEquals(List.of("input_x_gradient", "prompt_guided", "random"), List.copyOf(s.methods().keySet()));

        JsonNode run = new ObjectMapper().readTree(out.resolve(EvalRunner.RUN_JSON).toFile());
        assertEquals(tmp.toAbsolutePath().normalize().toString(), run.get("model").asText());
        assertEquals("jsonl:" + data.toAbsolutePath().normalize(), run.get("dataset").asText());
        assertEquals(64, run.get("dataset_fingerprint").get("sha256").asText().length());
        assertEquals(Files.size(data), run.get("dataset_fingerprint").get("bytes").asLong());
        assertEquals("human", run.get("options").get("k").asText());
        assertEquals(12, run.get("dataset_size").asInt());
        assertEquals(2, run.get("dataset_skipped").asInt());
        assertTrue(run.get("limit").isNull());
        assertTrue(run.has("started"));

        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("[")).toList();
        assertEquals(12, lines.size(), err.toString());
        assertTrue(lines.get(11).matches("\\[12/12] id=ex-11 [0-9.]+ s/example ETA 0s"), lines.get(11));
        assertTrue(lines.get(7).endsWith("skipped: " + FakeEvaluator.SKIP_REASON), lines.get(7));

        // run again: nothing to do, the evaluator is not even opened, summary regenerated
        var again = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        EvalRunner.Outcome o2 = new EvalRunner(config(tmp, data, out), again, Progress.NONE).run();
        assertEquals(12, o2.resumed());
        assertEquals(0, o2.evaluated());
        assertEquals(0, again.opened);
        assertEachIndexOnce(out, 12);
    }

    @Test
    void resumesAfterAFailureWithEachIndexOnce(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 12, 0), out = tmp.resolve("out");
        var failing = FakeEvaluator.factory(FakeEvaluator.Settings.plain().failAfter(5));
        EvalRunner.EvalException e = assertThrows(EvalRunner.EvalException.class, () -> new EvalRunner(config(tmp, data, out), failing, Progress.NONE).run());
        assertTrue(e.getMessage().startsWith("example 5 (ex-5): fake failure"), e.getMessage());
        assertEquals(List.of(0, 1, 2, 3, 4), indices(out));
        JsonNode partial = new ObjectMapper().readTree(out.resolve(EvalRunner.SUMMARY_JSON).toFile());
        assertFalse(partial.get("complete").asBoolean(), "a partial summary is left behind");
        assertEquals(5, partial.get("counts").get("done").asInt());

        var rest = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        EvalRunner.Outcome o = new EvalRunner(config(tmp, data, out), rest, Progress.NONE).run();
        assertEquals(5, o.resumed());
        assertEquals(7, o.evaluated());
        assertEquals(List.of(5, 6, 7, 8, 9, 10, 11), rest.evaluated, "only the missing examples are evaluated");
        assertEachIndexOnce(out, 12);
        JsonNode run = new ObjectMapper().readTree(out.resolve(EvalRunner.RUN_JSON).toFile());
        assertEquals(1, run.get("resumed").size());
        // how the flip evaluation went, counted from the lines of both sessions (indices 0, 3, 6, 9 the host way)
        assertEquals(new Summary.FlipPaths(8, 4), o.summary().flipPaths());
        JsonNode paths = new ObjectMapper().readTree(out.resolve(EvalRunner.SUMMARY_JSON).toFile()).get("flip_paths");
        assertEquals(8, paths.get("token_level").asInt(), paths.toString());
        assertEquals(4, paths.get("host").asInt(), paths.toString());
    }

    @Test
    void partialLastLineIsCutOffAndRedone(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 8, 0), out = tmp.resolve("out");
        assertThrows(EvalRunner.EvalException.class,
                () -> new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain().failAfter(4)), Progress.NONE).run());
        Path ex = out.resolve(EvalRunner.EXAMPLES);
        long clean = Files.size(ex);
        String partial = "{\"index\":4,\"id\":\"ex-4\",\"skipped\":null,\"words\":[{\"field\":\"prem";
        Files.writeString(ex, partial, StandardOpenOption.APPEND);
        var rest = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        EvalRunner.Outcome o = new EvalRunner(config(tmp, data, out), rest, Progress.NONE).run();
        assertEquals(partial.getBytes(StandardCharsets.UTF_8).length, o.truncated());
        assertEquals(4, o.resumed());
        assertEquals(List.of(4, 5, 6, 7), rest.evaluated);
        assertEachIndexOnce(out, 8);
        assertTrue(Files.size(ex) > clean);
        assertTrue(Files.readString(ex).endsWith("\n"));
    }

    @Test
    void aCorruptCompleteLineStopsWithItsLineNumber(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 4, 0), out = tmp.resolve("out");
        new EvalRunner(config(tmp, data, out).withLimit(2), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        Path ex = out.resolve(EvalRunner.EXAMPLES);
        List<String> lines = new ArrayList<>(Files.readAllLines(ex));
        lines.add(1, "garbage");
        Files.write(ex, lines);
        var e = assertThrows(java.io.IOException.class,
                () -> new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run());
        assertTrue(e.getMessage().contains("examples.jsonl:2"), e.getMessage());
    }

    @Test
    void aDifferentRunIsRefusedUnlessRestarted(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 6, 0), out = tmp.resolve("out");
        new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        EvalOptions other = new EvalOptions(OPTS.methods(), "0.2", "replace:_", "majority", 0, 0, 32);
        EvalRunner.Config changed = new EvalRunner.Config(tmp, "jsonl:" + data, other, null, out, false, 10, null);
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        var e = assertThrows(EvalRunner.EvalException.class, () -> new EvalRunner(changed, f, Progress.NONE).run());
        assertTrue(e.getMessage().contains("k human -> 0.2"), e.getMessage());
        assertTrue(e.getMessage().contains("mask delete -> replace:_"), e.getMessage());
        assertTrue(e.getMessage().contains("--restart"), e.getMessage());
        assertEquals(0, f.opened);
        assertEachIndexOnce(out, 6);

        // another model folder, another dataset file content
        Path model2 = Files.createDirectories(tmp.resolve("m2"));
        var e2 = assertThrows(EvalRunner.EvalException.class,
                () -> new EvalRunner(config(model2, data, out), f, Progress.NONE).run());
        assertTrue(e2.getMessage().contains("model "), e2.getMessage());
        Files.writeString(data, Files.readString(data).replace("\"ex-5\"", "\"ex-5b\""));
        var e3 = assertThrows(EvalRunner.EvalException.class,
                () -> new EvalRunner(config(tmp, data, out), f, Progress.NONE).run());
        assertTrue(e3.getMessage().contains("dataset file changed"), e3.getMessage());

        EvalRunner.Config restart = new EvalRunner.Config(tmp, "jsonl:" + data, other, null, out, true, 10, null);
        EvalRunner.Outcome o = new EvalRunner(restart, f, Progress.NONE).run();
        assertEquals(0, o.resumed());
        assertEquals(6, o.evaluated());
        assertEachIndexOnce(out, 6);
        assertEquals("0.2", new ObjectMapper().readTree(out.resolve(EvalRunner.RUN_JSON).toFile()).get("options").get("k").asText());
    }

    @Test
    void aChangedTokenizerOrChatTemplateIsAnotherRun(@TempDir Path tmp) throws Exception {
        Path model = Files.createDirectories(tmp.resolve("m")), data = Datasets.nli(tmp, 4, 0), out = tmp.resolve("out");
        Files.writeString(model.resolve("config.json"), "{}");
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"chat_template\": \"A\"}");
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        new EvalRunner(config(model, data, out), f, Progress.NONE).run();
        Path runJson = out.resolve(EvalRunner.RUN_JSON);
        assertTrue(Files.readString(runJson).contains("\"text_sha256\""), "the text files are fingerprinted");

        Files.writeString(model.resolve("chat_template.jinja"), "B");            // a template file beside the config wins
        var e = assertThrows(EvalRunner.EvalException.class, () -> new EvalRunner(config(model, data, out), f, Progress.NONE).run());
        assertTrue(e.getMessage().contains("model files changed (tokenizer.json, tokenizer_config.json, chat_template.jinja"), e.getMessage());
        Files.delete(model.resolve("chat_template.jinja"));
        assertEquals(4, new EvalRunner(config(model, data, out), f, Progress.NONE).run().resumed(), "the same files again: resumed");

        Files.writeString(model.resolve("generation_config.json"), "{\"eos_token_id\": 7}");
        assertThrows(EvalRunner.EvalException.class, () -> new EvalRunner(config(model, data, out), f, Progress.NONE).run());
        // a run.json written before the text files were fingerprinted resumes as before
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(runJson.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("model_fingerprint")).remove("text_sha256");
        Files.writeString(runJson, json.toString());
        assertEquals(4, new EvalRunner(config(model, data, out), f, Progress.NONE).run().resumed());
    }

    @Test
    void aSecondWriterOnTheSameFolderIsRefused(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 3, 0), out = tmp.resolve("out");
        Files.createDirectories(out);
        try (ExamplesLog held = ExamplesLog.open(out.resolve(EvalRunner.EXAMPLES))) {
            var e = assertThrows(java.io.IOException.class,
                    () -> new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run());
            assertTrue(e.getMessage().contains("another eval run"), e.getMessage());
        }
        new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        assertEachIndexOnce(out, 3);
    }

    @Test
    void theLimitMayGrowBetweenSessions(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 10, 0), out = tmp.resolve("out");
        EvalRunner.Outcome a = new EvalRunner(config(tmp, data, out).withLimit(4), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        assertEquals(4, a.summary().counts().selected());
        assertTrue(a.summary().complete());
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        EvalRunner.Outcome b = new EvalRunner(config(tmp, data, out), f, Progress.NONE).run();
        assertEquals(4, b.resumed());
        assertEquals(List.of(4, 5, 6, 7, 8, 9), f.evaluated);
        assertEachIndexOnce(out, 10);
        EvalRunner.Outcome c = new EvalRunner(config(tmp, data, out).withLimit(3), FakeEvaluator.factory(FakeEvaluator.Settings.plain()), Progress.NONE).run();
        assertEquals(3, c.summary().counts().done(), "a smaller limit summarizes the first examples only");
    }

    @Test
    void anUnrecognisedDatasetStopsBeforeAnythingElse(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("d.jsonl"), out = tmp.resolve("out");
        Files.writeString(data, "this is not JSON\n");
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain());
        assertThrows(DatasetException.class, () -> new EvalRunner(config(tmp, data, out), f, Progress.NONE).run());
        assertEquals(0, f.opened);
        assertFalse(Files.exists(out.resolve(EvalRunner.RUN_JSON)));
    }

    @Test
    void summaryIsRefreshedDuringTheRun(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 8, 0), out = tmp.resolve("out");
        AtomicInteger seenAt6 = new AtomicInteger(-1);
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain().before((i, ex) -> {
            if (i == 6) {
                try {
                    seenAt6.set(new ObjectMapper().readTree(out.resolve(EvalRunner.SUMMARY_JSON).toFile()).get("counts").get("done").asInt());
                    assertTrue(Files.exists(out.resolve(EvalRunner.REPORT)));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }
        }));
        EvalRunner.Config c = new EvalRunner.Config(tmp, "jsonl:" + data, OPTS, null, out, false, 3, null);
        new EvalRunner(c, f, Progress.NONE).run();
        assertEquals(6, seenAt6.get(), "summary written after examples 3 and 6");
    }

    @Test
    void onErrorSkipRecordsTheFailureAndGoesOn(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 5, 0), out = tmp.resolve("out");
        var f = FakeEvaluator.factory(FakeEvaluator.Settings.plain().before((i, ex) -> {
            if (i == 2) throw new IllegalArgumentException("prompt too long");
        }));
        EvalRunner.Config c = new EvalRunner.Config(tmp, "jsonl:" + data, OPTS, null, out, false, 10, EvalRunner.OnError.SKIP);
        EvalRunner.Outcome o = new EvalRunner(c, f, Progress.NONE).run();
        assertEquals(1, o.summary().skipped().evaluator().get("error: prompt too long"));
        assertEachIndexOnce(out, 5);
    }

    @Test
    void labelCollapseWarnsOnTheProgressStream(@TempDir Path tmp) throws Exception {
        Path data = Datasets.nli(tmp, 6, 0), out = tmp.resolve("out");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        var progress = new ProgressPrinter(new PrintStream(err, true, StandardCharsets.UTF_8), ProgressPrinter.Mode.NONE);
        EvalRunner.Outcome o = new EvalRunner(config(tmp, data, out), FakeEvaluator.factory(FakeEvaluator.Settings.plain().collapseTo("neutral")), progress).run();
        assertTrue(o.summary().labels().bias().flagged());
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("WARNING: label bias: the model predicts 'neutral' for 100.0%"), err.toString());
    }
}
