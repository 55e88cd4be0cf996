package io.rationale.dataset;

/**
 * An example that could not be loaded; the rest of the dataset loads normally.
 *
 * @param id     the example's id when it could be read, else null
 * @param where  file and line (JSONL, plain text) or row (CSV), e.g. {@code test.jsonl:17}
 * @param reason one line: why it was skipped (e.g. {@code label 'x' is not in the label set [...]})
 */
public record Skipped(String id, String where, String reason) {
    @Override
    public String toString() {
        return where + (id == null ? "" : " (" + id + ")") + ": " + reason;
    }
}
