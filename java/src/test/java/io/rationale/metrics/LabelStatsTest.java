package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LabelStatsTest {
    private static final List<String> LABELS = List.of("a", "b", "c");
    private static final List<String> GOLD = List.of("a", "a", "b", "b", "c");
    private static final List<String> PRED = List.of("a", "b", "b", "b", "x");

    @Test
    void accuracyAndConfusion() {
        assertEquals(3.0 / 5, LabelStats.accuracy(GOLD, PRED), 1e-12); // positions 0, 2, 3
        LabelStats.ConfusionMatrix m = LabelStats.confusion(LABELS, GOLD, PRED);
        assertEquals(List.of("a", "b", "c", "x"), m.labels()); // the unknown prediction is appended
        assertArrayEquals(new long[] {1, 1, 0, 0}, m.counts()[0]);
        assertArrayEquals(new long[] {0, 2, 0, 0}, m.counts()[1]);
        assertArrayEquals(new long[] {0, 0, 0, 1}, m.counts()[2]);
        assertArrayEquals(new long[] {0, 0, 0, 0}, m.counts()[3]);
        assertEquals(2, m.count("b", "b"));
    }

    @Test
    void distribution() {
        assertEquals(Map.of("a", 1L, "b", 3L, "c", 0L, "x", 1L), LabelStats.counts(LABELS, PRED));
        Map<String, Double> d = LabelStats.distribution(LABELS, PRED);
        assertEquals(List.of("a", "b", "c", "x"), List.copyOf(d.keySet()));
        assertEquals(0.6, d.get("b"), 1e-12);
        assertEquals(0.0, d.get("c"), 1e-12);
    }

    @Test
    void labelBiasIsStrictlyAboveNinetyPercent() {
        List<String> nine = new java.util.ArrayList<>(Collections.nCopies(9, "a"));
        nine.add("b");
        assertFalse(LabelStats.labelBias(nine)); // 9/10 = 0.9 exactly
        List<String> nineteen = new java.util.ArrayList<>(Collections.nCopies(19, "a"));
        nineteen.add("b");
        assertTrue(LabelStats.labelBias(nineteen)); // 0.95
        assertEquals(Optional.of("a"), LabelStats.dominantLabel(nineteen, 0.9));
        assertTrue(LabelStats.labelBias(Collections.nCopies(3, "c")));
        assertFalse(LabelStats.labelBias(List.of()));
    }
}
