package io.rationale.tools;

/**
 * A failure of a weights tool, with a one-line message that names what went wrong and where
 * (a file, an option, a tensor). The command line prints the message as it is.
 */
public class ToolException extends RuntimeException {
    public ToolException(String message) {
        super(message);
    }

    public ToolException(String message, Throwable cause) {
        super(message, cause);
    }
}
