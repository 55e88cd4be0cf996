package io.rationale.dataset;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WordsTest {

    @Test
    void wordsAreMaximalNonWhitespaceRunsWithUtf16Spans() {
        // index: 0,1 spaces | 2..7 "Hello," | 8 tab | 9..14 "world!" | 15 NBSP | 16 o 17 k 18 ZWSP 19 x | 20 space 21 \n
        String t = "  Hello,\tworld!\u00a0ok\u200bx \n";
        List<Word> w = Words.split(t);
        assertEquals(List.of(new Word(0, 2, 8, "Hello,"), new Word(1, 9, 15, "world!"), new Word(2, 16, 20, "ok\u200bx")), w);
        for (Word x : w) assertEquals(x.text(), t.substring(x.start(), x.end()));
    }

    @Test
    void surrogatePairsStayInsideTheirWord() {
        // "a😀b" is 4 UTF-16 chars (the emoji is a surrogate pair), then a space at 4, "c" at 5
        List<Word> w = Words.split("a\uD83D\uDE00b c");
        assertEquals(List.of(new Word(0, 0, 4, "a\uD83D\uDE00b"), new Word(1, 5, 6, "c")), w);
    }

    @Test
    void emptyAndBlankTextsHaveNoWords() {
        assertTrue(Words.split("").isEmpty());
        assertTrue(Words.split(" \t\n\u2003").isEmpty());
    }

    @Test
    void whitespaceIsPythonsIsspaceSet() {
        // Java's isWhitespace leaves out the no-break spaces; Python's str.isspace() includes them and NEL
        for (char c : new char[] {' ', '\t', '\n', '\u000B', '\f', '\r', '\u001C', '\u0085', '\u00A0', '\u1680',
                '\u2000', '\u2007', '\u200A', '\u2028', '\u2029', '\u202F', '\u205F', '\u3000'}) {
            assertTrue(Words.isWhitespace(c), Integer.toHexString(c));
        }
        for (char c : new char[] {'a', '\u200B', '\uFEFF', '\u180E', '\u0000', '_'}) {
            assertFalse(Words.isWhitespace(c), Integer.toHexString(c));
        }
    }

    @Test
    void aWordIsInASpanWhenAnyOfItsCharactersIs() {
        List<Word> w = Words.split("  Hello,\tworld!");   // Hello, = [2,8), world! = [9,15)
        assertEquals(Set.of(0, 1), Words.overlapping(w, 7, 10)); // the comma of word 0 and the w of word 1
        assertEquals(Set.of(), Words.overlapping(w, 8, 9));     // only the tab
        assertEquals(Set.of(), Words.overlapping(w, 5, 5));     // empty span
        assertEquals(Set.of(1), Words.overlapping(w, 14, 40));  // the '!' only
        assertEquals(Set.of(0), Words.overlapping(w, 0, 3));    // leading spaces and the H
    }
}
