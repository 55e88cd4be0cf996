package io.rationale.dataset;

/**
 * A dataset that cannot be used at all: file missing, format not recognised, or a file of another kind than the
 * one asked for. The message is one line and names the file. Problems of single examples never raise this; they
 * become {@link Skipped} entries.
 */
public class DatasetException extends RuntimeException {
    public DatasetException(String message) { super(oneLine(message)); }

    public DatasetException(String message, Throwable cause) { super(oneLine(message), cause); }

    static String oneLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        String first = nl < 0 ? s : s.substring(0, nl);
        return first.replace('\r', ' ').strip();
    }
}
