package io.rationale.tokenizer;

import java.util.List;

/**
 * The result of encoding one text: the tokens in order, each with its id, piece and character span in
 * {@link #text()} (see {@link Token} for the span rules).
 *
 * @param text   the encoded input, exactly as given
 * @param tokens the tokens, including a BOS/EOS the tokenizer added
 */
public record Encoding(String text, List<Token> tokens) {
    public Encoding {
        tokens = List.copyOf(tokens);
    }

    public int size() { return tokens.size(); }

    public Token get(int i) { return tokens.get(i); }

    /** The token ids, in order. */
    public int[] ids() {
        int[] ids = new int[tokens.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = tokens.get(i).id();
        return ids;
    }

    /** The vocabulary strings of the tokens, in order. */
    public List<String> pieces() {
        return tokens.stream().map(Token::piece).toList();
    }
}
