package io.rationale.dataset;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExampleTest {
    private static final List<String> LABELS = List.of("yes", "no", "maybe");

    private static SortedSet<Integer> s(Integer... w) { return new TreeSet<>(List.of(w)); }

    private static String fails(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    private static List<TextField> two() {
        return List.of(TextField.of("a", "w0 w1"), TextField.of("b", "v0 v1 v2"));
    }

    @Test
    void validExampleAndFieldNumbering() {
        Annotations ann = new Annotations(List.of("x"), List.of(List.of(s(1), s(0, 2))));
        Example e = new Example("e1", two(), "no", LABELS, "maybe", ann, null);
        assertEquals(1, e.labelIndex());
        assertEquals(Optional.of("maybe"), e.foilLabel());
        assertTrue(e.hasRationales());
        assertEquals(5, e.totalWords());
        assertEquals(2, e.wordOffset(1));
        // field a word 1 -> 1; field b words 0, 2 -> 2+0, 2+2
        assertEquals(Optional.of(Set.of(1, 2, 4)), e.rationaleAllFields(Aggregation.MAJORITY));
        assertEquals("v0 v1 v2", e.field("b").text());
        assertEquals(-1, e.fieldIndex("c"));
    }

    @Test
    void withoutAnnotations() {
        Example e = new Example("e1", two(), "no", LABELS, null, Annotations.none(), null);
        assertFalse(e.hasRationales());
        assertEquals(Optional.empty(), e.rationale(0, Aggregation.UNION));
        assertEquals(Optional.empty(), e.rationaleAllFields(Aggregation.UNION));
        assertEquals(Optional.empty(), e.foilLabel());
    }

    @Test
    void everyProblemHasAOneLineReason() {
        assertEquals("label 'nope' is not in the label set [yes, no, maybe]",
                fails(() -> new Example("e", two(), "nope", LABELS, null, null, null)));
        assertEquals("foil 'z' is not in the label set [yes, no, maybe]",
                fails(() -> new Example("e", two(), "no", LABELS, "z", null, null)));
        assertEquals("foil equals the label 'no'", fails(() -> new Example("e", two(), "no", LABELS, "no", null, null)));
        assertEquals("field 'b' is empty",
                fails(() -> new Example("e", List.of(TextField.of("a", "x"), TextField.of("b", " \n")), "no", LABELS, null, null, null)));
        assertEquals("missing id", fails(() -> new Example(" ", two(), "no", LABELS, null, null, null)));
        assertEquals("missing label", fails(() -> new Example("e", two(), null, LABELS, null, null, null)));
        assertEquals("duplicate field 'a'",
                fails(() -> new Example("e", List.of(TextField.of("a", "x"), TextField.of("a", "y")), "no", LABELS, null, null, null)));
        Annotations bad = new Annotations(List.of("x"), List.of(List.of(s(), s(3))));
        assertEquals("rationale word index 3 out of range for field 'b' (3 words), annotator 'x'",
                fails(() -> new Example("e", two(), "no", LABELS, null, bad, null)));
        Annotations short1 = new Annotations(List.of("x"), List.of(List.of(s())));
        assertEquals("annotator 'x' covers 1 fields, the example has 2",
                fails(() -> new Example("e", two(), "no", LABELS, null, short1, null)));
    }
}
