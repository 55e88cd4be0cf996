package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.SortedSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopKTest {
    private static final double[] SCORES = {0.5, 0.9, 0.5, 0.1, 0.9};

    @Test
    void higherScoreFirstThenLowerIndex() {
        // 0.9 at 1 and 4 -> 1 then 4; 0.5 at 0 and 2 -> 0 then 2; then 3
        assertArrayEquals(new int[] {1, 4, 0, 2, 3}, TopK.ranking(SCORES));
        assertEquals(Set.of(1, 4), TopK.top(SCORES, 2));
        assertEquals(Set.of(0, 1, 4), TopK.top(SCORES, 3));
        assertEquals(Set.of(0, 1, 2, 3, 4), TopK.top(SCORES, 9));
        assertEquals(Set.of(), TopK.top(SCORES, 0));
        assertEquals(Set.of(1, 4, 0), TopK.likeHuman(SCORES, Set.of(2, 3, 4)));
        assertThrows(IllegalArgumentException.class, () -> TopK.ranking(new double[] {1, Double.NaN}));
    }

    @Test
    void fractionRounding() {
        assertEquals(1, TopK.kForFraction(10, 0.05));   // 0.5 -> 1 (half up)
        assertEquals(3, TopK.kForFraction(10, 0.25));   // 2.5 -> 3
        assertEquals(1, TopK.kForFraction(10, 0.01));   // 0.1 -> 0 -> at least 1
        assertEquals(4, TopK.kForFraction(7, 0.5));     // 3.5 -> 4
        assertEquals(2, TopK.kForFraction(12, 0.2));    // 2.4 -> 2
        assertEquals(7, TopK.kForFraction(100, 0.07));  // 7 exactly (0.07·100 is 7.000000000000001 in binary floating point)
        assertEquals(29, TopK.kForFraction(100, 0.29)); // 0.29·100 is 28.999999999999996 in binary floating point
        assertEquals(10, TopK.kForFraction(10, 1.0));
        assertEquals(0, TopK.kForFraction(10, 0.0));
        assertEquals(0, TopK.kForFraction(0, 0.5));
        assertThrows(IllegalArgumentException.class, () -> TopK.kForFraction(10, 1.5));
        assertEquals(Set.of(1, 4, 0), TopK.topFraction(SCORES, 0.5)); // 2.5 -> 3
    }

    @Test
    void randomRationaleIsSeededAndOfTheRightSize() {
        SortedSet<Integer> a = TopK.random(50, 7, 42), b = TopK.random(50, 7, 42);
        assertEquals(a, b);
        assertEquals(7, a.size());
        assertTrue(a.first() >= 0 && a.last() < 50, a.toString());
        assertNotEquals(a, TopK.random(50, 7, 43));
        assertEquals(Set.of(0, 1, 2), TopK.random(3, 10, 1));
    }
}
