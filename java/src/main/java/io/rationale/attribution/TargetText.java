package io.rationale.attribution;

import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Token;
import io.rationale.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A target (or foil) given as text: it must be exactly ONE token. Tried as given and with its leading whitespace
 * changed: with one leading space added when it has none, without its leading whitespace when it has some. The
 * two conventions need this: byte-level tokenizers make word-initial tokens such as {@code ĠParis} only from
 * " Paris", while SentencePiece tokenizers that prepend "▁" make {@code ▁Paris} from "Paris" and split " Paris"
 * into {@code ▁} + {@code ▁Paris}. So " named" and "named" name the same word-initial token under both. All
 * variants are encoded without BOS/EOS. When several give one token, a word-initial one wins (its display text
 * starts with whitespace), else the one of the text as given.
 */
public final class TargetText {
    private TargetText() {}

    /**
     * The single token id of {@code text}.
     *
     * @param what for the message, e.g. {@code "target text"}
     * @throws IllegalArgumentException naming the text and its tokenisations when it is not one token
     */
    public static int singleToken(Tokenizer tok, String text, String what) {
        if (text == null || text.isEmpty()) throw new IllegalArgumentException(what + " is empty");
        List<String> variants = new ArrayList<>();
        variants.add(text);
        if (!Character.isWhitespace(text.charAt(0))) variants.add(" " + text);
        else if (!text.isBlank()) variants.add(text.stripLeading());
        int chosen = -1;
        boolean chosenInitial = false;
        List<String> tried = new ArrayList<>();
        for (String v : variants) {
            Encoding e = tok.encode(v, false, false);
            tried.add(quote(v) + " → [" + e.tokens().stream().map(t -> quote(t.piece())).collect(Collectors.joining(", ")) + "]");
            if (e.size() != 1) continue;
            Token t = e.get(0);
            String display = tok.displayText(t.id());
            boolean initial = !display.isEmpty() && Character.isWhitespace(display.charAt(0));
            if (chosen < 0 || (initial && !chosenInitial)) {
                chosen = t.id();
                chosenInitial = initial;
            }
        }
        if (chosen < 0)
            throw new IllegalArgumentException(what + " " + quote(text) + " is not one token: " + String.join("; ", tried));
        return chosen;
    }

    static String quote(String s) {
        return "'" + s.replace("\n", "\\n") + "'";
    }
}
