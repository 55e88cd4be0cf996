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

class EsnliPlainReaderTest {
    private static final Path DIR = Shared.dataset("esnli/test-plain");

    /*
     * From `sort labels.test | uniq -c` and `wc -l`: 9824 lines, 3368 entailment, 3219 neutral, 3237 contradiction,
     * no '-'. Python str.split() word totals: 148874 (s1.test), 81702 (s2.test).
     */
    @Test
    void realTestSplit() {
        long t0 = System.nanoTime();
        Dataset d = DatasetLoader.load("esnli-plain:" + DIR);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 5000, "loading 9824 lines took " + ms + " ms");
        assertEquals(9824, d.size());
        assertEquals(List.of(), d.skipped());
        Map<String, Integer> byLabel = new TreeMap<>();
        long pw = 0, hw = 0;
        for (Example e : d.examples()) {
            byLabel.merge(e.label(), 1, Integer::sum);
            assertFalse(e.hasRationales());
            pw += e.fields().get(0).wordCount();
            hw += e.fields().get(1).wordCount();
        }
        assertEquals(Map.of("contradiction", 3237, "entailment", 3368, "neutral", 3219), byLabel);
        assertEquals(148874, pw);
        assertEquals(81702, hw);
        Example first = d.examples().get(0);
        assertEquals("test:1", first.id());
        assertEquals("This church choir sings to the masses as they sing joyous songs from the book at a church .", first.field("premise").text());
        assertEquals("The church has cracks in the ceiling .", first.field("hypothesis").text());
        assertEquals("neutral", first.label());
        assertEquals(0, d.withRationales());
    }

    @Test
    void aFileOfTheSplitAlsoWorks() {
        assertEquals(9824, DatasetLoader.load("esnli-plain:" + DIR.resolve("labels.test")).size());
    }

    @Test
    void fixtureSkipsNoConsensusAndChecksLineCounts(@TempDir Path dir) {
        Shared.lines(dir.resolve("s1.dev"), List.of("A man .", "A dog .", "   "));
        Shared.lines(dir.resolve("s2.dev"), List.of("A person .", "A cat .", "x"));
        Shared.lines(dir.resolve("labels.dev"), List.of("entailment", "-", "neutral"));
        Dataset d = DatasetLoader.load("esnli-plain:" + dir);
        assertEquals(1, d.size());
        assertEquals("dev:1", d.examples().get(0).id());
        assertEquals("gold_label '-' (no consensus)", Shared.skip(d, "dev:2").reason());
        assertEquals("field 'premise' is empty", Shared.skip(d, "dev:3").reason());

        Shared.lines(dir.resolve("labels.dev"), List.of("entailment", "neutral"));
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load("esnli-plain:" + dir));
        assertEquals(dir.resolve("s1.dev") + ": line counts differ (s1 3, s2 3, labels 2)", e.getMessage());

        Shared.lines(dir.resolve("s1.train"), List.of("x"));
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("esnli-plain:" + dir));
        assertTrue(e.getMessage().startsWith(dir + ": several splits [dev, train]"), e.getMessage());

        Path other = Shared.lines(dir.resolve("notes.txt"), List.of("x"));
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("esnli-plain:" + other));
        assertTrue(e.getMessage().startsWith(other + ": not an e-SNLI plain split file"), e.getMessage());
    }
}
