package io.rationale.dataset;

/**
 * One word of a text: a maximal run of non-whitespace characters (see {@link Words}).
 *
 * @param index position of the word in its text (0-based)
 * @param start first UTF-16 char index of the word in the text (inclusive)
 * @param end   UTF-16 char index after the word's last char (exclusive)
 * @param text  the word itself, {@code text.equals(source.substring(start, end))}
 */
public record Word(int index, int start, int end, String text) {
    public Word {
        if (index < 0) throw new IllegalArgumentException("negative word index " + index);
        if (start < 0 || end <= start) throw new IllegalArgumentException("bad word span [" + start + ", " + end + ")");
        if (text == null || text.length() != end - start) throw new IllegalArgumentException("word text does not match its span");
    }
}
