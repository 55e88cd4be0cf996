package io.rationale.cli;

import io.rationale.engine.Generator;
import io.rationale.tokenizer.TextDeltas;
import io.rationale.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.util.List;

/** Prints generated text as the tokens come ({@link TextDeltas}: a partial character waits for its other bytes). */
final class TextStream implements Generator.TokenListener {
    private final TextDeltas text;
    private final PrintStream out;

    TextStream(Tokenizer tok, int[] prompt, PrintStream out) {
        this.text = new TextDeltas(tok, prompt, List.of());
        this.out = out;
    }

    @Override
    public void token(int sequence, int token) {
        String delta = text.add(token);
        if (!delta.isEmpty()) {
            out.print(delta);
            out.flush();
        }
    }

    /** Prints what is left of {@code full} (the decoded generation) and ends the line. */
    void finish(String full) {
        out.print(text.finish(full));
        out.println();
        out.flush();
    }
}
