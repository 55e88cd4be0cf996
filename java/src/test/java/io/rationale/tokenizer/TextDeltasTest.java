package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Streamed text with stop strings: what is given out is always a prefix of the final text (cut before the first stop
 * string, as generation cuts it) and never ends in half a character; with the rest from {@code finish} it is the
 * final text exactly. The final text is derived here with plain string operations on the whole decoded text.
 */
class TextDeltasTest {
    static final String TEXT = "The cat sat — naïve 🙂 done. The end";

    @Test
    void theGivenTextIsAlwaysAPrefixOfTheTextCutAtTheFirstStopString() {
        Tokenizer tok = Fixtures.stories();
        int[] ids = tok.encode(TEXT, false, false).ids();
        String whole = tok.decode(ids, true);
        List<List<String>> cases = List.of(
                List.of(),                                   // no stop: the whole text
                List.of("naïve 🙂"),                          // several tokens, with a character of four bytes
                List.of("end", "sat — n"),                   // the earlier of two wins
                List.of("at"),                               // inside a word, reached early
                List.of("🙂 done", "zzz"));                  // one never reached
        for (List<String> stops : cases) {
            int cut = whole.length();
            for (String s : stops) if (whole.contains(s)) cut = Math.min(cut, whole.indexOf(s));
            String fin = whole.substring(0, cut);
            TextDeltas d = new TextDeltas(tok, new int[0], stops);
            StringBuilder given = new StringBuilder();
            int pieces = 0;
            for (int i = 0; i < ids.length; i++) {
                String delta = d.add(ids[i]);
                given.append(delta);
                if (!delta.isEmpty()) pieces++;
                assertEquals(d.given(), given.toString());
                assertTrue(fin.startsWith(given.toString()), stops + ": '" + given + "' is not a prefix of '" + fin + "'");
                assertFalse(given.toString().contains("\uFFFD"), "no half character: " + given);
                String sofar = tok.decode(java.util.Arrays.copyOf(ids, i + 1), true);
                if (stops.stream().anyMatch(sofar::contains)) break;     // generation ends with the token that completes one
            }
            given.append(d.finish(fin));
            assertEquals(fin, given.toString(), stops.toString());
            if (stops.isEmpty()) assertTrue(pieces >= TEXT.split(" ").length, "given out as the tokens came: " + pieces + " pieces");
        }
    }
}
