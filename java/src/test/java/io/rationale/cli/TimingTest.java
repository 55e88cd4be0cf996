package io.rationale.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Item 7 of issue 10: bench never reports a cold measurement. A fake clock makes each run take the time it is given,
 * so the warm-up rule is checked exactly.
 */
class TimingTest {
    /** A clock in which run i of the body lasts durations[i] seconds. */
    static final class FakeRuns {
        final double[] durations;
        long now;
        int run;

        FakeRuns(double... durations) { this.durations = durations; }

        long clock() { return now; }

        Object body() {
            now += (long) (durations[Math.min(run, durations.length - 1)] * 1e9);
            run++;
            return null;
        }
    }

    @Test
    void coldRunsAreWarmUpUntilTheTimesSettle() {
        // the JIT at work: 5x, 2x, then steady 1.0 s (1.05 is within 10% of 1.0)
        FakeRuns f = new FakeRuns(5, 2, 1.05, 1.0, 1.0, 1.0, 1.0);
        Timing t = new Timing(1, 20, 3, f::clock);
        Timing.Stat s = t.time(() -> null, x -> f.body());
        assertEquals(4, s.warmupRuns(), "5, 2, 1.05, 1.0: the last two agree within 10%");
        assertTrue(s.settled());
        assertEquals(1.0, s.median(), 1e-9);
        assertEquals(1.0, s.max(), 1e-9, "no cold run among the timed ones");
        // a single warm-up run, as before, would have timed 2, 1.05, 1.0 and reported the median 1.05 with a 2 s run
    }

    @Test
    void timesThatNeverSettleAreSaidSo() {
        FakeRuns f = new FakeRuns(1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2);
        Timing t = new Timing(1, 5, 3, f::clock);
        Timing.Stat s = t.time(() -> null, x -> f.body());
        assertEquals(5, s.warmupRuns());
        assertFalse(s.settled());
        assertTrue(s.range().contains("NOT SETTLED"), s.range());
        assertEquals(false, s.json().get("settled"));
    }

    @Test
    void aGroupIsWarmedBeforeAnyOfItIsTimed() {
        List<String> log = new ArrayList<>();
        FakeRuns f = new FakeRuns(1);
        Timing t = new Timing(1, 3, 2, f::clock);
        List<Runnable> group = List.of(() -> log.add("a:" + (t.timing() ? "timed" : "warm")), () -> log.add("b:" + (t.timing() ? "timed" : "warm")));
        t.warmAll(group);
        t.time(() -> null, x -> { group.get(0).run(); return f.body(); });
        t.time(() -> null, x -> { group.get(1).run(); return f.body(); });
        assertEquals(List.of("a:warm", "b:warm"), log.subList(0, 2), "both warmed first: " + log);
        assertTrue(log.indexOf("a:timed") > log.indexOf("b:warm"), log.toString());
        assertFalse(log.subList(0, log.indexOf("a:timed")).contains("b:timed"));
    }
}
