package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The end-to-end run: {@code eval} of the real stories260K model on 20 MedicalBios examples with two
 * attribution methods and one prompting method; the summary must hold every metric (accuracy, confusion,
 * distribution, bias flag; per method alignment P/R/F1 with CI, IOU-F1, AUPRC, flip rate, comprehensiveness,
 * sufficiency, AOPC, the flip-rate-vs-k curve; the random baseline; paired tests).
 */
class StoriesMedicalBiosEvalTest {
    @Test
    void twentyMedicalBiosExamplesGiveEveryMetric(@TempDir Path out) throws Exception {
        Path data = CliRun.SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl");
        CliRun r = CliRun.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", "medicalbios:" + data,
                "--methods", "input_x_gradient,attention,prompt_guided", "--limit", "20", "--out", out.toString(), "--progress", "none");
        assertEquals(0, r.exitCode(), r.err());

        List<String> lines = Files.readAllLines(out.resolve("examples.jsonl"));
        assertEquals(20, lines.size());
        Set<Integer> indices = new HashSet<>();
        ObjectMapper m = new ObjectMapper();
        for (String l : lines) assertTrue(indices.add(m.readTree(l).get("index").asInt()), "each example once");

        JsonNode s = m.readTree(out.resolve("summary.json").toFile());
        assertTrue(s.get("complete").asBoolean());
        JsonNode labels = s.get("labels");
        for (String k : List.of("accuracy", "confusion", "bias")) assertTrue(labels.has(k), k + " in " + labels);
        int evaluated = s.get("counts").get("evaluated").asInt();
        assertTrue(evaluated > 0 && evaluated <= 20, "evaluated " + evaluated);

        JsonNode methods = s.get("methods");
        for (String name : List.of("input_x_gradient", "attention", "prompt_guided", "random")) {
            JsonNode x = methods.get(name);
            assertNotNull(x, name);
            assertTrue(x.get("flip_rate").get("mean").isNumber(), name + " flip rate");
            assertTrue(x.get("flip_rate").has("lower") && x.get("flip_rate").has("upper"), name + " flip-rate CI");
            assertTrue(x.get("comprehensiveness").get("mean").isNumber(), name);
            assertTrue(x.get("sufficiency").get("mean").isNumber(), name);
            JsonNode a = x.get("alignment");
            for (String k : List.of("precision", "recall", "f1")) assertTrue(a.toString().contains("\"" + k), name + " alignment " + k + ": " + a);
            assertTrue(x.has("iou_f1"), name);
        }
        for (String name : List.of("input_x_gradient", "attention", "random")) {
            JsonNode x = methods.get(name);
            assertTrue(x.get("auprc").get("mean").isNumber(), name + " AUPRC");
            assertTrue(x.get("aopc_comprehensiveness").get("mean").isNumber(), name + " AOPC");
            assertEquals(5, x.get("flip_rate_by_fraction").size(), name + " flip rate at k = 1,5,10,20,50%");
        }
        assertTrue(methods.get("prompt_guided").has("prompting"), "unparseable-answer counts");
        assertTrue(s.get("paired_tests").size() >= 6, "paired tests between every pair of the 4 methods");
        assertTrue(Files.size(out.resolve("report.html")) > 1000);
        assertTrue(Files.exists(out.resolve("summary.csv")));
    }
}
