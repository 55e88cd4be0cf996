package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.eval.AttributionRunner;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code attribute --dataset}: stories260K-hf on 10 MedicalBios examples with two methods. Each line equals a single
 * {@code attribute --text PROMPT --study-start --study-end --target-id T} call (the independent path: the CLI's one-input
 * attribution, its own tokenization, no prefix cache) and eval's word scores on the same examples; a run cut off
 * mid-write resumes with every (example, method) once; bad input stops with one line.
 */
class AttributeDatasetTest {
    static final double TOLERANCE = 1e-5;
    static final String DATASET = "medicalbios:" + CliRun.SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl");
    static final String METHODS = "input_x_gradient,attention";
    static final int LIMIT = 10;
    static final ObjectMapper JSON = new ObjectMapper();
    static Path out;
    static List<JsonNode> lines;

    static String[] command(Path dir, String... more) {
        List<String> a = new ArrayList<>(List.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", DATASET, "--method", METHODS,
                "--limit", "" + LIMIT, "--device", "cpu", "--progress", "none", "--out", dir.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) if (!l.isBlank()) out.add(JSON.readTree(l));
        return out;
    }

    @BeforeAll
    static void attributeTheDataset(@TempDir Path dir) throws IOException {
        out = dir.resolve("attr");
        CliRun r = CliRun.of(command(out));
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(Files.exists(out.resolve("run.json")));
        lines = read(out.resolve(AttributionRunner.ATTRIBUTIONS));
        assertTrue(r.out().contains("10 of 10 examples: 10 now, 0 resumed; 1 skipped; 20 lines"), r.out() + lines.stream().filter(l -> l.has("skipped")).toList());
    }

    @Test
    void oneLinePerExampleAndMethodEachEqualToASingleAttributeCall() throws IOException {
        assertEquals(2 * LIMIT, lines.size());
        Set<String> keys = new TreeSet<>();
        for (JsonNode l : lines) assertTrue(keys.add(l.get("index").asInt() + "/" + l.get("method").asText()), "repeated line " + l.get("index"));
        int compared = 0, skipped = 0;
        for (JsonNode l : lines) {
            if (l.has("skipped")) {   // as eval skips it: the prompt is longer than stories260K's 512 positions
                assertTrue(l.get("skipped").asText().contains("the model has 512 positions"), l.toString());
                skipped++;
                continue;
            }
            assertEquals("predicted", l.get("attribution_target").get("kind").asText());
            assertTrue(l.get("id").asText().length() > 0);
            String text = l.get("text").asText();
            CliRun one = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--device", "cpu", "--text", text,
                    "--study-start", l.get("study_start").asText(), "--study-end", l.get("study_end").asText(),
                    "--target-id", l.get("target_id").asText(), "--method", l.get("method").asText(), "--json");
            assertEquals(0, one.exitCode(), one.err());
            JsonNode ref = JSON.readTree(one.out().strip());
            String what = "example " + l.get("index") + " " + l.get("method").asText();
            assertEquals(ref.get("ids"), l.get("ids"), what + ": the prompt's tokens are the tokenization of its text");
            assertClose(ref.get("target_logit").asDouble(), l.get("target_logit").asDouble(), what + " target logit");
            assertEquals(ref.get("scores").size(), l.get("scores").size());
            for (int i = 0; i < ref.get("scores").size(); i++)
                assertClose(ref.get("scores").get(i).asDouble(), l.get("scores").get(i).asDouble(), what + " token " + i);
            assertEquals(ref.get("words").size(), l.get("words").size(), what + " words");
            assertTrue(l.get("words").size() > 5, what);
            for (int i = 0; i < ref.get("words").size(); i++) {
                JsonNode a = ref.get("words").get(i), b = l.get("words").get(i);
                assertEquals(a.get("text"), b.get("text"));
                assertEquals(a.get("start"), b.get("start"));
                assertClose(a.get("score").asDouble(), b.get("score").asDouble(), what + " word " + i);
            }
            compared++;
        }
        assertEquals(2 * (LIMIT - 1), compared);
        assertEquals(2, skipped);
    }

    @Test
    void wordScoresAreEvalsOnTheSameExamples(@TempDir Path dir) throws IOException {
        Path eval = dir.resolve("eval");
        assertEquals(0, CliRun.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", DATASET, "--methods", METHODS, "--limit", "" + LIMIT,
                "--device", "cpu", "--progress", "none", "--out", eval.toString()).exitCode());
        Map<Integer, JsonNode> byIndex = new LinkedHashMap<>();
        for (JsonNode e : read(eval.resolve("examples.jsonl"))) byIndex.put(e.get("index").asInt(), e);
        assertEquals(LIMIT, byIndex.size());
        for (JsonNode l : lines) {
            JsonNode e = byIndex.get(l.get("index").asInt());
            assertEquals(e.get("id"), l.get("id"), "the same examples, chosen the same way");
            if (l.has("skipped")) {
                assertEquals(e.get("skipped").asText(), l.get("skipped").asText(), "skipped for eval's reason");
                continue;
            }
            assertEquals(e.get("predicted").asText(), l.get("attribution_target").get("label").asText());
            JsonNode scores = e.get("methods").get(l.get("method").asText()).get("scores");
            assertEquals(scores.size(), l.get("words").size());
            for (int i = 0; i < scores.size(); i++)
                assertClose(scores.get(i).asDouble(), l.get("words").get(i).get("score").asDouble(), "eval's word " + i + " of " + l.get("id"));
        }
    }

    @Test
    void onAMultiFieldDatasetTheWordsAreTheExamplesAsEvalIndexesThem(@TempDir Path dir) throws IOException {
        // e-SNLI: premise and hypothesis with the template's "Hypothesis:" between them in the prompt; the words are
        // the fields' words only, indexed over the fields as eval and the human rationale index them
        String esnli = "esnli:" + CliRun.SHARED.resolve("data/datasets/esnli/train-highlight-sample/esnli_train_sample.csv");
        Path attr = dir.resolve("attr"), eval = dir.resolve("eval");
        CliRun a = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", esnli, "--method", "saliency", "--limit", "3",
                "--device", "cpu", "--progress", "none", "--out", attr.toString());
        assertEquals(0, a.exitCode(), a.err());
        CliRun e = CliRun.of("eval", "--model", CliRun.STORIES.toString(), "--dataset", esnli, "--methods", "saliency", "--limit", "3",
                "--device", "cpu", "--progress", "none", "--out", eval.toString());
        assertEquals(0, e.exitCode(), e.err());
        Map<Integer, JsonNode> byIndex = new LinkedHashMap<>();
        for (JsonNode x : read(eval.resolve("examples.jsonl"))) byIndex.put(x.get("index").asInt(), x);
        int compared = 0;
        for (JsonNode l : read(attr.resolve(AttributionRunner.ATTRIBUTIONS))) {
            JsonNode x = byIndex.get(l.get("index").asInt());
            JsonNode words = x.get("words"), scores = x.get("methods").get("saliency").get("scores");
            assertEquals(words.size(), l.get("words").size(), "the example's words, no template word: " + l.get("words"));
            String text = l.get("text").asText();
            for (int i = 0; i < words.size(); i++) {
                JsonNode w = l.get("words").get(i);
                assertEquals(i, w.get("index").asInt());
                assertEquals(words.get(i).get("text").asText(), w.get("text").asText(), "word " + i);
                assertEquals(w.get("text").asText(), text.substring(w.get("start").asInt(), w.get("end").asInt()), "its span in the prompt");
                assertClose(scores.get(i).asDouble(), w.get("score").asDouble(), "eval's word " + i);
            }
            for (JsonNode t : l.get("tokens"))
                for (JsonNode wi : t.get("words")) assertTrue(wi.asInt() < words.size(), "a token's words are the example's");
            compared++;
        }
        assertEquals(3, compared);
    }

    @Test
    void occlusionTokenScoresFollowTheExamplesWordsNotTheTemplates(@TempDir Path dir) throws IOException {
        // occlusion scores words and gives each token its word's score, 0 to a token in no word (the package doc); in
        // an e-SNLI prompt the study range holds the template word "Hypothesis:", which is not one of the example's
        // words, so its tokens are in no word and must score 0 like every other token in no word
        String esnli = "esnli:" + CliRun.SHARED.resolve("data/datasets/esnli/train-highlight-sample/esnli_train_sample.csv");
        Path attr = dir.resolve("attr");
        CliRun a = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", esnli, "--method", "occlusion", "--limit", "2",
                "--device", "cpu", "--progress", "none", "--out", attr.toString());
        assertEquals(0, a.exitCode(), a.err());
        int inNoWordInStudy = 0, compared = 0;
        for (JsonNode l : read(attr.resolve(AttributionRunner.ATTRIBUTIONS))) {
            String text = l.get("text").asText();
            JsonNode scores = l.get("scores"), words = l.get("words");
            for (JsonNode t : l.get("tokens")) {
                int i = t.get("index").asInt();
                double expected = 0;
                for (JsonNode wi : t.get("words")) {
                    double s = words.get(wi.asInt()).get("score").asDouble();
                    if (Math.abs(s) > Math.abs(expected)) expected = s;
                }
                if (t.get("words").isEmpty() && t.get("in_study").asBoolean() && !text.substring(t.get("start").asInt(), t.get("end").asInt()).isBlank())
                    inNoWordInStudy++;                                  // the template's "Hypothesis:" tokens
                assertEquals(expected, scores.get(i).asDouble(), 0.0, "example " + l.get("index") + " token " + i + " " + t);
            }
            compared++;
        }
        assertEquals(2, compared);
        assertTrue(inNoWordInStudy > 0, "the prompts hold template tokens inside the study range");
    }

    @Test
    void aRunCutOffMidWriteResumesWithEachLineOnce(@TempDir Path dir) throws IOException {
        Path cut = dir.resolve("cut");
        Files.createDirectories(cut);
        Files.copy(out.resolve("run.json"), cut.resolve("run.json"));
        // a kill after 7 lines (3 examples and the first method of the 4th) while writing the 8th
        List<String> all = Files.readAllLines(out.resolve(AttributionRunner.ATTRIBUTIONS), StandardCharsets.UTF_8);
        String kept = String.join("\n", all.subList(0, 7)) + "\n" + all.get(7).substring(0, all.get(7).length() / 2);
        Files.writeString(cut.resolve(AttributionRunner.ATTRIBUTIONS), kept, StandardCharsets.UTF_8);
        CliRun r = CliRun.of(command(cut));
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("10 of 10 examples: 7 now, 3 resumed; 1 skipped; 20 lines"), r.out());
        List<JsonNode> resumed = read(cut.resolve(AttributionRunner.ATTRIBUTIONS));
        assertEquals(2 * LIMIT, resumed.size(), "each (example, method) once");
        for (int i = 0; i < 7; i++) assertEquals(lines.get(i), resumed.get(i), "the lines before the kill are kept as they were");
        Map<String, JsonNode> byKey = new LinkedHashMap<>();
        for (JsonNode l : resumed) assertTrue(byKey.put(l.get("index").asInt() + "/" + l.get("method").asText(), l) == null);
        for (JsonNode l : lines) {
            JsonNode m = byKey.get(l.get("index").asInt() + "/" + l.get("method").asText());
            assertEquals(l.has("skipped"), m.has("skipped"));
            if (l.has("skipped")) continue;
            for (int i = 0; i < l.get("scores").size(); i++)
                assertClose(l.get("scores").get(i).asDouble(), m.get("scores").get(i).asDouble(), "resumed " + l.get("index"));
        }
        // and a run over a complete folder attributes nothing
        CliRun again = CliRun.of(command(cut));
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("0 now, 10 resumed"), again.out());
        assertEquals(2 * LIMIT, read(cut.resolve(AttributionRunner.ATTRIBUTIONS)).size());
    }

    @Test
    void badInputStopsWithOneLine(@TempDir Path dir) {
        CliRun missing = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", "medicalbios:" + dir.resolve("nope.jsonl"),
                "--method", METHODS, "--out", dir.resolve("o").toString(), "--progress", "none");
        assertNotEquals(0, missing.exitCode());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertFalse(Files.exists(dir.resolve("o")), "nothing created for a bad command");
        CliRun both = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", DATASET, "--text", "x", "--method", METHODS,
                "--out", dir.resolve("o").toString());
        assertEquals(2, both.exitCode());
        assertTrue(both.err().contains("leave out --text/--ids"), both.err());
        CliRun noOut = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--dataset", DATASET, "--method", METHODS);
        assertEquals(2, noOut.exitCode());
        CliRun outWithoutDataset = CliRun.of("attribute", "--model", CliRun.STORIES.toString(), "--text", "x", "--method", METHODS, "--out", "o");
        assertEquals(2, outWithoutDataset.exitCode());
        assertTrue(outWithoutDataset.err().contains("--out goes with --dataset"), outWithoutDataset.err());
    }

    static void assertClose(double expected, double actual, String what) {
        assertEquals(expected, actual, TOLERANCE * Math.max(1, Math.abs(expected)), what);
    }
}
