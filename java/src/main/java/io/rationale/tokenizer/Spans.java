package io.rationale.tokenizer;

/**
 * Turns the character spans the Hugging Face library reports into UTF-16 spans that callers can
 * {@code substring} with.
 *
 * <p>What the library (through DJL) reports, and what is fixed here:
 * <ol>
 *   <li>offsets count Unicode code points, not Java chars: an emoji is one unit there and two chars here.
 *       They are mapped to UTF-16 indices.</li>
 *   <li>a "▁" that the normalizer or pre-tokenizer inserted (Llama 2's prepended metaspace) gets the span of
 *       the character it was inserted before. When such a token consists only of "▁" it would then claim a
 *       character that the next token also covers (for "Café", {@code ▁} and {@code C} would both be [0,1)); it
 *       is given the empty span at that position instead. A "▁" that stands for a real space in the input
 *       never shares its start with the next token, so it keeps its span.</li>
 *   <li>tokens that encode parts of one character (byte fallback {@code <0xF0> <0x9F> ...}, or byte-level
 *       pieces of an emoji) already all carry that character's span; they are left so.</li>
 *   <li>a token without a span (none are produced here, as post-processor specials are not used) gets the
 *       empty span where the previous token ended.</li>
 * </ol>
 */
final class Spans {
    private Spans() {}

    /**
     * @param text      the encoded text
     * @param pieces    the token pieces
     * @param cpStarts  start offsets in code points, -1 when the library gave none
     * @param cpEnds    end offsets in code points, -1 when the library gave none
     * @return {starts, ends} in UTF-16 chars
     */
    static int[][] toUtf16(String text, String[] pieces, int[] cpStarts, int[] cpEnds) {
        int[] cpToChar = codePointToCharIndex(text);
        int n = pieces.length;
        int[] starts = new int[n];
        int[] ends = new int[n];
        int previousEnd = 0;
        for (int i = 0; i < n; i++) {
            if (cpStarts[i] < 0 || cpEnds[i] < 0) {
                starts[i] = previousEnd;
                ends[i] = previousEnd;
            } else {
                starts[i] = cpToChar[clamp(cpStarts[i], cpToChar.length - 1)];
                ends[i] = Math.max(starts[i], cpToChar[clamp(cpEnds[i], cpToChar.length - 1)]);
            }
            previousEnd = ends[i];
        }
        for (int i = 0; i + 1 < n; i++) {
            if (onlyMetaspace(pieces[i]) && starts[i + 1] == starts[i] && ends[i + 1] >= ends[i]) {
                ends[i] = starts[i];
            }
        }
        return new int[][] {starts, ends};
    }

    /** index[k] = the char index where code point k starts; index[count] = text.length(). */
    static int[] codePointToCharIndex(String text) {
        int count = text.codePointCount(0, text.length());
        int[] index = new int[count + 1];
        int c = 0;
        for (int k = 0; k < count; k++) {
            index[k] = c;
            c += Character.charCount(text.codePointAt(c));
        }
        index[count] = text.length();
        return index;
    }

    private static int clamp(int v, int max) { return Math.max(0, Math.min(v, max)); }

    private static boolean onlyMetaspace(String piece) {
        if (piece.isEmpty()) return false;
        for (int i = 0; i < piece.length(); i++) if (piece.charAt(i) != '▁') return false;
        return true;
    }
}
