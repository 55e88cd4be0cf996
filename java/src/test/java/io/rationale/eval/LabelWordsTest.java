package io.rationale.eval;

import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class LabelWordsTest {

    @Test
    void sentencePieceVariantsAreTheWordInitialAndTheBarePiece() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        assertTrue(LabelWords.prependsSpace(tok));
        LabelWords lw = LabelWords.of(tok, List.of("a", "b"), Map.of("a", "nurse", "b", "false"));
        // stories260K's vocabulary (tokenizer.json): "▁n" and "n", "▁f" and "f"
        assertArrayEquals(new int[]{tok.id("▁n"), tok.id("n")}, lw.entries().get(0).tokenIds());
        assertArrayEquals(new int[]{tok.id("▁f"), tok.id("f")}, lw.entries().get(1).tokenIds());
        assertEquals(List.of("▁n", "n"), lw.entries().get(0).pieces());
    }

    @Test
    void aWhitespaceOnlyFirstTokenIsDropped() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        // "entailment" has no "▁e..." piece: encoded alone it starts with a lone "▁"; only the bare "ent" is left
        LabelWords lw = LabelWords.of(tok, List.of("entailment", "neutral"), Map.of("entailment", "entailment", "neutral", "neutral"));
        assertArrayEquals(new int[]{tok.id("ent")}, lw.entries().get(0).tokenIds());
        assertEquals(tok.id("▁ne"), lw.entries().get(1).tokenIds()[0]);
    }

    @Test
    void byteLevelVariantsAreSpaceWordAndWord() {
        Tokenizer tok = Fixtures.tinyTokenizer();
        assertFalse(LabelWords.prependsSpace(tok));
        LabelWords lw = LabelWords.of(tok, List.of("x", "y"), Map.of("x", "the", "y", "and"));
        int spaced = tok.encode(" the", false, false).get(0).id();
        int bare = tok.encode("the", false, false).get(0).id();
        assertTrue(tok.displayText(spaced).startsWith(" "), tok.displayText(spaced));
        assertFalse(tok.displayText(bare).startsWith(" "), tok.displayText(bare));
        assertArrayEquals(spaced == bare ? new int[]{spaced} : new int[]{spaced, bare}, lw.entries().get(0).tokenIds());
    }

    @Test
    void sharedFirstTokenIsAnError() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LabelWords.of(tok, List.of("physician", "psychologist"), Map.of("physician", "physician", "psychologist", "psychologist")));
        assertTrue(e.getMessage().contains("'▁p'"), e.getMessage());
        assertTrue(e.getMessage().contains("physician") && e.getMessage().contains("psychologist"), e.getMessage());
        // the bare variants collide too ("p"), whichever variant is looked at
        assertThrows(IllegalArgumentException.class,
                () -> LabelWords.of(tok, List.of("a", "b"), Map.of("a", "pen", "b", "pig")));
    }

    @Test
    void candidatesResolveTheFirstCollisionFreeChoice() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        TaskTemplate t = TaskTemplate.medicalBios(Fixtures.BIOS);
        LabelWords lw = LabelWords.resolve(tok, Fixtures.BIOS, t.labelWordCandidates());
        // physician keeps its word; psychologist ("▁p") falls back to counselor ("▁c")
        assertEquals(List.of("dentist", "nurse", "physician", "counselor", "surgeon"), lw.words());
        assertArrayEquals(new int[]{tok.id("▁c"), tok.id("c")}, lw.entries().get(3).tokenIds());
        // with counselor taken away, the next candidate: therapist (▁the)
        java.util.Map<String, List<String>> c = new java.util.HashMap<>(t.labelWordCandidates());
        c.put("psychologist", List.of("psychologist", "therapist"));
        assertEquals("therapist", LabelWords.resolve(tok, Fixtures.BIOS, c).words().get(3));
        // backtracking: an earlier label gives up its first choice when a later one has no other way out
        LabelWords bt = LabelWords.resolve(tok, List.of("a", "b"), java.util.Map.of("a", List.of("pen", "cat"), "b", List.of("pig")));
        assertEquals(List.of("cat", "pig"), bt.words());
    }

    @Test
    void labelLogitIsTheMaxOverVariantsAndProbabilitiesAreASoftmaxOverLabelsOnly() {
        Tokenizer tok = Fixtures.storiesTokenizer();
        LabelWords lw = LabelWords.of(tok, List.of("a", "b"), Map.of("a", "nurse", "b", "false"));
        float[] logits = new float[tok.vocabSize()];
        java.util.Arrays.fill(logits, 50f);                  // the rest of the vocabulary must not matter
        logits[tok.id("▁n")] = 1f;
        logits[tok.id("n")] = 3f;
        logits[tok.id("▁f")] = 2f;
        logits[tok.id("f")] = -4f;
        LabelWords.Scores s = lw.score(logits);
        assertArrayEquals(new double[]{3, 2}, s.logits(), 0);
        double pa = 1 / (1 + Math.exp(-1));                  // softmax([3, 2])[0] = sigmoid(1)
        assertEquals(pa, s.probs()[0], 1e-12);
        assertEquals(1 - pa, s.probs()[1], 1e-12);
        assertEquals(0, s.predicted());
        assertEquals(tok.id("n"), s.predictedToken());
        assertEquals(tok.id("▁f"), s.bestTokens()[1]);
    }
}
