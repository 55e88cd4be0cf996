package io.rationale.weights;

/** A checkpoint that cannot be used; the message names the file and, where one is involved, the tensor. */
public class WeightsException extends RuntimeException {
    public WeightsException(String message) { super(message); }
    public WeightsException(String message, Throwable cause) { super(message, cause); }
}
