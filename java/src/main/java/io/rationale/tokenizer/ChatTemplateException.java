package io.rationale.tokenizer;

/**
 * A chat template that does not parse, fails while rendering, or calls {@code raise_exception(msg)}.
 * The message names the template's source (e.g. the tokenizer_config.json path).
 */
public class ChatTemplateException extends TokenizerException {
    public ChatTemplateException(String message) { super(message); }
    public ChatTemplateException(String message, Throwable cause) { super(message, cause); }
}
