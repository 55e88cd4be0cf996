package io.rationale.metrics;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IouF1Test {
    private static final double EPS = 1e-12;

    @Test
    void spansAreMaximalRuns() {
        assertEquals(List.of(new IouF1.Span(1, 4), new IouF1.Span(7, 8)), IouF1.spans(Set.of(7, 3, 1, 2)));
        assertEquals(List.of(), IouF1.spans(Set.of()));
    }

    @Test
    void iou() {
        // [1,4) = {1,2,3} and [2,6) = {2,3,4,5}: 2 shared of 5 -> 0.4
        assertEquals(0.4, IouF1.iou(new IouF1.Span(1, 4), new IouF1.Span(2, 6)), EPS);
        assertEquals(0.0, IouF1.iou(new IouF1.Span(0, 1), new IouF1.Span(1, 2)), EPS);
    }

    @Test
    void thresholdIsInclusive() {
        // {0,1} vs {0,1,2,3}: IOU 2/4 = 0.5 >= 0.5 -> match
        assertEquals(new IouF1.Instance(1, 1, 1), IouF1.instance(Set.of(0, 1), Set.of(0, 1, 2, 3)));
        // {0} vs {0,1,2}: 1/3 -> no match
        assertEquals(new IouF1.Instance(0, 1, 1), IouF1.instance(Set.of(0), Set.of(0, 1, 2)));
        // pred spans [1,4) [7,8), human [2,6) [9,10): best IOUs 0.4 and 0 -> no TP
        assertEquals(new IouF1.Instance(0, 2, 2), IouF1.instance(Set.of(1, 2, 3, 7), Set.of(2, 3, 4, 5, 9)));
        // a lower threshold accepts 0.4
        assertEquals(new IouF1.Instance(1, 2, 2), IouF1.instance(Set.of(1, 2, 3, 7), Set.of(2, 3, 4, 5, 9), 0.4));
    }

    @Test
    void macroAndMicroAsErasers() {
        IouF1.Instance a = IouF1.instance(Set.of(0, 5), Set.of(0));            // pred [0,1) [5,6), human [0,1): TP 1 -> P 1/2, R 1
        IouF1.Instance b = IouF1.instance(Set.of(0, 1, 2), Set.of(0, 1, 2, 6)); // pred [0,3), human [0,3) [6,7): TP 1 -> P 1, R 1/2
        IouF1.Instance c = IouF1.instance(Set.of(), Set.of(3));                 // no prediction: R 0, not in the precision mean
        IouF1.Instance e = IouF1.instance(Set.of(), Set.of());                  // nothing: in neither mean
        assertEquals(new IouF1.Instance(1, 2, 1), a);
        assertEquals(new IouF1.Instance(1, 1, 2), b);
        assertEquals(0.5, a.precision(), EPS);
        assertEquals(2.0 / 3, a.f1(), EPS);
        IouF1.Score s = IouF1.score(List.of(a, b, c, e));
        // macro P = (1/2 + 1)/2 = 3/4 ; macro R = (1 + 1/2 + 0)/3 = 1/2 ; F1 = 2·(3/4)(1/2)/(5/4) = 3/5
        assertEquals(0.75, s.macro().precision(), EPS);
        assertEquals(0.5, s.macro().recall(), EPS);
        assertEquals(0.6, s.macro().f1(), EPS);
        // micro: TP 2, predicted 3, human 4 -> P 2/3, R 1/2, F1 = (2/3)/(7/6) = 4/7
        assertEquals(2.0 / 3, s.micro().precision(), EPS);
        assertEquals(0.5, s.micro().recall(), EPS);
        assertEquals(4.0 / 7, s.micro().f1(), EPS);
        assertEquals(4, s.instances());
    }
}
