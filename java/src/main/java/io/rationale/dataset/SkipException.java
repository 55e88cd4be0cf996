package io.rationale.dataset;

/** A per-example problem found by a reader: the example becomes a {@link Skipped} entry with this message. */
final class SkipException extends RuntimeException {
    SkipException(String reason) { super(reason, null, false, false); }
}
