package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FaithfulnessTest {
    private static final double EPS = 1e-12;

    @Test
    void comprehensivenessAndSufficiency() {
        assertEquals(0.6, Faithfulness.comprehensiveness(0.8, 0.2), EPS);
        assertEquals(-0.1, Faithfulness.sufficiency(0.8, 0.9), EPS); // the rationale alone is more confident
    }

    @Test
    void aopcIsTheMeanDropOverBins() {
        // 0.8 - {0.7, 0.6, 0.5, 0.4, 0.3} = {0.1, ..., 0.5}, mean 0.3
        assertEquals(0.3, Faithfulness.aopc(0.8, new double[] {0.7, 0.6, 0.5, 0.4, 0.3}), EPS);
        assertArrayEquals(new int[] {1, 5, 10, 20, 50}, Faithfulness.aopcSizes(100));
        // 7 words: 0.07, 0.35, 0.7, 1.4 -> at least 1 each; 3.5 -> 4
        assertArrayEquals(new int[] {1, 1, 1, 1, 4}, Faithfulness.aopcSizes(7));
    }

    @Test
    void flips() {
        assertTrue(Faithfulness.flipped("a", "b"));
        assertFalse(Faithfulness.flipped("a", "a"));
        assertEquals(0.5, Faithfulness.flipRate(List.of("a", "b", "c", "a"), List.of("a", "c", "c", "b")), EPS);
        assertEquals(1, Faithfulness.argmax(new double[] {0.2, 0.4, 0.4}));
    }
}
