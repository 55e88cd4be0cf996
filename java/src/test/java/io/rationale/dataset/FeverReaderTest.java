package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FeverReaderTest {
    private static final Path FILE = Shared.dataset("fever-claims/test.jsonl");

    /*
     * Python over test.jsonl: 6666 records, keys exactly {claim, label, evidence}, 3333 SUPPORTS + 3333 REFUTES,
     * evidence lists of 1..40 sentences (11096 in all, none empty), str.split() words of the claims: 56321.
     */
    @Test
    void realClaims() {
        Dataset d = DatasetLoader.load("fever:" + FILE);
        assertEquals(6666, d.size());
        assertEquals(List.of(), d.skipped());
        assertEquals(List.of("SUPPORTS", "REFUTES"), d.labels());
        Map<String, Integer> byLabel = new TreeMap<>();
        long claimWords = 0, sentences = 0;
        for (Example e : d.examples()) {
            byLabel.merge(e.label(), 1, Integer::sum);
            assertFalse(e.hasRationales());
            claimWords += e.field("claim").wordCount();
            sentences += e.field("evidence").text().split("\n", -1).length;
        }
        assertEquals(Map.of("REFUTES", 3333, "SUPPORTS", 3333), byLabel);
        assertEquals(56321, claimWords);
        assertEquals(11096, sentences);
        Example first = d.examples().get(0);
        assertEquals("test.jsonl:1", first.id());
        assertEquals("Ukrainian Soviet Socialist Republic was a founding participant of the UN.", first.field("claim").text());
        assertTrue(first.field("evidence").text().startsWith("The Ukrainian SSR was a founding member of the United Nations ,"));
        assertEquals(2, first.field("evidence").text().split("\n").length);
    }

    @Test
    void fixtureSkips(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("claims.jsonl"), List.of(
                "{\"claim\": \"A is B.\", \"label\": \"SUPPORTS\", \"evidence\": [\"A is B .\", \"B is A .\"]}",
                "{\"claim\": \"A is C.\", \"label\": \"NOT ENOUGH INFO\", \"evidence\": [\"x\"]}",
                "{\"claim\": \"A is D.\", \"label\": \"REFUTES\", \"evidence\": []}",
                "{not json",
                "",
                "{\"label\": \"REFUTES\", \"evidence\": [\"x\"]}",
                "{\"id\": 91, \"claim\": \"A is E.\", \"label\": \"REFUTES\", \"evidence\": [\"A is not E .\"]}"));
        Dataset d = DatasetLoader.load("fever:" + f);
        assertEquals(List.of("claims.jsonl:1", "91"), d.examples().stream().map(Example::id).toList());
        assertEquals("A is B .\nB is A .", d.examples().get(0).field("evidence").text());
        assertEquals(4, d.skipped().size());
        assertEquals("label 'NOT ENOUGH INFO' is not in the label set [SUPPORTS, REFUTES]", Shared.skip(d, "claims.jsonl:2").reason());
        assertEquals("no evidence sentences", Shared.skip(d, "claims.jsonl:3").reason());
        assertTrue(d.skipped().get(2).reason().startsWith("invalid JSON"), d.skipped().get(2).reason());
        assertEquals("claims.jsonl:4", d.skipped().get(2).where());
        assertEquals("missing claim", Shared.skip(d, "claims.jsonl:6").reason());
    }

    @Test
    void notAFeverFile(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("x.jsonl"), List.of("{\"id\": 1, \"text\": \"a\", \"label\": \"b\"}"));
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load("fever:" + f));
        assertEquals(f + ": not FEVER claims JSONL (first record lacks claim/label/evidence)", e.getMessage());
    }
}
