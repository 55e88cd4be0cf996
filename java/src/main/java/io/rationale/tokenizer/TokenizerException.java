package io.rationale.tokenizer;

/**
 * A tokenizer that cannot be loaded or used. The message is one line and names the file concerned
 * (tokenizer.json, tokenizer_config.json or the chat template's source).
 */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) { super(message); }
    public TokenizerException(String message, Throwable cause) { super(message, cause); }
}
