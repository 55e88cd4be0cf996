package io.rationale.eval;

/**
 * What an evaluation run reports while it goes: {@link ProgressPrinter} draws a bar on a terminal or prints plain
 * lines otherwise; {@link #NONE} stays quiet.
 */
public interface Progress {
    /** The run starts: {@code total} selected examples, {@code alreadyDone} of them from an earlier session. */
    void start(int total, int alreadyDone);

    /**
     * One example finished.
     *
     * @param done    examples done so far (earlier sessions included)
     * @param id      the example's id
     * @param seconds this example's wall time
     * @param skipped why the evaluator skipped it, or null
     */
    void example(int done, int total, String id, double seconds, String skipped);

    /** A line for the user that must not be lost in the bar (warnings, resume notes). */
    void message(String line);

    /** The run ended (also after an error). */
    void finish();

    Progress NONE = new Progress() {
        @Override public void start(int total, int alreadyDone) {}
        @Override public void example(int done, int total, String id, double seconds, String skipped) {}
        @Override public void message(String line) {}
        @Override public void finish() {}
    };
}
