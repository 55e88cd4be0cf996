package io.rationale.metrics;

import io.rationale.dataset.Word;
import io.rationale.dataset.Words;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Masks words of a text ({@link Words}) for the faithfulness tests: {@link #remove} (x ∖ r, comprehensiveness
 * and flips) and {@link #keepOnly} (r alone, sufficiency: the complement is masked).
 *
 * <p>{@link Deletion} (the default, as ERASER and ferret): the masked words disappear. The text is the surviving
 * words in order, with the original text's leading and trailing whitespace; between two surviving words stands
 * the original whitespace in front of the second one, except that when a line break (\n, \r, U+000B, U+000C,
 * U+0085, U+2028, U+2029) occurs in any whitespace between them, the first such whitespace run is used instead,
 * so a deleted line end does not join two lines. When no word survives the text is {@code ""}.
 *
 * <p>{@link Replacement}: each masked word is replaced by the token (non-empty, without whitespace) and all
 * whitespace stays as it was, so the masked text has as many words as the original.
 *
 * <p>The result lists, for each word of the masked text, the original word it comes from and whether it is a
 * replacement token; {@link Masked#survivors()} gives the original indices that survive.
 */
public final class Masking {
    private Masking() {}

    public sealed interface Mode permits Deletion, Replacement {}

    public record Deletion() implements Mode {}

    public record Replacement(String token) implements Mode {
        public Replacement {
            if (token == null || token.isEmpty()) throw new IllegalArgumentException("empty replacement token");
            for (int i = 0; i < token.length(); i++) {
                if (Words.isWhitespace(token.charAt(i))) throw new IllegalArgumentException("replacement token contains whitespace");
            }
        }
    }

    public static final Mode DELETE = new Deletion();

    /**
     * A masked text.
     *
     * @param text     the masked text
     * @param words    its words ({@link Words#split})
     * @param source   for each word of {@code words}, the index of the original word it comes from (the word it
     *                 replaces for a replacement token)
     * @param replaced for each word, whether it is a replacement token
     */
    public record Masked(String text, List<Word> words, int[] source, boolean[] replaced) {
        /** The original indices of the words that survive unmasked, ascending. */
        public SortedSet<Integer> survivors() {
            TreeSet<Integer> out = new TreeSet<>();
            for (int i = 0; i < source.length; i++) if (!replaced[i]) out.add(source[i]);
            return out;
        }
    }

    /** {@code text} with the words {@code masked} removed or replaced. */
    public static Masked remove(String text, Set<Integer> masked, Mode mode) {
        List<Word> words = Words.split(text);
        for (int w : masked) {
            if (w < 0 || w >= words.size()) throw new IllegalArgumentException("word index " + w + " out of range (" + words.size() + " words)");
        }
        return switch (mode) {
            case Deletion d -> delete(text, words, masked);
            case Replacement r -> replace(text, words, masked, r.token());
        };
    }

    /** {@code text} with every word NOT in {@code kept} removed or replaced (the rationale alone). */
    public static Masked keepOnly(String text, Set<Integer> kept, Mode mode) {
        List<Word> words = Words.split(text);
        TreeSet<Integer> complement = new TreeSet<>();
        for (int w : kept) {
            if (w < 0 || w >= words.size()) throw new IllegalArgumentException("word index " + w + " out of range (" + words.size() + " words)");
        }
        for (int i = 0; i < words.size(); i++) if (!kept.contains(i)) complement.add(i);
        return remove(text, complement, mode);
    }

    private static Masked delete(String text, List<Word> words, Set<Integer> masked) {
        List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) if (!masked.contains(i)) keep.add(i);
        if (keep.isEmpty()) return new Masked("", List.of(), new int[0], new boolean[0]);
        StringBuilder b = new StringBuilder();
        b.append(text, 0, words.get(0).start());
        for (int k = 0; k < keep.size(); k++) {
            int w = keep.get(k);
            if (k > 0) b.append(separator(text, words, keep.get(k - 1), w));
            b.append(words.get(w).text());
        }
        b.append(text, words.get(words.size() - 1).end(), text.length());
        int[] source = new int[keep.size()];
        for (int i = 0; i < source.length; i++) source[i] = keep.get(i);
        return new Masked(b.toString(), Words.split(b.toString()), source, new boolean[source.length]);
    }

    /** The whitespace to put between surviving words {@code a < b}. */
    private static String separator(String text, List<Word> words, int a, int b) {
        for (int i = a; i < b; i++) {
            String gap = text.substring(words.get(i).end(), words.get(i + 1).start());
            if (hasLineBreak(gap)) return gap;
        }
        return text.substring(words.get(b - 1).end(), words.get(b).start());
    }

    /** Whether s holds a line break: the characters that end a line for {@link #remove} (and token-level masking). */
    public static boolean hasLineBreak(String s) {
        for (int i = 0; i < s.length(); i++) if (isLineBreak(s.charAt(i))) return true;
        return false;
    }

    public static boolean isLineBreak(char c) {
        return c == '\n' || c == '\r' || c == '\u000B' || c == '\f' || c == '\u0085' || c == '\u2028' || c == '\u2029';
    }

    private static Masked replace(String text, List<Word> words, Set<Integer> masked, String token) {
        StringBuilder b = new StringBuilder();
        int at = 0;
        int[] source = new int[words.size()];
        boolean[] replaced = new boolean[words.size()];
        for (Word w : words) {
            b.append(text, at, w.start());
            boolean m = masked.contains(w.index());
            b.append(m ? token : w.text());
            at = w.end();
            source[w.index()] = w.index();
            replaced[w.index()] = m;
        }
        b.append(text, at, text.length());
        return new Masked(b.toString(), Words.split(b.toString()), source, replaced);
    }
}
