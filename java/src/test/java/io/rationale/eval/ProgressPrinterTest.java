package io.rationale.eval;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

class ProgressPrinterTest {
    final AtomicLong now = new AtomicLong();
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    ProgressPrinter printer(ProgressPrinter.Mode mode) {
        return new ProgressPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8), mode, now::get);
    }

    void at(double seconds) { now.set((long) (seconds * 1e9)); }

    List<String> lines() { return bytes.toString(StandardCharsets.UTF_8).lines().toList(); }

    @Test
    void plainLinesWithRateAndEta() {
        ProgressPrinter p = printer(ProgressPrinter.Mode.LINES);
        at(0);
        p.start(100, 0);
        at(3.2);
        p.example(1, 100, "ex-1", 3.2, null);
        at(6.4);
        p.example(2, 100, "ex 2\nx", 3.2, "no label word");
        p.message("a note");
        assertEquals(List.of(
                "[1/100] id=ex-1 3.2 s/example ETA 5m17s",            // 99 × 3.2 = 316.8 s
                "[2/100] id=ex 2 x 3.2 s/example ETA 5m14s skipped: no label word",
                "a note"), lines());
    }

    @Test
    void resumedExamplesDoNotCountTowardsTheRate() {
        ProgressPrinter p = printer(ProgressPrinter.Mode.LINES);
        at(10);
        p.start(10, 4);
        at(12);
        p.example(5, 10, "x", 2, null);
        at(12.5);
        p.example(6, 10, "y", 0.5, null);
        at(8000);
        p.example(7, 10, "z", 0.5, null);
        assertEquals(List.of("[5/10] id=x 2.0 s/example ETA 10s", "[6/10] id=y 1.3 s/example ETA 5s",
                "[7/10] id=z 2663 s/example ETA 2h13m"), lines());
    }

    @Test
    void durationsAndSeconds() {
        assertEquals("0s", ProgressPrinter.duration(0.4));
        assertEquals("59s", ProgressPrinter.duration(59.4));
        assertEquals("1m00s", ProgressPrinter.duration(60));
        assertEquals("4m40s", ProgressPrinter.duration(280));
        assertEquals("1h02m", ProgressPrinter.duration(3725));
        assertEquals("0.031", ProgressPrinter.seconds(0.0312));
        assertEquals("0.42", ProgressPrinter.seconds(0.42));
        assertEquals("42", ProgressPrinter.seconds(42.2));
    }

    @Test
    void barRedrawsInPlaceAndKeepsMessages() {
        ProgressPrinter p = printer(ProgressPrinter.Mode.BAR);
        at(0);
        p.start(4, 0);
        at(1);
        p.example(1, 4, "a", 1, null);
        p.message("note");
        at(2);
        p.example(2, 4, "b", 1, null);
        String s = bytes.toString(StandardCharsets.UTF_8);
        String up = "\033[1A\033[2K";
        assertTrue(s.startsWith("[------------------------] 0/4   0%  -- ex/s  ETA --\n"), s);
        assertTrue(s.contains(up + "[######------------------] 1/4  25%  1.00 ex/s  ETA 3s  id=a\n"), s);
        assertTrue(s.contains(up + "note\n[######------------------] 1/4  25%  1.00 ex/s  ETA 3s  id=a\n"
                + up + "[############------------] 2/4  50%  1.00 ex/s  ETA 2s  id=b\n"), s);
    }

    @Test
    void modes() {
        assertEquals(ProgressPrinter.Mode.LINES, ProgressPrinter.mode("lines"));
        assertEquals(ProgressPrinter.Mode.BAR, ProgressPrinter.mode("BAR"));
        assertEquals(ProgressPrinter.Mode.LINES, ProgressPrinter.mode("auto"), "tests do not run on a terminal");
        assertThrows(IllegalArgumentException.class, () -> ProgressPrinter.mode("fancy"));
    }
}
