package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.attribution.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 10's eval items end to end through the command line, on the tiny generated model and stories260K. */
class FirstHourEvalCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Path jsonl(Path f, List<String> lines) throws Exception {
        Files.write(f, lines);
        return f;
    }

    /** Item 3: every gold label "entailment", three declared: a three-label run that evaluates its examples. */
    @Test
    void declaredLabelsMakeTheRunsLabelSet(@TempDir Path tmp) throws Exception {
        List<String> lines = new ArrayList<>();
        String[][] pairs = {{"A man plays a guitar.", "A man makes music."}, {"Two dogs sleep.", "Animals rest."}, {"A girl reads.", "Someone reads."}};
        for (int i = 0; i < pairs.length; i++)
            lines.add("{\"id\": \"e" + i + "\", \"fields\": {\"premise\": \"" + pairs[i][0] + "\", \"hypothesis\": \"" + pairs[i][1]
                    + "\"}, \"label\": \"entailment\", \"labels\": [\"entailment\", \"neutral\", \"contradiction\"]}");
        Path data = jsonl(tmp.resolve("all-entailment.jsonl"), lines), out = tmp.resolve("out");
        CliRun r = CliRun.of("eval", "--model", Fixtures.tiny().toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", out.toString(), "--progress", "none");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        assertEquals(3, s.get("counts").get("evaluated").asInt(), s.get("skipped").toString());
        assertEquals("[\"entailment\",\"neutral\",\"contradiction\"]", s.get("labels").get("labels").toString());
    }

    /** Item 3: a run in which no example could be evaluated fails (exit 1, one line), its results kept. */
    @Test
    void aRunThatEvaluatesNothingFails(@TempDir Path tmp) throws Exception {
        String longText = "the little dog ran to the park and ".repeat(120);   // beyond stories260K's 512 positions
        Path data = jsonl(tmp.resolve("long.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"" + longText + "\", \"label\": \"yes\", \"labels\": [\"yes\", \"no\"]}",
                "{\"id\": \"b\", \"text\": \"" + longText + "\", \"label\": \"no\", \"labels\": [\"yes\", \"no\"]}"));
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", "jsonl:" + data, "--methods", "attention",
                "--out", out.toString(), "--progress", "none");
        CliErrorsTest.assertOneLineError(r, 1, "none of the 2 selected examples could be evaluated", "positions");
        assertTrue(Files.exists(out.resolve("summary.json")), "the results say why");
    }

    /** Items 5 and 12 (and 9's location): completeness per example and in the summary; how examples were chosen. */
    @Test
    void completenessSelectionAndSkipLocations(@TempDir Path tmp) throws Exception {
        Path builtin = tmp.resolve("builtin.jsonl");
        try (var in = EvalCommand.class.getResourceAsStream(EvalCommand.BUILTIN_RESOURCE)) {
            Files.copy(in, builtin);
        }
        List<String> lines = new ArrayList<>(Files.readAllLines(builtin));
        lines.add(2, "{\"id\": \"broken\", \"text\": ");   // line 3 of the file
        Path data = jsonl(tmp.resolve("d.jsonl"), lines), out = tmp.resolve("out");
        String[] args = {"eval", "--model", Fixtures.tiny().toString(), "--dataset", "jsonl:" + data, "--methods", "integrated_gradients",
                "--out", out.toString(), "--progress", "none", "--limit", "3", "--ig-steps", "16"};
        CliRun r = CliRun.of(args);
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("invalid JSON") && r.err().contains("d.jsonl:3"), r.err());
        assertTrue(r.out().contains("integrated_gradients completeness error: mean "), r.out());
        assertTrue(r.out().contains("examples: 3 stratified by gold label"), r.out());

        List<Double> errors = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("examples.jsonl"))) {
            JsonNode m = JSON.readTree(l).get("methods");
            errors.add(m.get("integrated_gradients").get("completenessError").asDouble());
            assertTrue(m.get("random").get("completenessError").isNull());
        }
        assertEquals(3, errors.size());
        JsonNode s = JSON.readTree(out.resolve("summary.json").toFile());
        JsonNode c = s.get("methods").get("integrated_gradients").get("completeness");
        assertEquals(errors.stream().mapToDouble(Double::doubleValue).average().orElseThrow(), c.get("error").get("mean").asDouble(), 1e-12);
        assertEquals(errors.stream().mapToDouble(Double::doubleValue).max().orElseThrow(), c.get("max").asDouble(), 0);
        assertTrue(s.get("methods").get("random").get("completeness").isNull());
        assertEquals("stratified", s.get("selection").get("mode").asText());
        assertEquals(3, s.get("selection").get("selected").asInt());
        assertTrue(s.get("resolved").get("ig_baseline").asText().contains("(bos)"), s.get("resolved").toString());
        assertTrue(s.get("device").asText().startsWith("cpu"), s.get("device").toString());
        // the labels of a stratified 3 of 6 (2 per label): one of each
        JsonNode gold = s.get("labels").get("gold_counts");
        for (String label : List.of("entailment", "neutral", "contradiction")) assertEquals(1, gold.get(label).asInt(), gold.toString());
        // another selection is another run
        String[] shuffled = EvalCliTest.cat(args, "--select", "shuffle");
        CliErrorsTest.assertOneLineError(CliRun.of(shuffled), 1, "select stratified -> shuffle");
        String[] zero = EvalCliTest.cat(args, "--ig-baseline", "zero");
        CliErrorsTest.assertOneLineError(CliRun.of(zero), 1, "ig-baseline bos -> zero");
    }

    /** Item 4 end to end: contrastive MedicalBios says in the summary that the contrast was explained. */
    @Test
    void contrastiveSummarySaysWhatWasExplained(@TempDir Path tmp) throws Exception {
        Path data = CliRun.SHARED.resolve("data/datasets/medicalbios/contrastive_biosbias_rationales.jsonl"), out = tmp.resolve("out");
        CliRun r = CliRun.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", "medicalbios-contrastive:" + data,
                "--methods", "input_x_gradient", "--limit", "2", "--out", out.toString(), "--progress", "none");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode t = JSON.readTree(out.resolve("summary.json").toFile()).get("attribution_target");
        assertEquals("auto", t.get("option").asText());
        assertEquals(2, t.get("counts").get("contrast").asInt());
        assertTrue(r.out().contains("target: attribution methods explain on 2 examples the contrast"), r.out());
        assertTrue(Files.readString(out.resolve("report.html")).contains("logit(gold label) − logit(foil)"), "the report says it too");
    }
}
