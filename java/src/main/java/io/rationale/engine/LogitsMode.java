package io.rationale.engine;

/** Which positions of each sequence a forward pass returns logits for. */
public enum LogitsMode {
    /** Only the last new token of each sequence (prefill before generation, decode). */
    LAST,
    /** Every new token (per-position argmax, scoring a given continuation). */
    ALL,
    /** None: only fill the KV caches (a shared prompt prefix). */
    NONE
}
