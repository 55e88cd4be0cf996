/**
 * Tokenizers of Llama-family models, loaded from a model folder: {@link io.rationale.tokenizer.Tokenizer}
 * (tokenizer.json through the Hugging Face Rust library via DJL, offline, plus tokenizer_config.json),
 * {@link io.rationale.tokenizer.Encoding}/{@link io.rationale.tokenizer.Token} with UTF-16 character spans into
 * the input, and {@link io.rationale.tokenizer.ChatTemplate} for the config's Jinja2 chat template.
 */
package io.rationale.tokenizer;
