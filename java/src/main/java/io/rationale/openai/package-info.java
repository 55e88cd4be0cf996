/**
 * The OpenAI-compatible wire format, shared by the service ({@code io.rationale.service}, which answers it) and the
 * remote prompting models of {@code eval --model openai:URL} ({@link io.rationale.openai.OpenAiClient}, which
 * sends it): completions, chat completions, the model list and errors, as Jackson records.
 */
package io.rationale.openai;
