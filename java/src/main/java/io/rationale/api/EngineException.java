package io.rationale.api;

/**
 * A failure inside the engine while it worked on a request (not a problem with the request itself): a server
 * answers 500. The loaded model stays usable: the failed pass's caches were freed or rolled back.
 */
public final class EngineException extends RuntimeException {
    public EngineException(String message, Throwable cause) { super(message, cause); }
}
