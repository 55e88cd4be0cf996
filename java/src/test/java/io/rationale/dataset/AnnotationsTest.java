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

class AnnotationsTest {

    private static SortedSet<Integer> s(Integer... w) { return new TreeSet<>(List.of(w)); }

    private static Annotations oneField(List<String> ids, List<SortedSet<Integer>> sets) {
        return new Annotations(ids, sets.stream().map(List::of).toList());
    }

    // A {0,1}, B {1,2}, C {1}, D {2,3}: votes word0 1, word1 3, word2 2, word3 1
    private final Annotations four = oneField(List.of("A", "B", "C", "D"), List.of(s(0, 1), s(1, 2), s(1), s(2, 3)));

    @Test
    void unionIsEveryMarkedWord() {
        assertEquals(Optional.of(Set.of(0, 1, 2, 3)), four.aggregate(0, Aggregation.UNION));
    }

    @Test
    void majorityNeedsMoreThanHalf() {
        // 4 annotators: more than 2 votes, i.e. 3: only word 1 (word 2 has exactly half and is out)
        assertEquals(Optional.of(Set.of(1)), four.aggregate(0, Aggregation.MAJORITY));
        // 3 annotators A {0,1}, B {1,2}, D {2,3}: votes 1,2,2,1, 2 of 3 is a majority: {1, 2}
        Annotations three = oneField(List.of("A", "B", "D"), List.of(s(0, 1), s(1, 2), s(2, 3)));
        assertEquals(Optional.of(Set.of(1, 2)), three.aggregate(0, Aggregation.DEFAULT));
        // 2 annotators: both must agree
        Annotations two = oneField(List.of("A", "B"), List.of(s(0, 1), s(1, 2)));
        assertEquals(Optional.of(Set.of(1)), two.aggregate(0, Aggregation.MAJORITY));
        // 1 annotator: its own set
        Annotations one = oneField(List.of("A"), List.of(s(4, 7)));
        assertEquals(Optional.of(Set.of(4, 7)), one.aggregate(0, Aggregation.MAJORITY));
    }

    @Test
    void chosenAnnotatorByIdOrIndex() {
        assertEquals(Optional.of(Set.of(1)), four.aggregate(0, new Aggregation.Annotator("C")));
        assertEquals(Optional.of(Set.of(2, 3)), four.aggregate(0, new Aggregation.AnnotatorIndex(3)));
        assertEquals(Optional.empty(), four.aggregate(0, new Aggregation.Annotator("Z")));
        assertEquals(Optional.empty(), four.aggregate(0, new Aggregation.AnnotatorIndex(4)));
    }

    @Test
    void noAnnotatorsMeansNoRationale() {
        assertFalse(Annotations.none().present());
        assertEquals(Optional.empty(), Annotations.none().aggregate(0, Aggregation.UNION));
        assertTrue(four.present());
        assertEquals(4, four.count());
    }

    @Test
    void anAnnotatorWithAnEmptySetStillCounts() {
        // A {0}, B {}: majority of 2 needs both -> {}, union {0}
        Annotations a = oneField(List.of("A", "B"), List.of(s(0), s()));
        assertEquals(Optional.of(Set.of()), a.aggregate(0, Aggregation.MAJORITY));
        assertEquals(Optional.of(Set.of(0)), a.aggregate(0, Aggregation.UNION));
    }

    @Test
    void parse() {
        assertEquals(Aggregation.UNION, Aggregation.parse("union"));
        assertEquals(Aggregation.MAJORITY, Aggregation.parse("majority"));
        assertEquals(new Aggregation.Annotator("annotator-07"), Aggregation.parse("annotator:annotator-07"));
        assertEquals(new Aggregation.AnnotatorIndex(2), Aggregation.parse("index:2"));
        assertThrows(IllegalArgumentException.class, () -> Aggregation.parse("mean"));
        assertThrows(IllegalArgumentException.class, () -> Aggregation.parse("index:x"));
        assertThrows(IllegalArgumentException.class, () -> Aggregation.parse("index:-1"));
    }

    @Test
    void duplicateAnnotatorIdsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> oneField(List.of("A", "A"), List.of(s(0), s(1))));
    }
}
