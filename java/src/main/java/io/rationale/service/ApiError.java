package io.rationale.service;

/** A request the service answers with an error status and one line saying what is wrong. */
public final class ApiError extends RuntimeException {
    final int status;
    final String type;
    final String param;          // the request field at fault, or null

    ApiError(int status, String type, String message) { this(status, type, message, null); }

    ApiError(int status, String type, String message, String param) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
    }

    static ApiError badRequest(String message) { return new ApiError(400, "invalid_request_error", message); }

    /** A bad value of one field: {@code param} names it in the answer, as OpenAI's errors do. */
    static ApiError badField(String param, String message) { return new ApiError(400, "invalid_request_error", message, param); }

    static ApiError notFound(String message) { return new ApiError(404, "not_found_error", message); }

    /** The error type of a status (OpenAI's names where it has one). */
    static String type(int status) {
        return switch (status) {
            case 401 -> "authentication_error";
            case 404 -> "not_found_error";
            case 429, 503 -> "server_busy";
            case 500 -> "engine_error";
            default -> "invalid_request_error";
        };
    }
}
