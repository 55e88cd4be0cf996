package io.rationale.metrics;

import io.rationale.dataset.Words;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MaskingTest {
    // words: The(0) cat(1) | \n | sat(2) on(3) | two spaces | the(4) mat(5) .(6)
    private static final String T = "The cat\nsat on  the mat .";

    @Test
    void deletionKeepsTheWhitespaceBeforeTheNextSurvivor() {
        Masking.Masked m = Masking.remove(T, Set.of(3), Masking.DELETE);
        assertEquals("The cat\nsat  the mat .", m.text());
        assertArrayEquals(new int[] {0, 1, 2, 4, 5, 6}, m.source());
        assertEquals(Set.of(0, 1, 2, 4, 5, 6), m.survivors());
        assertEquals(6, m.words().size());
    }

    @Test
    void deletionDoesNotJoinLines() {
        // removing "cat": the gaps skipped are " " and "\n"; the line break wins
        assertEquals("The\nsat on  the mat .", Masking.remove(T, Set.of(1), Masking.DELETE).text());
        assertEquals("cat\nsat on  the mat .", Masking.remove(T, Set.of(0), Masking.DELETE).text());
        assertEquals("The cat\nsat on  the", Masking.remove(T, Set.of(5, 6), Masking.DELETE).text());
    }

    @Test
    void leadingAndTrailingWhitespaceStay() {
        assertEquals("  a  ", Masking.remove("  a b  ", Set.of(1), Masking.DELETE).text());
        assertEquals("", Masking.remove("  a b  ", Set.of(0, 1), Masking.DELETE).text());
    }

    @Test
    void keepOnlyIsTheComplement() {
        Masking.Masked m = Masking.keepOnly(T, Set.of(1, 5), Masking.DELETE);
        assertEquals("cat\nmat", m.text());
        assertEquals(Set.of(1, 5), m.survivors());
        assertEquals(T, Masking.keepOnly(T, Set.of(0, 1, 2, 3, 4, 5, 6), Masking.DELETE).text());
    }

    @Test
    void replacementKeepsEveryPosition() {
        Masking.Masked m = Masking.remove(T, Set.of(1, 5), new Masking.Replacement("[MASK]"));
        assertEquals("The [MASK]\nsat on  the [MASK] .", m.text());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6}, m.source());
        assertArrayEquals(new boolean[] {false, true, false, false, false, true, false}, m.replaced());
        assertEquals(Set.of(0, 2, 3, 4, 6), m.survivors());
        assertEquals(Words.split(m.text()), m.words());
        Masking.Masked k = Masking.keepOnly("a b c", Set.of(1), new Masking.Replacement("_"));
        assertEquals("_ b _", k.text());
    }

    @Test
    void badArguments() {
        assertThrows(IllegalArgumentException.class, () -> Masking.remove(T, Set.of(7), Masking.DELETE));
        assertThrows(IllegalArgumentException.class, () -> Masking.keepOnly(T, Set.of(-1), Masking.DELETE));
        assertThrows(IllegalArgumentException.class, () -> new Masking.Replacement("a b"));
        assertThrows(IllegalArgumentException.class, () -> new Masking.Replacement(""));
    }
}
