package io.rationale.cli;

import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/** Item 1 of issue 10: streamed text appears token by token and ends as the decoded whole. */
class TextStreamTest {
    @Test
    void eachTokenPrintsItsTextAndAPartialCharacterWaits() {
        try (Tokenizer tok = Tokenizer.load(CliRun.STORIES)) {
            String text = "The cat sat — naïve 🙂 done";
            int[] ids = tok.encode(text, false, false).ids();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
            int[] prompt = tok.encode("Once upon a time").ids();
            TextStream s = new TextStream(tok, prompt, out);
            int grew = 0;
            String before = "";
            for (int i = 0; i < ids.length; i++) {
                s.token(0, ids[i]);
                String now = bytes.toString(StandardCharsets.UTF_8);
                assertTrue(now.startsWith(before), "text is only ever appended");
                assertFalse(now.contains("\uFFFD"), "no half character printed: " + now);
                if (now.length() > before.length()) grew++;
                before = now;
            }
            String whole = tok.decodeAfter(prompt, ids);
            assertEquals(" " + text, whole, "what the tokens add after the prompt, its leading space included");
            s.finish(whole);
            assertEquals(whole + System.lineSeparator(), bytes.toString(StandardCharsets.UTF_8));
            assertTrue(grew >= text.split(" ").length, "printed as the tokens came, " + grew + " times");
        }
    }
}
