package io.rationale.eval;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress on a stream (stderr): {@link Mode#BAR} redraws one line
 * {@code [########------------]  12/100  12%  0.31 ex/s  ETA 4m40s  id=...} in place (ANSI cursor-up and
 * clear-line, every redraw ends in a newline so line-buffered pipes pass it on at once); {@link Mode#LINES} prints
 * one plain line per example: {@code [12/100] id=ex-12 3.2 s/example ETA 4m40s}.
 *
 * <p>Rate and ETA use the examples finished in THIS session (resumed ones took no time here): seconds per example =
 * elapsed / examples done here, ETA = remaining × that.
 */
public final class ProgressPrinter implements Progress {
    /** BAR: a bar redrawn in place; LINES: one line per example; NONE: no progress (messages such as warnings still print). */
    public enum Mode { BAR, LINES, NONE }

    private static final int BAR_WIDTH = 24;
    private static final String UP_CLEAR = "\033[1A\033[2K";

    private final PrintStream out;
    private final Mode mode;
    private final LongSupplier nanos;
    private long startNanos;
    private int startDone;
    private int total;
    private boolean barShown;
    private String lastBar;

    public ProgressPrinter(PrintStream out, Mode mode) {
        this(out, mode, System::nanoTime);
    }

    /** With a clock (tests). */
    public ProgressPrinter(PrintStream out, Mode mode, LongSupplier nanos) {
        this.out = out;
        this.mode = mode;
        this.nanos = nanos;
    }

    /**
     * {@code auto}: a bar when the JVM is attached to an interactive terminal ({@code System.console().isTerminal()};
     * the launcher pipes stderr through a filter, so stderr itself cannot be asked), lines otherwise.
     */
    public static Mode mode(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "auto" -> {
                var c = System.console();
                yield c != null && c.isTerminal() ? Mode.BAR : Mode.LINES;
            }
            case "bar" -> Mode.BAR;
            case "lines" -> Mode.LINES;
            case "none" -> Mode.NONE;
            default -> throw new IllegalArgumentException("--progress must be auto, bar, lines or none, got '" + name + "'");
        };
    }

    @Override
    public synchronized void start(int total, int alreadyDone) {
        this.total = total;
        this.startDone = alreadyDone;
        this.startNanos = nanos.getAsLong();
        if (mode == Mode.BAR && alreadyDone < total) {
            lastBar = bar(alreadyDone, null, Double.NaN);
            out.println(lastBar);
            out.flush();
            barShown = true;
        }
    }

    @Override
    public synchronized void example(int done, int total, String id, double seconds, String skipped) {
        this.total = total;
        int here = done - startDone;
        double elapsed = (nanos.getAsLong() - startNanos) / 1e9;
        double perExample = here > 0 ? elapsed / here : Double.NaN;
        switch (mode) {
            case NONE -> { }
            case LINES -> {
                out.println(line(done, total, id, perExample, skipped));
                out.flush();
            }
            case BAR -> {
                if (barShown) out.print(UP_CLEAR);
                lastBar = bar(done, id, perExample);
                out.println(lastBar);
                out.flush();
                barShown = true;
            }
        }
    }

    /** {@code [12/100] id=ex-12 3.2 s/example ETA 4m40s} (+ {@code  skipped: reason}). */
    static String line(int done, int total, String id, double perExample, String skipped) {
        StringBuilder b = new StringBuilder();
        b.append('[').append(done).append('/').append(total).append("] id=").append(oneLine(id)).append(' ')
                .append(seconds(perExample)).append(" s/example ETA ").append(duration(eta(done, total, perExample)));
        if (skipped != null) b.append(" skipped: ").append(oneLine(skipped));
        return b.toString();
    }

    String bar(int done, String id, double perExample) {
        int filled = total == 0 ? BAR_WIDTH : (int) Math.round((double) BAR_WIDTH * done / total);
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < BAR_WIDTH; i++) b.append(i < filled ? '#' : '-');
        b.append("] ").append(done).append('/').append(total)
                .append(String.format(Locale.ROOT, " %3d%%", total == 0 ? 100 : 100 * done / total));
        if (Double.isFinite(perExample) && perExample > 0) {
            b.append(String.format(Locale.ROOT, "  %.2f ex/s  ETA %s", 1 / perExample, duration(eta(done, total, perExample))));
        } else {
            b.append("  -- ex/s  ETA --");
        }
        if (id != null) b.append("  id=").append(oneLine(id));
        return b.toString();
    }

    @Override
    public synchronized void message(String line) {
        if (mode == Mode.NONE) {
            out.println(line);
        } else if (mode == Mode.BAR && barShown) {
            out.print(UP_CLEAR);
            out.println(line);
            out.println(lastBar);   // the bar stays the last line
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public synchronized void finish() {
        out.flush();
    }

    private static double eta(int done, int total, double perExample) {
        return Double.isFinite(perExample) ? Math.max(0, total - done) * perExample : Double.NaN;
    }

    /** 3 significant-ish figures: 0.031, 0.42, 3.2, 42. */
    static String seconds(double s) {
        if (!Double.isFinite(s)) return "?";
        if (s >= 10) return String.format(Locale.ROOT, "%.0f", s);
        if (s >= 1) return String.format(Locale.ROOT, "%.1f", s);
        if (s >= 0.1) return String.format(Locale.ROOT, "%.2f", s);
        return String.format(Locale.ROOT, "%.3f", s);
    }

    /** 42s, 4m40s, 1h02m. */
    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        if (s < 60) return s + "s";
        if (s < 3600) return (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s";
        return (s / 3600) + "h" + String.format(Locale.ROOT, "%02d", (s % 3600) / 60) + "m";
    }

    private static String oneLine(String s) {
        return s == null ? "null" : s.replace('\n', ' ').replace('\r', ' ').replace('\t', ' ');
    }
}
