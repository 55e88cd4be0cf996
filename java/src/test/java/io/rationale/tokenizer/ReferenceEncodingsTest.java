package io.rationale.tokenizer;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every case of the three shared reference_encodings.json files, ids and pieces, with and without BOS. */
class ReferenceEncodingsTest {

    @Test
    void caseCounts() {
        assertEquals(7, Fixtures.cases(Fixtures.storiesDir()).size());
        assertEquals(26, Fixtures.cases(Fixtures.llama2Dir()).size());
        assertEquals(16, Fixtures.cases(Fixtures.llama3Dir()).size());
    }

    @TestFactory
    Stream<DynamicTest> stories260K() {
        return bosCases(Fixtures.storiesDir(), Fixtures.stories(), 1);
    }

    @TestFactory
    Stream<DynamicTest> llama2() {
        return bosCases(Fixtures.llama2Dir(), Fixtures.llama2(), 1);
    }

    /** The reference ids exclude BOS (id 1); the tokenizer adds it (add_bos_token true) with an empty span. */
    private static Stream<DynamicTest> bosCases(Path dir, Tokenizer tok, int bos) {
        assertTrue(tok.addsBos());
        assertEquals(bos, tok.bosId());
        return Fixtures.cases(dir).stream().map(c -> DynamicTest.dynamicTest(name(c), () -> {
            Encoding raw = tok.encode(c.text(), false, false);
            assertArrayEquals(c.ids(), raw.ids(), "ids of " + c.text());
            if (c.pieces() != null) assertEquals(c.pieces(), raw.pieces(), "pieces of " + c.text());
            Encoding withBos = tok.encode(c.text());
            int[] expected = IntStream.concat(IntStream.of(bos), IntStream.of(c.ids())).toArray();
            assertArrayEquals(expected, withBos.ids());
            Token first = withBos.get(0);
            assertEquals(0, first.start());
            assertEquals(0, first.end());
            assertEquals("", first.text());
            assertTrue(first.special());
            assertEquals(raw.tokens(), withBos.tokens().subList(1, withBos.size()));
        }));
    }

    /** The Llama 3 ids have no special tokens added, and this tokenizer adds none itself. */
    @TestFactory
    Stream<DynamicTest> llama3() {
        Tokenizer tok = Fixtures.llama3();
        assertFalse(tok.addsBos());
        assertFalse(tok.addsEos());
        return Fixtures.cases(Fixtures.llama3Dir()).stream().map(c -> DynamicTest.dynamicTest(name(c), () -> {
            assertArrayEquals(c.ids(), tok.encode(c.text()).ids(), "ids of " + c.text());
            assertArrayEquals(c.ids(), tok.encode(c.text(), false, false).ids());
        }));
    }

    private static String name(Fixtures.Case c) {
        return "\"" + c.text().replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }

    @Test
    void llama3CallerCanPrependBeginOfText() {
        Tokenizer tok = Fixtures.llama3();
        assertArrayEquals(new int[] {128000, 9906, 1917}, tok.encode("Hello world", true, false).ids());
        assertArrayEquals(new int[] {128000, 9906, 1917, 128001}, tok.encode("Hello world", true, true).ids());
    }

    @Test
    void piecesAreTheVocabularyStrings() {
        Tokenizer tok = Fixtures.stories();
        for (Fixtures.Case c : Fixtures.cases(Fixtures.storiesDir())) {
            List<String> pieces = tok.encode(c.text(), false, false).pieces();
            for (int i = 0; i < c.ids().length; i++) assertEquals(pieces.get(i), tok.piece(c.ids()[i]));
        }
    }
}
