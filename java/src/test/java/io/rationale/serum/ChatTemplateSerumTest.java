package io.rationale.serum;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.cli.Main;
import io.rationale.dataset.MultipleChoice;
import io.rationale.engine.Backend;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The serum's prompts and LLM judge through a chat template: the tiny generated model ({@code weights-tools tiny},
 * whose template is Llama 3's layout). The rendered prompts are compared with the template's layout written out by
 * hand; the explanation prompt extends the answer prompt token for token; the LLM judge's prompt and verdicts; and the
 * whole {@code serum} command with the tiny model as its own judge.
 */
class ChatTemplateSerumTest {
    static Path dir;
    static Model model;
    static Tokenizer tok;
    static Backend backend;

    @BeforeAll
    static void write() throws Exception {
        dir = Files.createTempDirectory("serum-tiny");
        TinyModel.write(Presets.get("tiny"), 0, dir, 0, 1, null);
        loaded = io.rationale.attribution.Fixtures.Loaded.cpu(dir);
        model = loaded.model();
        tok = loaded.tok();
        backend = loaded.backend();
    }

    static io.rationale.attribution.Fixtures.Loaded loaded;

    @AfterAll
    static void close() { loaded.close(); }

    static String turn(String role, String text) { return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + text.strip() + "<|eot_id|>"; }

    static final String ASSISTANT = "<|start_header_id|>assistant<|end_header_id|>\n\n";

    @Test
    void promptsFollowTheTemplateAndTheSpanCoversQuestionOptionsAndHint() {
        MultipleChoice.Question q = new MultipleChoice.Question("q", "", "Which is largest?", List.of("one", "two", "three"), 2);
        Hints.Hint hint = Hints.defaults(0).build(HintType.SYCOPHANCY, 0, 1);
        SerumPrompts p = new SerumPrompts(tok, SerumPrompts.Explain.SPECIFIC);
        SerumPrompts.Prompt a = p.answerPrompt(q, hint.text());
        String bos = tok.piece(tok.bosId());
        String user = "Question: Which is largest?\nOptions:\nA. one\nB. two\nC. three\n" + hint.text();
        String want = bos + turn("system", SerumPrompts.system(List.of("A", "B", "C"))) + turn("user", user) + ASSISTANT;
        assertEquals(want, a.text());
        assertEquals(want, tok.decode(a.ids(), false), "the ids decode to the rendered prompt");
        String span = tok.decode(java.util.Arrays.copyOfRange(a.ids(), a.spanStart(), a.spanEnd()), false);
        assertEquals(user.substring("Question:".length()), span, "from just after 'Question:' to the end of the turn");
        String hintText = tok.decode(java.util.Arrays.copyOfRange(a.ids(), a.hintStart(), a.hintEnd()), false);
        assertTrue(hintText.strip().equals(hint.text()), hintText);

        int[] e = p.explanationPrompt(q, hint.text(), a, "Answer: B");
        assertArrayEquals(a.ids(), java.util.Arrays.copyOf(e, a.ids().length), "the explanation prompt extends the answer prompt");
        assertEquals(want + "Answer: B<|eot_id|>" + turn("user", SerumPrompts.Explain.SPECIFIC.text()) + ASSISTANT, tok.decode(e, false));
    }

    /**
     * The real Llama 2 and Llama 3 tokenizers and chat templates (../shared): the span decodes to the question turn
     * after "Question:", the hint's tokens to the hint, and the explanation prompt extends the answer prompt.
     */
    @Test
    void realLlamaTemplatesKeepTheSpanAndThePrefix() {
        Path shared = Path.of(System.getProperty("rationale.shared", "../../shared")).resolve("data");
        MultipleChoice.Question q = MultipleChoice.load("mmlu:" + shared.resolve("datasets/mmlu/test/global_facts_test.csv")).get(0);
        for (String name : List.of("llama2", "llama3")) {
            try (Tokenizer t = Tokenizer.load(shared.resolve("tokenizers/" + name))) {
                for (HintType type : HintType.values()) {
                    Hints.Hint hint = Hints.defaults(1).build(type, 0, 3);
                    SerumPrompts p = new SerumPrompts(t, SerumPrompts.Explain.GENERAL);
                    SerumPrompts.Prompt a = p.answerPrompt(q, hint.text());
                    String span = t.decode(java.util.Arrays.copyOfRange(a.ids(), a.spanStart(), a.spanEnd()), false, false);
                    String user = SerumPrompts.questionTurn(q, hint.text());
                    assertEquals(user.substring("Question:".length()).strip(), span.strip(), name + " " + type);
                    String h = t.decode(java.util.Arrays.copyOfRange(a.ids(), a.hintStart(), a.hintEnd()), false, false);
                    assertEquals(hint.text().strip(), h.strip(), name + " " + type + " hint");
                    int[] e = p.explanationPrompt(q, hint.text(), a, "Answer: D");
                    assertArrayEquals(a.ids(), java.util.Arrays.copyOf(e, a.ids().length), name + " " + type);
                    assertTrue(t.decode(e, false, false).contains(SerumPrompts.Explain.GENERAL.text()), name);
                }
            }
        }
    }

    @Test
    void llmJudgePromptAndVerdicts() {
        LlmJudge judge = new LlmJudge(backend, tok, 6);
        String desc = HintType.METADATA.defaultDescription(), expl = "The <answer> field said C, so I chose C.";
        int[] ids = judge.prompt(desc, expl);
        assertEquals(tok.piece(tok.bosId()) + turn("system", LlmJudge.RULES) + turn("user", "Hint: " + desc + "\nExplanation: " + expl) + ASSISTANT,
                tok.decode(ids, false));
        LlmJudge.Verdict v = judge.judge(desc, expl);
        Boolean read = LetterParser.trueFalse(v.raw());
        assertEquals(read != null, v.parsed());
        assertEquals(Boolean.TRUE.equals(read), v.used());
        String huge = "word ".repeat(3000);
        LlmJudge.Verdict tooLong = judge.judge(desc, huge);
        assertFalse(tooLong.parsed());
        assertFalse(tooLong.used());
        assertTrue(tooLong.raw().contains("not judged"), tooLong.raw());
    }

    @Test
    void serumCommandThroughTheChatTemplateWithTheModelAsItsOwnJudge() throws Exception {
        Path out = Files.createTempDirectory("serum-tiny-out");
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.run("serum", "--model", dir.toString(), "--questions",
                    "mmlu:" + Path.of(System.getProperty("rationale.shared", "../../shared")).resolve("data/datasets/mmlu/dev/global_facts_dev.csv"),
                    "--hints", "metadata", "--alpha", "0.1", "--layers", "window:0:2", "--out", out.toString(), "--limit", "2", "--keep", "all",
                    "--answer-tokens", "4", "--explanation-tokens", "6", "--judge-model", dir.toString(), "--judge-tokens", "3",
                    "--operator", "post-renorm", "--rows", "causal", "--normalization", "l1", "--progress", "none", "--device", "cpu");
        } finally {
            System.setOut(old);
        }
        assertEquals(0, rc, buf.toString());
        List<String> lines = Files.readAllLines(out.resolve("cases.jsonl"));
        assertEquals(2, lines.size());
        for (String s : lines) {
            JsonNode l = new ObjectMapper().readTree(s);
            assertTrue(l.get("explained").asBoolean(), s);
            assertFalse(l.get("judge_llm").isNull(), "the LLM judge ran");
            assertFalse(l.get("judge_llm_serum").isNull());
            assertEquals("[0,1]", l.get("layers").toString());
            assertEquals("post-renorm", l.get("operator").asText());
            assertEquals("causal", l.get("rows").asText());
            double sum = 0;
            for (JsonNode v : l.get("relevance")) sum += Math.abs(v.asDouble());
            assertEquals(1.0, sum, 1e-9, "l1-normalised");
        }
        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        JsonNode st = summary.get("groups").get(0).get("settings").get(0);
        // --keep all: cases the hint did not move are explained too; the summary's judges are over the kept ones (the
        // paper's rates) and judges_explained over all of them
        assertEquals(2, st.get("explained").asInt());
        if (st.get("kept").asInt() < 2) assertFalse(st.get("judges_explained").get("llm").isNull(), st.toString());
        if (st.get("kept").asInt() > 0) assertFalse(st.get("judges").get("llm").isNull(), st.toString());
        else assertTrue(st.get("judges").get("llm").isNull(), "no kept case: no rate");
    }
}
