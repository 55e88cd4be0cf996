package io.rationale.tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Generated text as the tokens come, for streaming: each {@link #add} returns what the text of all tokens so far
 * ({@link Tokenizer#decodeAfter} the prompt, as the final text is decoded) adds to the text already given out,
 * holding back what may still change or be cut:
 * <ul>
 *   <li>a trailing U+FFFD, the start of a character whose other bytes are still to come;</li>
 *   <li>with stop strings, the end of the text from the first stop string on (the final text is cut there), and a
 *       trailing part that a later token could complete to a stop string.</li>
 * </ul>
 * So the pieces given out are always a prefix of the final text, and {@link #finish} gives the rest: the pieces
 * together are exactly the final text. (A decoder whose text for more tokens does not extend its text for fewer
 * gives nothing more until {@link #finish}.)
 */
public final class TextDeltas {
    private final Tokenizer tok;
    private final int[] context;
    private final List<String> stops;
    private int[] ids = new int[16];
    private int n;
    private String given = "";

    /**
     * @param context the prompt: the text is what the tokens add after it ({@link Tokenizer#decodeAfter})
     * @param stops   the stop strings that will cut the final text (empty: none)
     */
    public TextDeltas(Tokenizer tok, int[] context, List<String> stops) {
        this.tok = tok;
        this.context = context.clone();
        this.stops = List.copyOf(stops);
    }

    /** The next generated token; returns the text it adds that is safe to give out now (often "", never null). */
    public String add(int token) {
        if (n == ids.length) ids = Arrays.copyOf(ids, 2 * n);
        ids[n++] = token;
        String text = tok.decodeAfter(context, Arrays.copyOf(ids, n));
        int end = safeEnd(text);
        if (end <= given.length() || !text.startsWith(given)) return "";
        String delta = text.substring(given.length(), end);
        given = text.substring(0, end);
        return delta;
    }

    /** The rest of {@code full}, the final text of the generation (cut at a stop string where one ended it). */
    public String finish(String full) {
        if (!full.startsWith(given)) return "";
        String rest = full.substring(given.length());
        given = full;
        return rest;
    }

    /** The text given out so far. */
    public String given() { return given; }

    /** How much of {@code text} may be given out: before a stop string, a partial stop string, or a partial character. */
    private int safeEnd(String text) {
        int end = text.length();
        for (String s : stops) {
            int at = text.indexOf(s);
            if (at >= 0) end = Math.min(end, at);
        }
        while (end > 0 && text.charAt(end - 1) == '\uFFFD') end--;
        int hold = 0;                                  // a suffix that begins a stop string may become one
        for (String s : stops)
            for (int k = Math.min(s.length() - 1, end); k > hold; k--)
                if (text.startsWith(s.substring(0, k), end - k)) {
                    hold = k;
                    break;
                }
        return end - hold;
    }
}
