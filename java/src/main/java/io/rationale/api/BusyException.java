package io.rationale.api;

/** The engine's queue is full: the request was not taken (a server answers 503 with Retry-After). */
public final class BusyException extends RuntimeException {
    public BusyException(String message) { super(message); }
}
