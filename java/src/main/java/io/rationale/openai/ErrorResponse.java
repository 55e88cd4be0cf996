package io.rationale.openai;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** Every error the service answers, in OpenAI's shape: {@code {"error": {"message", "type", "param", "code"}}}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ErrorResponse(Error error) {

    /**
     * @param message what is wrong, one line
     * @param type    {@code invalid_request_error}, {@code authentication_error}, {@code not_found_error},
     *                {@code server_busy}, {@code engine_error}
     * @param param   the request field at fault, or null
     * @param code    the HTTP status
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    @JsonPropertyOrder({"message", "type", "param", "code"})
    public record Error(String message, String type, String param, Integer code) {}

    public static ErrorResponse of(int status, String type, String message) { return of(status, type, message, null); }

    /** @param param the request field at fault, or null */
    public static ErrorResponse of(int status, String type, String message, String param) {
        return new ErrorResponse(new Error(message, type, param, status));
    }
}
