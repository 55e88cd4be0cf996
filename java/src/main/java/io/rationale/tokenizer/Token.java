package io.rationale.tokenizer;

/**
 * One token of an {@link Encoding}.
 *
 * <p>{@code start}/{@code end} are UTF-16 char indices into the encoded Java String (end exclusive), so
 * {@code text == input.substring(start, end)} always holds. Tokens that cover no input text (a BOS/EOS the
 * tokenizer added, or the "▁" a SentencePiece-style normalizer prepends) have an empty span. Several tokens
 * that together encode one character (byte-fallback tokens like {@code <0xF0>}, or byte-level pieces split
 * inside an emoji) all carry that whole character in their span, so spans of neighbouring tokens may overlap
 * on that character; spans never go backwards.
 *
 * @param id      the token id
 * @param piece   the vocabulary string of the token (e.g. {@code ▁Once}, {@code Ġleading}, {@code <0xC3>})
 * @param text    the input substring the token covers
 * @param start   first char index (inclusive)
 * @param end     last char index (exclusive)
 * @param special whether the token is a special added token (e.g. {@code <s>}, {@code <|eot_id|>})
 */
public record Token(int id, String piece, String text, int start, int end, boolean special) {
    public Token {
        if (start < 0 || end < start) throw new IllegalArgumentException("bad span [" + start + ", " + end + ")");
        if (text.length() != end - start) throw new IllegalArgumentException("text length does not match span");
    }
}
