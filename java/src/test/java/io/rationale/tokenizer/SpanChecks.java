package io.rationale.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties every encoding's spans must have, whatever the text. */
final class SpanChecks {
    private SpanChecks() {}

    static void check(Tokenizer tok, Encoding e) {
        String text = e.text();
        boolean[] covered = new boolean[text.length()];
        for (int i = 0; i < e.size(); i++) {
            Token t = e.get(i);
            String where = "token " + i + " " + t + " of \"" + text + "\"";
            assertEquals(text.substring(t.start(), t.end()), t.text(), where);
            if (i > 0) {
                Token p = e.get(i - 1);
                assertTrue(t.start() >= p.start() && t.end() >= p.end(), "spans go backwards at " + where);
                if (t.start() < p.end()) {
                    // tokens may only share one character, which both encode parts of
                    assertEquals(1, text.codePointCount(t.start(), p.end()), "overlap of more than a character at " + where);
                    assertTrue(t.piece().startsWith("<0x") || !isComplete(tok.displayText(t.id())),
                            "a whole-character token overlaps its neighbour at " + where);
                }
            }
            for (int k = t.start(); k < t.end(); k++) covered[k] = true;
            if (t.end() > t.start() && isComplete(tok.displayText(t.id()))) {
                String shown = tok.displayText(t.id());
                boolean segmentStart = i == 0 || e.get(i - 1).special();
                assertTrue(shown.equals(t.text()) || segmentStart && shown.equals(" " + t.text()),
                        "token shows \"" + shown + "\" but covers \"" + t.text() + "\" at " + where);
            }
        }
        for (int k = 0; k < covered.length; k++) assertTrue(covered[k], "char " + k + " of \"" + text + "\" is in no span");
    }

    /** A display text without bytes that do not form a whole character. */
    private static boolean isComplete(String display) {
        return !display.matches("(?s).*<0x[0-9A-F]{2}>.*");
    }
}
