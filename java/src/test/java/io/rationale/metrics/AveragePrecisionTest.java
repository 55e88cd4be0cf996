package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AveragePrecisionTest {
    private static final double EPS = 1e-12;

    @Test
    void withATieAcrossClasses() {
        // scores 0.9 0.8 0.8 0.3 0.1, truth 1 0 1 0 1 (3 positives); thresholds at the distinct scores:
        //   >= 0.9: TP 1 FP 0 -> R 1/3 P 1     -> (1/3)·1
        //   >= 0.8: TP 2 FP 1 -> R 2/3 P 2/3   -> (1/3)·(2/3)
        //   >= 0.3: TP 2 FP 2 -> R 2/3         -> 0
        //   >= 0.1: TP 3 FP 2 -> R 1   P 3/5   -> (1/3)·(3/5)
        // AP = 1/3 + 2/9 + 1/5 = 34/45
        double ap = AveragePrecision.of(new double[] {0.9, 0.8, 0.8, 0.3, 0.1}, new boolean[] {true, false, true, false, true});
        assertEquals(34.0 / 45, ap, EPS);
    }

    @Test
    void tiedGroupEntersAtOnce() {
        // all three tie: one threshold, TP 2 FP 1 -> R 1, P 2/3 -> AP 2/3.
        // (ranking the tie by index would give 1; negatives first would give 1/2·1/2 + 1/2·2/3 = 7/12)
        assertEquals(2.0 / 3, AveragePrecision.of(new double[] {0.5, 0.5, 0.5}, new boolean[] {true, true, false}), EPS);
        // -0.0 and 0.0 tie as well
        assertEquals(0.5, AveragePrecision.of(new double[] {0.0, -0.0}, new boolean[] {true, false}), EPS);
    }

    @Test
    void perfectAndWorst() {
        assertEquals(1.0, AveragePrecision.of(new double[] {3, 2, 1}, Set.of(0, 1)), EPS);
        // the only positive ranked last of 4: R jumps to 1 at P 1/4
        assertEquals(0.25, AveragePrecision.of(new double[] {4, 3, 2, 1}, Set.of(3)), EPS);
    }

    @Test
    void noPositiveIsUndefined() {
        assertTrue(Double.isNaN(AveragePrecision.of(new double[] {1, 2}, Set.of())));
        assertThrows(IllegalArgumentException.class, () -> AveragePrecision.of(new double[] {Double.NaN}, Set.of(0)));
        assertThrows(IllegalArgumentException.class, () -> AveragePrecision.of(new double[] {1}, Set.of(1)));
    }

    @Test
    void macroDropsSingleClassMasks() {
        // example 1: 0.25 (above); example 2: all positive (dropped); example 3: no positive (dropped); example 4: 1.0
        double m = AveragePrecision.macro(
                List.of(new double[] {4, 3, 2, 1}, new double[] {1, 2}, new double[] {1, 2}, new double[] {2, 1}),
                List.of(AveragePrecision.mask(4, Set.of(3)), new boolean[] {true, true}, new boolean[] {false, false}, new boolean[] {true, false}));
        assertEquals((0.25 + 1.0) / 2, m, EPS);
        assertArrayEquals(new boolean[] {false, true, false}, AveragePrecision.mask(3, Set.of(1)));
    }
}
