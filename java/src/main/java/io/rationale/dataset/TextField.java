package io.rationale.dataset;

import java.util.List;

/**
 * One named text of an example (e.g. {@code premise}, {@code hypothesis}, {@code bio}, {@code claim}) with its
 * {@link Words words}. Rationale word indices of the example refer to {@link #words()}.
 */
public record TextField(String name, String text, List<Word> words) {
    public TextField {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("text field without a name");
        if (text == null) throw new IllegalArgumentException("field '" + name + "' has no text");
        words = List.copyOf(words);
    }

    /** A field whose words are {@link Words#split(String) split} from {@code text}. */
    public static TextField of(String name, String text) {
        return new TextField(name, text, text == null ? List.of() : Words.split(text));
    }

    public int wordCount() { return words.size(); }
}
