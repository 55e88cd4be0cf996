package io.rationale.cli;

import io.rationale.engine.Generator;
import io.rationale.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.util.Arrays;

/**
 * Prints generated text as the tokens come. Each token's text is what decoding all tokens so far adds to the text
 * already printed (special tokens skipped, as the final text); a trailing U+FFFD, the start of a character whose
 * other bytes are still to come, waits for them.
 */
final class TextStream implements Generator.TokenListener {
    private final Tokenizer tok;
    private final PrintStream out;
    private int[] ids = new int[16];
    private int n;
    private String printed = "";

    TextStream(Tokenizer tok, PrintStream out) {
        this.tok = tok;
        this.out = out;
    }

    @Override
    public void token(int sequence, int token) {
        if (n == ids.length) ids = Arrays.copyOf(ids, 2 * n);
        ids[n++] = token;
        String text = tok.decode(Arrays.copyOf(ids, n), true);
        int end = text.length();
        while (end > printed.length() && text.charAt(end - 1) == '\uFFFD') end--;
        if (end > printed.length() && text.startsWith(printed)) {
            out.print(text.substring(printed.length(), end));
            out.flush();
            printed = text.substring(0, end);
        }
    }

    /** Prints what is left of {@code full} (the decoded generation) and ends the line. */
    void finish(String full) {
        if (full.startsWith(printed)) out.print(full.substring(printed.length()));
        out.println();
        out.flush();
    }
}
