package io.rationale.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Token spans are UTF-16 indices into the input: expected values are worked out by hand from the strings
 * (e.g. in "Café naïve 😀 中文" the emoji is chars 11-12 and 中 is char 14).
 */
class SpanTest {

    /** "piece[start,end)" for each token, for compact comparison. */
    private static List<String> spans(Encoding e) {
        return e.tokens().stream().map(t -> t.piece() + "[" + t.start() + "," + t.end() + ")").toList();
    }

    @Test
    void wordsWithMetaspace() {
        Encoding e = Fixtures.stories().encode("Once upon a time");
        assertEquals(List.of("<s>[0,0)", "▁Once[0,4)", "▁upon[4,9)", "▁a[9,11)", "▁time[11,16)"), spans(e));
        assertEquals(List.of("", "Once", " upon", " a", " time"), e.tokens().stream().map(Token::text).toList());
    }

    @Test
    void prependedMetaspaceIsEmptyAndByteFallbackSharesTheCharacter() {
        String text = "Café naïve 😀 中文";
        assertEquals(16, text.length()); // the emoji is a surrogate pair
        Encoding e = Fixtures.stories().encode(text, false, false);
        assertEquals(List.of(
                "▁[0,0)", "C[0,1)", "a[1,2)", "f[2,3)", "é[3,4)", "▁n[4,6)", "a[6,7)",
                "<0xC3>[7,8)", "<0xAF>[7,8)", "ve[8,10)", "▁[10,11)",
                "<0xF0>[11,13)", "<0x9F>[11,13)", "<0x98>[11,13)", "<0x80>[11,13)", "▁[13,14)",
                "<0xE4>[14,15)", "<0xB8>[14,15)", "<0xAD>[14,15)", "<0xE6>[15,16)", "<0x96>[15,16)", "<0x87>[15,16)"),
                spans(e));
        assertEquals("😀", e.get(12).text());
        assertEquals("ï", e.get(8).text());
    }

    @Test
    void leadingSpacesKeepTheirSpans() {
        Encoding e = Fixtures.stories().encode("  double  spaces ", false, false);
        assertEquals(List.of("▁[0,0)", "▁[0,1)", "▁d[1,3)", "ou[3,5)", "b[5,6)", "le[6,8)", "▁[8,9)", "▁s[9,11)",
                "p[11,12)", "a[12,13)", "ce[13,15)", "s[15,16)", "▁[16,17)"), spans(e));
    }

    @Test
    void llama2DoubleMetaspacePiece() {
        // ids 259 ▁▁, 3765 ▁double, 29871 ▁, 8162 ▁spaces, 29871 ▁ (reference_encodings.json)
        Encoding e = Fixtures.llama2().encode("  double  spaces ", false, false);
        assertEquals(List.of("▁▁[0,1)", "▁double[1,8)", "▁[8,9)", "▁spaces[9,16)", "▁[16,17)"), spans(e));
    }

    @Test
    void specialTokenTextInTheInput() {
        // the legacy Llama 2 normalizer prepends ▁ to each piece of text between special tokens
        Encoding e = Fixtures.stories().encode("<s>Hi</s> there");
        assertEquals(List.of("<s>[0,3)", "▁H[3,4)", "i[4,5)", "</s>[5,9)", "▁[9,9)", "▁there[9,15)"), spans(e));
        assertTrue(e.get(0).special());
        assertEquals(1, e.get(0).id());
        assertEquals(2, e.get(3).id());
        assertTrue(e.get(3).special());
        assertFalse(e.get(1).special());
    }

    @Test
    void llama3ByteLevelSpans() {
        String text = "naïve café — “quotes” and emoji 🦙🔥";
        Encoding e = Fixtures.llama3().encode(text);
        assertEquals(List.of("na[0,2)", "Ã¯[2,3)", "ve[3,5)", "ĠcafÃ©[5,10)", "ĠâĢĶ[10,12)", "ĠâĢľ[12,14)",
                "quotes[14,20)", "âĢĿ[20,21)", "Ġand[21,25)", "Ġemoji[25,31)",
                "ĠðŁ[31,34)", "¦[32,34)", "Ļ[32,34)", "ðŁ[34,36)", "Ķ[34,36)", "¥[34,36)"), spans(e));
        assertEquals(" 🦙", e.get(10).text());
        assertEquals("🔥", e.get(15).text());
    }

    @Test
    void llama3SpecialTokenInTheInput() {
        Encoding e = Fixtures.llama3().encode("x<|eot_id|> y");
        assertEquals(List.of("x[0,1)", "<|eot_id|>[1,11)", "Ġy[11,13)"), spans(e));
        assertEquals(128009, e.get(1).id());
        assertTrue(e.get(1).special());
    }

    @Test
    void eosGetsTheEmptySpanAtTheEnd() {
        Encoding e = Fixtures.stories().encode("Once", true, true);
        Token eos = e.get(e.size() - 1);
        assertEquals(2, eos.id());
        assertEquals(4, eos.start());
        assertEquals(4, eos.end());
        assertEquals("", eos.text());
    }

    @Test
    void loneSurrogateDoesNotShiftLaterSpans() {
        // sent to the library as U+FFFD (bytes EF BF BD, three byte-fallback tokens) so "b" stays at [2,3)
        Encoding e = Fixtures.stories().encode("a\uD800b", false, false);
        assertEquals(List.of("▁a[0,1)", "<0xEF>[1,2)", "<0xBF>[1,2)", "<0xBD>[1,2)", "b[2,3)"), spans(e));
        Encoding l3 = Fixtures.llama3().encode("x\uDC00y");
        assertEquals("y", l3.get(l3.size() - 1).text());
        assertEquals(2, l3.get(l3.size() - 1).start());
    }

    @Test
    void emptyText() {
        assertEquals(List.of("<s>[0,0)"), spans(Fixtures.stories().encode("")));
        assertEquals(0, Fixtures.llama3().encode("").size());
    }

    @Test
    void everyReferenceCaseHasConsistentSpans() {
        for (Path dir : List.of(Fixtures.storiesDir(), Fixtures.llama2Dir(), Fixtures.llama3Dir())) {
            Tokenizer tok = Fixtures.load(dir);
            for (Fixtures.Case c : Fixtures.cases(dir)) SpanChecks.check(tok, tok.encode(c.text()));
        }
    }

    @Test
    void unusualTextsHaveConsistentSpans() {
        List<String> texts = List.of(" leading", "\ttab\n\nnewlines\r\n", "a😀b😀😀c", "<s><s> x</s>", "ÿ\u00a0é\u0301",
                "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi 👋<|eot_id|>", "   ", "x  ");
        for (Tokenizer tok : List.of(Fixtures.stories(), Fixtures.llama2(), Fixtures.llama3())) {
            for (String t : texts) SpanChecks.check(tok, tok.encode(t));
        }
    }
}
