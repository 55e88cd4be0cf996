package io.rationale.attribution;

import io.rationale.dataset.Words;
import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tokens to words, word aggregation (sum, max_abs) and the study range. */
class AttributionInputTest {

    /** Tokens over {@code text} from (start, end) pairs, BOS first. */
    static List<Token> tokens(String text, int... spans) {
        List<Token> out = new ArrayList<>();
        out.add(new Token(1, "<s>", "", 0, 0, true));
        for (int i = 0; i < spans.length; i += 2)
            out.add(new Token(10 + i, "p" + i, text.substring(spans[i], spans[i + 1]), spans[i], spans[i + 1], false));
        return out;
    }

    @Test
    void multiTokenWordsPunctuationAndNonAscii() {
        //             0123456789012345678901234
        String text = "Naïve café-goers, 😀 smile!";
        // tokens: "Na" "ïve" " café" "-" "goers" "," " " byte tokens of 😀 (two, both spanning the surrogate pair) " smile" "!"
        int e = text.indexOf("😀");
        List<Token> toks = tokens(text, 0, 2, 2, 5, 5, 10, 10, 11, 11, 16, 16, 17, 17, 18, e, e + 2, e, e + 2,
                e + 2, e + 8, e + 8, e + 9);
        AttributionInput in = AttributionInput.of(text, toks, 0, text.length());
        assertEquals(List.of("Naïve", "café-goers,", "😀", "smile!"), Words.texts(in.words()));
        assertArrayEquals(new int[]{1, 2}, in.wordTokens(0));
        assertArrayEquals(new int[]{3, 4, 5, 6}, in.wordTokens(1));
        assertArrayEquals(new int[]{8, 9}, in.wordTokens(2));
        assertArrayEquals(new int[]{10, 11}, in.wordTokens(3));
        assertArrayEquals(new int[0], in.tokenWords(0));              // BOS: no word
        assertArrayEquals(new int[0], in.tokenWords(7));              // a lone space: no word, but in the study
        assertFalse(in.inStudy(0));
        assertTrue(in.inStudy(7));
        double[] s = {9, 1, -2, 0.5, 0.25, -4, 1, 100, 3, -3, 2, -1};
        assertArrayEquals(new double[]{-1, -2.25, 0, 1}, in.aggregate(s, Aggregate.SUM), 1e-12);
        // max_abs keeps the sign; on a tie (3 vs -3) the first token wins
        assertArrayEquals(new double[]{-2, -4, 3, 2}, in.aggregate(s, Aggregate.MAX_ABS), 1e-12);
    }

    @Test
    void aTokenAcrossTwoWordsBelongsToBoth() {
        String text = "ab cd";
        AttributionInput in = AttributionInput.of(text, tokens(text, 0, 4, 4, 5), 0, 5);
        assertArrayEquals(new int[]{0, 1}, in.tokenWords(1));
        assertArrayEquals(new double[]{2, 5}, in.aggregate(new double[]{7, 2, 3}, Aggregate.SUM), 0);
    }

    @Test
    void templateTokensAreExcludedFromWords() {
        String text = "<u>The cat sat.</u>";
        // "<u>" "The" " cat" " sat" "." "</u>" ; the study text is "The cat sat."
        List<Token> toks = tokens(text, 0, 3, 3, 6, 6, 10, 10, 14, 14, 15, 15, 19);
        AttributionInput in = AttributionInput.of(text, toks, 3, 15);
        assertEquals(List.of("The", "cat", "sat."), Words.texts(in.words()));   // not "<u>The" nor "sat.</u>"
        assertEquals(3, in.words().get(0).start());
        assertEquals(15, in.words().get(2).end());
        assertFalse(in.inStudy(1));
        assertFalse(in.inStudy(6));
        assertArrayEquals(new int[0], in.tokenWords(1));
        assertArrayEquals(new int[0], in.tokenWords(6));
        assertArrayEquals(new int[]{4, 5}, in.wordTokens(2));
        assertArrayEquals(new double[]{1, 2, 7}, in.aggregate(new double[]{50, 60, 1, 2, 3, 4, 70}, Aggregate.SUM), 0);
        assertThrows(IllegalArgumentException.class, () -> AttributionInput.of(text, toks, 5, 40));
    }

    @Test
    void realTokenizerSpansMapOntoWords() {
        try (Tokenizer tok = Tokenizer.load(Fixtures.STORIES)) {
            String text = "Tim's  dog — a Café-lover! \uD83D\uDE00 ok";
            Encoding enc = tok.encode(text);
            AttributionInput in = AttributionInput.of(enc);
            assertEquals(Words.texts(Words.split(text)), Words.texts(in.words()));
            // every token with a non-blank span is in exactly the words it overlaps, and each word's tokens
            // together cover it
            for (int k = 0; k < in.words().size(); k++) {
                var w = in.words().get(k);
                boolean[] covered = new boolean[w.end() - w.start()];
                for (int t : in.wordTokens(k)) {
                    Token tk = enc.get(t);
                    for (int c = Math.max(tk.start(), w.start()); c < Math.min(tk.end(), w.end()); c++) covered[c - w.start()] = true;
                }
                for (boolean b : covered) assertTrue(b, "word " + w.text() + " not covered by its tokens");
            }
            double[] ones = new double[in.size()];
            java.util.Arrays.fill(ones, 1);
            double[] perWord = in.aggregate(ones, Aggregate.SUM);
            for (int k = 0; k < perWord.length; k++) assertEquals(in.wordTokens(k).length, perWord[k]);
            assertTrue(in.wordTokens(in.words().size() - 2).length > 1, "the emoji is byte-fallback tokens");
        }
    }

    @Test
    void idsWithAndWithoutTokenizer() {
        AttributionInput bare = AttributionInput.ofIds(new int[]{1, 5, 9}, null);
        assertFalse(bare.hasText());
        assertTrue(bare.words().isEmpty());
        assertEquals(3, bare.size());
        try (Tokenizer tok = Tokenizer.load(Fixtures.STORIES)) {
            int[] ids = tok.encode("Once upon a time").ids();
            AttributionInput in = AttributionInput.ofIds(ids, tok);
            assertEquals(" Once upon a time", in.text());
            assertEquals(List.of("Once", "upon", "a", "time"), Words.texts(in.words()));
            assertArrayEquals(new int[0], in.tokenWords(0));   // BOS
        }
    }
}
