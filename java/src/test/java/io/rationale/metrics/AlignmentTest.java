package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AlignmentTest {
    private static final double EPS = 1e-12;

    @Test
    void partialOverlap() {
        // pred {1,2,3}, human {2,3,4,5}: overlap {2,3} -> P = 2/3, R = 2/4, F1 = 2·(2/3)(1/2)/(2/3+1/2) = (2/3)/(7/6) = 4/7
        Prf p = Alignment.wordPrf(Set.of(1, 2, 3), Set.of(2, 3, 4, 5));
        assertEquals(2.0 / 3, p.precision(), EPS);
        assertEquals(0.5, p.recall(), EPS);
        assertEquals(4.0 / 7, p.f1(), EPS);
    }

    @Test
    void exactAndDisjoint() {
        assertEquals(new Prf(1, 1, 1), Alignment.wordPrf(Set.of(0, 4), Set.of(4, 0)));
        assertEquals(new Prf(0, 0, 0), Alignment.wordPrf(Set.of(1), Set.of(2)));
    }

    @Test
    void emptyCases() {
        assertEquals(new Prf(0, 0, 0), Alignment.wordPrf(Set.of(), Set.of(1, 2)));   // predicted empty
        assertEquals(new Prf(0, 0, 0), Alignment.wordPrf(Set.of(1, 2), Set.of()));   // human empty: recall 0 as ERASER
        Prf both = Alignment.wordPrf(Set.of(), Set.of());
        assertFalse(both.defined());
        assertTrue(Double.isNaN(both.f1()));
    }

    @Test
    void macroSkipsUndefined() {
        // defined: (2/3, 1/2, 4/7), (0, 0, 0) and (1, 1, 1); the both-empty one is left out
        // P = (2/3 + 0 + 1)/3 = 5/9, R = (1/2 + 0 + 1)/3 = 1/2, F1 = (4/7 + 0 + 1)/3 = 11/21
        // (the F1 of the means would be 2·(5/9)(1/2)/(5/9 + 1/2) = 10/19)
        Alignment.MacroPrf m = Alignment.macro(List.of(
                Alignment.wordPrf(Set.of(1, 2, 3), Set.of(2, 3, 4, 5)),
                Alignment.wordPrf(Set.of(), Set.of(1)),
                Alignment.wordPrf(Set.of(), Set.of()),
                Alignment.wordPrf(Set.of(7), Set.of(7))));
        assertEquals(5.0 / 9, m.precision(), EPS);
        assertEquals(0.5, m.recall(), EPS);
        assertEquals(11.0 / 21, m.f1(), EPS);
        assertEquals(3, m.examples());
        assertEquals(1, m.undefined());
        Alignment.MacroPrf none = Alignment.macro(List.of(Prf.UNDEFINED));
        assertTrue(Double.isNaN(none.f1()));
        assertEquals(0, none.examples());
    }
}
