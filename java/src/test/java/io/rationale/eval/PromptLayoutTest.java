package io.rationale.eval;

import io.rationale.dataset.Example;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PromptLayoutTest {
    static final List<String> NLI = List.of("entailment", "neutral", "contradiction");

    static Example nli(String id, String p, String h, String label) {
        return Fixtures.example(id, List.of("premise", "hypothesis"), List.of(p, h), label, NLI);
    }

    static PromptBuilder builder(Tokenizer tok, TaskTemplate t, List<String> labels) {
        return PromptBuilder.forTokenizer(tok, t, LabelWords.resolve(tok, labels, t.labelWordCandidates()));
    }

    /** Everything the layout promises, for one prompt. */
    static void checkPrompt(Tokenizer tok, Prompt p, List<String> fields, boolean chat) {
        // the text under study: each field's range holds exactly that field's text
        assertEquals(fields.size(), p.fieldRanges().size());
        for (int f = 0; f < fields.size(); f++) assertEquals(fields.get(f), p.field(f));
        assertEquals(p.fieldRanges().get(0)[0], p.studyStart());
        assertEquals(p.fieldRanges().getLast()[1], p.studyEnd());
        assertTrue(p.studyStart() >= p.prefixChars(), "the text under study is after the prefix");
        // tokens: prefix + rest, spans into the prompt, never backwards
        int[] ids = p.ids();
        assertEquals(p.prefixIds().length + p.restIds().length, ids.length);
        int last = 0;
        for (int i = 0; i < p.tokens().size(); i++) {
            Token t = p.tokens().get(i);
            assertEquals(ids[i], t.id());
            assertEquals(p.text().substring(t.start(), t.end()), t.text());
            assertTrue(t.start() >= last || t.start() == t.end(), "span " + i + " goes backwards");
            if (t.end() > t.start()) last = t.start();
            if (i >= p.prefixIds().length) assertTrue(t.start() >= p.prefixChars(), "rest token " + i + " inside the prefix");
            else assertTrue(t.end() <= p.prefixChars(), "prefix token " + i + " beyond the prefix");
        }
        // every char of every field is covered by some rest token
        for (int[] r : p.fieldRanges()) {
            for (int c = r[0]; c < r[1]; c++) {
                final int cc = c;
                assertTrue(p.tokens().stream().anyMatch(t -> t.start() <= cc && cc < t.end()), "char " + c + " uncovered");
            }
        }
        // the concatenated tokens decode to the whole prompt
        String decoded = chat ? tok.decode(ids, false, false) : tok.decode(ids, true, false);
        assertEquals(p.text(), decoded);
        // and the prefix tokens alone are the tokenization of the prefix text
        assertArrayEquals(chat ? tok.encode(p.prefixText(), false, false).ids() : tok.encode(p.prefixText()).ids(), p.prefixIds());
    }

    @Test
    void baseModelLayoutOnSentencePiece() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        Example e = nli("x", "A man sleeps on a bench.", "He rests outside.", "entailment");
        Example d1 = nli("d1", "Kids play ball.", "Nobody plays.", "contradiction");
        Example d2 = nli("d2", "A dog runs.", "An animal moves.", "entailment");
        PromptBuilder b = builder(tok, TaskTemplate.nli(NLI), NLI);
        assertFalse(b.chat());
        PromptBuilder.Layout layout = b.layout(e, List.of(d1, d2));
        List<String> fields = List.of(e.fields().get(0).text(), e.fields().get(1).text());
        Prompt p = layout.classify(fields);
        String words = String.join(", ", b.labelWords().words().subList(0, 2)) + " or " + b.labelWords().words().get(2);
        String expected = "Read the premise and the hypothesis. Does the premise entail the hypothesis, contradict it, or neither? "
                + "Answer with one word: " + words + ".\n\n"
                + "Premise: Kids play ball.\nHypothesis: Nobody plays.\nAnswer: " + b.labelWords().word("contradiction") + "\n\n"
                + "Premise: A dog runs.\nHypothesis: An animal moves.\nAnswer: " + b.labelWords().word("entailment") + "\n\n"
                + "Premise: A man sleeps on a bench.\nHypothesis: He rests outside.\nAnswer:";
        assertEquals(expected, p.text());
        assertTrue(p.prefixText().endsWith("\n\nPremise:"));
        assertEquals(tok.bosId(), p.prefixIds()[0]);
        checkPrompt(tok, p, fields, false);
        // masked variants share the prefix tokens; an emptied first field still lays out and decodes
        for (List<String> m : List.of(List.of("A sleeps bench.", "He rests outside."), List.of("", "rests"), List.of("man", ""))) {
            Prompt q = layout.classify(m);
            assertArrayEquals(p.prefixIds(), q.prefixIds());
            checkPrompt(tok, q, m, false);
        }
        // prompting prompts continue the classification prompt and share its prefix
        Prompt g = layout.guided(fields, "yes", 3);
        assertTrue(g.text().startsWith(p.text() + " yes\nList the 3 words of the premise and hypothesis"), g.text());
        assertTrue(g.text().endsWith("\nWords:"));
        assertArrayEquals(p.prefixIds(), g.prefixIds());
        checkPrompt(tok, g, fields, false);
        Prompt u = layout.unbound(fields, "yes");
        assertTrue(u.text().endsWith("\nExplanation:"));
        checkPrompt(tok, u, fields, false);
    }

    @Test
    void firstFieldWordGetsItsWordInitialToken() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        PromptBuilder b = builder(tok, TaskTemplate.medicalBios(Fixtures.BIOS), Fixtures.BIOS);
        Example e = Fixtures.bio("b", "She is a nurse.", "nurse");
        Prompt p = b.layout(e, List.of()).classify(List.of("She is a nurse."));
        Token first = p.tokens().get(p.prefixIds().length);
        assertEquals("▁She", first.piece());
        assertEquals(" She", first.text());                   // the span covers the space its "▁" stands for
        assertEquals(p.studyStart() - 1, first.start());
    }

    @Test
    void chatModelLayoutThroughTheChatTemplate() {
        Tokenizer tok = Fixtures.tinyTokenizer();
        PromptBuilder b = builder(tok, TaskTemplate.medicalBios(Fixtures.BIOS), Fixtures.BIOS);
        assertTrue(b.chat());
        Example e = Fixtures.bio("b", "He fixes teeth  every day.\nHe likes it.", "dentist");
        Example d = Fixtures.bio("d", "She helps in surgery.", "nurse");
        PromptBuilder.Layout layout = b.layout(e, List.of(d));
        List<String> fields = List.of(e.fields().get(0).text());
        Prompt p = layout.classify(fields);
        // the tiny byte-level vocabulary starts physician and psychologist with the same token too
        assertEquals(List.of("dentist", "nurse", "physician", "counselor", "surgeon"), b.labelWords().words());
        String content = "Read the short bio. What is the occupation of the person it describes? Answer with one word: "
                + "dentist, nurse, physician, counselor or surgeon.\n\nBio: She helps in surgery.\nOccupation: nurse\n\n"
                + "Bio: He fixes teeth  every day.\nHe likes it.\n\nAnswer with one word: dentist, nurse, physician, counselor or surgeon.";
        assertEquals(tok.chatTemplate().orElseThrow().render(List.of(io.rationale.tokenizer.ChatMessage.user(content)), true), p.text());
        assertTrue(p.text().startsWith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nRead the short bio."));
        checkPrompt(tok, p, fields, true);
        Prompt q = layout.classify(List.of("teeth"));
        assertArrayEquals(p.prefixIds(), q.prefixIds());
        checkPrompt(tok, q, List.of("teeth"), true);
        Prompt g = layout.guided(fields, "dentist", 2);
        assertTrue(g.text().endsWith("<|start_header_id|>assistant<|end_header_id|>\n\ndentist<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "List the 2 words of the bio that were most important for this answer, separated by commas.<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n"), g.text());
        checkPrompt(tok, g, fields, true);
    }

    @Test
    void templatesByDatasetKind() {
        assertEquals("nli", TaskTemplate.forDataset("esnli", NLI, List.of("premise", "hypothesis")).name());
        assertEquals("nli", TaskTemplate.forDataset("jsonl", NLI, List.of("premise", "hypothesis")).name());
        assertEquals("fever", TaskTemplate.forDataset("fever", List.of("SUPPORTS", "REFUTES"), List.of("claim", "evidence")).name());
        assertEquals("fever", TaskTemplate.forDataset("eraser", List.of("REFUTES", "SUPPORTS"), List.of("query", "doc")).name());
        assertEquals("medicalbios", TaskTemplate.forDataset("medicalbios-contrastive", Fixtures.BIOS, List.of("bio")).name());
        TaskTemplate g = TaskTemplate.forDataset("jsonl", List.of("POS", "NEG"), List.of("text"));
        assertEquals("generic", g.name());
        assertEquals("Text", g.title("text"));
        assertEquals(List.of("POS", "pos"), g.labelWordCandidates().get("POS"));
        // FEVER on stories260K: "true"/"false" (▁t / ▁f) do not collide
        Tokenizer tok = Fixtures.storiesTokenizer();
        TaskTemplate f = TaskTemplate.fever(List.of("SUPPORTS", "REFUTES"));
        assertEquals(List.of("true", "false"), LabelWords.resolve(tok, List.of("SUPPORTS", "REFUTES"), f.labelWordCandidates()).words());
        assertEquals(new ArrayList<>(Arrays.asList("SUPPORTS", "REFUTES")), LabelWords.resolve(tok, List.of("SUPPORTS", "REFUTES"), f.labelWordCandidates()).labels());
    }
}
