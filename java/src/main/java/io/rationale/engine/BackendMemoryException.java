package io.rationale.engine;

/**
 * A backend ran out of the memory it computes in (device memory on a GPU) for one pass. Nothing was changed: the
 * caches of the pass hold what they held before it, so the caller may retry with a smaller batch
 * ({@link Backend#forwardContinuations} does).
 */
public class BackendMemoryException extends RuntimeException {
    public BackendMemoryException(String message, Throwable cause) { super(message, cause); }
}
