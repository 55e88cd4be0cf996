package io.rationale.tokenizer;

import java.util.Objects;

/**
 * One message of a chat, as a chat template sees it: {@code message['role']}, {@code message['content']}.
 *
 * @param role    e.g. {@code system}, {@code user}, {@code assistant}
 * @param content the message text
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }

    public static ChatMessage user(String content) { return new ChatMessage("user", content); }

    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
