package io.rationale.dataset;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The project's single definition of a word (notes/attribution.md): a maximal run of non-whitespace characters
 * of the original text, with its UTF-16 character span {@code [start, end)}.
 *
 * <p>Whitespace is exactly Python's {@code str.isspace()} set (so {@code text.split()} in Python gives the same
 * words): {@link Character#isWhitespace(char)}, plus the no-break spaces U+00A0, U+2007, U+202F that Java leaves
 * out ({@link Character#isSpaceChar(char)}), plus NEL U+0085. Zero-width characters (U+200B, U+FEFF) are not
 * whitespace. All whitespace characters are in the BMP, so surrogate pairs never split a word.
 *
 * <p>Mapping a character span onto words ({@link #overlapping}): a word belongs to a highlighted span when ANY of
 * its characters lies inside the span. Every rationale given as character spans, Prodigy tokens, ERASER tokens
 * or {@code *word*} marks is reduced to this rule.
 */
public final class Words {
    private Words() {}

    /** Whether {@code c} separates words (Python's {@code str.isspace()}). */
    public static boolean isWhitespace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** The words of {@code text} in order; an empty or all-whitespace text has none. */
    public static List<Word> split(String text) {
        List<Word> out = new ArrayList<>();
        int n = text.length();
        int i = 0;
        while (i < n) {
            while (i < n && isWhitespace(text.charAt(i))) i++;
            if (i >= n) break;
            int start = i;
            while (i < n && !isWhitespace(text.charAt(i))) i++;
            out.add(new Word(out.size(), start, i, text.substring(start, i)));
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * Indices of the words with at least one character inside the char span {@code [start, end)}
     * (i.e. {@code word.start < end && start < word.end}); an empty span selects nothing.
     */
    public static SortedSet<Integer> overlapping(List<Word> words, int start, int end) {
        TreeSet<Integer> out = new TreeSet<>();
        if (end <= start) return out;
        for (Word w : words) {
            if (w.start() < end && start < w.end()) out.add(w.index());
        }
        return out;
    }

    /** The texts of the words, in order. */
    public static List<String> texts(List<Word> words) {
        List<String> out = new ArrayList<>(words.size());
        for (Word w : words) out.add(w.text());
        return out;
    }
}
