package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.attribution.Fixtures;
import io.rationale.attribution.Method;
import io.rationale.dataset.Words;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code rationale attribute} in-process: JSON shape and consistency, table, one-line errors. */
class AttributeCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static String tiny;
    static Path bare;   // the tiny model without its tokenizer

    @BeforeAll
    static void setUp() throws IOException {
        tiny = Fixtures.tiny().toString();
        bare = Files.createTempDirectory("attr-bare");
        for (String f : List.of("config.json", "model.safetensors"))
            Files.copy(Fixtures.tiny().resolve(f), bare.resolve(f));
    }

    @AfterAll
    static void tearDown() {
        for (String f : List.of("config.json", "model.safetensors")) bare.resolve(f).toFile().delete();
        bare.toFile().delete();
    }

    record Result(int code, String out, String err) {}

    static synchronized Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static JsonNode json(String... args) throws IOException {
        Result r = run(args);
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(1, lines.length, "one JSON line: " + r.out());
        return JSON.readTree(lines[0]);
    }

    static void assertConsistent(JsonNode j, JsonNode m, String text) {
        int n = j.get("ids").size();
        assertEquals(n, j.get("tokens").size());
        assertEquals(n, m.get("scores").size());
        assertTrue(m.get("seconds").asDouble() >= 0);
        // words are the words of the text, in order, with their spans
        List<String> words = new ArrayList<>();
        for (JsonNode w : m.get("words")) {
            words.add(w.get("text").asText());
            assertEquals(w.get("text").asText(), text.substring(w.get("start").asInt(), w.get("end").asInt()));
        }
        assertEquals(Words.texts(Words.split(text)), words);
    }

    @Test
    void jsonForOneMethod() throws IOException {
        String text = "The boat sailed at night, über alles.";
        JsonNode j = json("attribute", "--model", tiny, "--text", text, "--method", "attention", "--target-text", "in", "--json");
        for (String k : List.of("method", "ids", "tokens", "target_id", "target_logit", "scores", "words", "seconds", "target_text", "extras"))
            assertTrue(j.has(k), "key " + k + " in " + j);
        assertEquals("attention", j.get("method").asText());
        assertEquals(" in", j.get("target_text").asText());
        assertEquals(text, j.get("text").asText());
        assertConsistent(j, j, text);
        JsonNode bos = j.get("tokens").get(0);
        assertTrue(bos.get("special").asBoolean());
        assertFalse(bos.get("in_study").asBoolean());
        double sum = 0;
        for (JsonNode s : j.get("scores")) sum += s.asDouble();
        assertEquals(1.0, sum, 1e-4);
    }

    @Test
    void jsonWithIdsAndNoTokenizer() throws IOException {
        JsonNode j = json("attribute", "--model", bare.toString(), "--ids", "256,40,41,42", "--method", "random", "--seed", "3", "--target-id", "5", "--json");
        assertEquals(4, j.get("scores").size());
        assertEquals(0, j.get("words").size());
        assertEquals(5, j.get("target_id").asInt());
        assertEquals(3, j.get("extras").get("seed").asInt());
        assertFalse(j.has("text"));
    }

    @Test
    void chatExcludesTheTemplate() throws IOException {
        String text = "Where is the small boat?";
        JsonNode j = json("attribute", "--model", tiny, "--text", text, "--chat", "--method", "occlusion", "--json");
        String prompt = j.get("text").asText();
        int start = j.get("study_start").asInt(), end = j.get("study_end").asInt();
        assertEquals(text, prompt.substring(start, end));
        List<String> words = new ArrayList<>();
        for (JsonNode w : j.get("words")) words.add(w.get("text").asText());
        assertEquals(Arrays.asList(text.split(" ")), words);
        int outside = 0;
        for (JsonNode t : j.get("tokens")) if (!t.get("in_study").asBoolean()) outside++;
        assertTrue(outside > 5, "template tokens flagged: " + outside);
        assertEquals(j.get("ids").size(), j.get("scores").size());
    }

    @Test
    void studyRange() throws IOException {
        String text = "Label: the sea was warm";
        JsonNode j = json("attribute", "--model", tiny, "--text", text, "--study-start", "7", "--method", "random", "--json");
        List<String> words = new ArrayList<>();
        for (JsonNode w : j.get("words")) words.add(w.get("text").asText());
        assertEquals(List.of("the", "sea", "was", "warm"), words);
    }

    @Test
    void allMethodsInOneObject() throws IOException {
        String text = "Tom saw the sea.";
        JsonNode j = json("attribute", "--model", tiny, "--text", text, "--method", "all", "--json");
        assertEquals("all", j.get("method").asText());
        JsonNode methods = j.get("methods");
        assertEquals(Method.values().length, methods.size());
        for (Method m : Method.values()) assertConsistent(j, methods.get(m.cliName()), text);
        assertTrue(j.get("shared").has("forward"));
        assertTrue(j.get("shared").has("gradient_backward"));
        assertTrue(j.get("seconds").asDouble() > 0);
        assertTrue(methods.get("integrated_gradients").get("extras").has("completeness_error"));
    }

    /** Item 2 of issue 10: the README's own example; a leading space is dropped when that gives one token. */
    @Test
    void readmeTargetTextWithALeadingSpace() throws IOException {
        String stories = Fixtures.STORIES.toString(), text = "Once upon a time there was a little girl";
        JsonNode spaced = json("attribute", "--model", stories, "--text", text, "--target-text", " named", "--method", "saliency", "--json");
        JsonNode bare = json("attribute", "--model", stories, "--text", text, "--target-text", "named", "--method", "saliency", "--json");
        assertEquals(bare.get("target_id").asInt(), spaced.get("target_id").asInt());
        assertEquals(" named", spaced.get("target_text").asText());
        JsonNode foil = json("attribute", "--model", stories, "--text", text, "--target-text", " named", "--foil-text", " the",
                "--method", "saliency", "--json");
        assertEquals(" the", foil.get("foil_text").asText());
        // byte-level: " in" and "in" are both single tokens, the word-initial one wins either way
        assertEquals(" in", json("attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-text", " in", "--json")
                .get("target_text").asText());
    }

    /** Item 6 of issue 10: target_is_argmax says whether the token is the argmax, however it was named. */
    @Test
    void targetIsArgmaxHoweverTheTargetIsNamed() throws IOException {
        String text = "Tom saw the sea.";
        JsonNode byDefault = json("attribute", "--model", tiny, "--text", text, "--method", "random", "--json");
        assertTrue(byDefault.get("target_is_argmax").asBoolean());
        int argmax = byDefault.get("target_id").asInt();
        JsonNode byId = json("attribute", "--model", tiny, "--text", text, "--method", "random", "--target-id", String.valueOf(argmax), "--json");
        assertTrue(byId.get("target_is_argmax").asBoolean(), byId.toString());
        String argmaxText = byDefault.get("target_text").asText();
        JsonNode byText = json("attribute", "--model", tiny, "--text", text, "--method", "random", "--target-text", argmaxText, "--json");
        assertEquals(argmax, byText.get("target_id").asInt());
        assertTrue(byText.get("target_is_argmax").asBoolean());
        int other = argmax == 0 ? 1 : argmax - 1;
        JsonNode notIt = json("attribute", "--model", tiny, "--text", text, "--method", "random", "--target-id", String.valueOf(other), "--json");
        assertEquals(notIt.get("target_logit").asDouble() >= byDefault.get("target_logit").asDouble(), notIt.get("target_is_argmax").asBoolean());
    }

    @Test
    void table() throws IOException {
        Result r = run("attribute", "--model", tiny, "--text", "the warm sea", "--method", "attention_rollout");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("rollout"), r.out());
        assertTrue(r.out().contains("warm"), r.out());
        assertTrue(r.out().contains("sea"), r.out());
        // item 16 of issue 10: the BOS score, which the JSON has, is in the table too
        JsonNode j = json("attribute", "--model", tiny, "--text", "the warm sea", "--method", "attention_rollout", "--json");
        JsonNode bos = j.get("tokens").get(0);
        assertTrue(bos.get("special").asBoolean());
        String bosRow = r.out().lines().filter(l -> l.startsWith("t0 ")).findFirst().orElse("");
        assertTrue(bosRow.contains(bos.get("piece").asText().substring(0, 8)) && bosRow.contains("(special)"), r.out());
        assertEquals(j.get("scores").get(0).asDouble(), Double.parseDouble(bosRow.substring(bosRow.lastIndexOf(' ') + 1)), 1e-4);
        // ids that make no word (special tokens only): the token rows show the tokens, not only their ids
        Result ids = run("attribute", "--model", tiny, "--ids", "507,508", "--method", "random");
        assertEquals(0, ids.code(), ids.err());
        List<String> rows = ids.out().lines().filter(l -> l.matches("^[0-9]+\\s.*")).toList();
        assertEquals(2, rows.size(), ids.out());
        for (String row : rows) assertTrue(row.contains("'<|") && row.contains("(special)"), ids.out());
    }

    static void assertError(String expectedPart, String... args) {
        Result r = run(args);
        assertTrue(r.code() != 0, "exit code for " + Arrays.toString(args));
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("rationale: "), err);
        assertTrue(err.contains(expectedPart), "expected '" + expectedPart + "' in: " + err);
        assertEquals("", r.out());
    }

    @Test
    void errors() {
        assertError("unknown method 'magic' (valid: saliency, input_x_gradient, integrated_gradients, attnlrp, cplrp, pe_lrp, attention, attention_rollout, occlusion, random, all)",
                "attribute", "--model", tiny, "--text", "hi", "--method", "magic");
        assertError("target id 512 is outside the vocabulary [0, 512)", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-id", "512");
        assertError("target id -3 is outside the vocabulary", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-id", "-3");
        assertError("foil id 999 is outside the vocabulary [0, 512)", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--foil-id", "999");
        assertError("--text is empty", "attribute", "--model", tiny, "--text", "", "--method", "random");
        assertError("target text 'xqzjvw' is not one token", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-text", "xqzjvw");
        assertError("--target-text needs the model's tokenizer", "attribute", "--model", bare.toString(), "--ids", "1,2", "--method", "random", "--target-text", "in");
        assertError("input id 600 at position 1 is outside the vocabulary [0, 512)", "attribute", "--model", tiny, "--ids", "1,600", "--method", "random");
        assertError("give --target-id or --target-text, not both", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-id", "1", "--target-text", "in");
        assertError("unknown aggregation 'mean'", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--aggregate", "mean");
        assertError("unknown target kind 'prob'", "attribute", "--model", tiny, "--text", "hi", "--method", "random", "--target-kind", "prob");
        assertError("--steps must be in [1, 4096], got 0", "attribute", "--model", tiny, "--text", "hi", "--method", "integrated_gradients", "--steps", "0");
        assertError("study range [3, 99) is not inside the text", "attribute", "--model", tiny, "--text", "hello", "--method", "random", "--study-start", "3", "--study-end", "99");
        assertError("--study-start/--study-end need --text", "attribute", "--model", tiny, "--ids", "1,2", "--method", "random", "--study-start", "1");
        assertError("--baseline-token 700 is outside the vocabulary", "attribute", "--model", tiny, "--text", "hi", "--method", "integrated_gradients", "--baseline-token", "700");
        assertError("--method", "attribute", "--model", tiny, "--text", "hi");   // missing required option (usage error)
    }
}
