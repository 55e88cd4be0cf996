package io.rationale.dataset;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * FEVER claims with gold evidence sentences (kind {@code fever}), one JSON object per line:
 * {@code {"claim": str, "label": "SUPPORTS"|"REFUTES", "evidence": [str, ...]}}; no token-level rationales.
 *
 * <p>Example id: the record's {@code id} when it has one, else {@code <file name>:<line>}. Fields {@code claim}
 * and {@code evidence} (the evidence sentences in file order joined with {@code "\n"}; the sentences keep FEVER's
 * tokenisation and its {@code -LRB-}/{@code -RRB-} escapes). Labels {@code [SUPPORTS, REFUTES]} (the two labels
 * paper 1 uses); {@code NOT ENOUGH INFO} or any other label skips the line, as do a missing claim/label/evidence,
 * an empty evidence list, a non-string sentence or an unparseable line. The first record decides the format:
 * it must have {@code claim}, {@code label} and {@code evidence}.
 */
public final class FeverReader {
    private FeverReader() {}

    public static final List<String> LABELS = List.of("SUPPORTS", "REFUTES");

    public static Dataset read(Path file) {
        List<JsonLines.Line> lines = JsonLines.read(file);
        JsonNode first = JsonLines.first(file, lines, "FEVER claims JSONL");
        if (!JsonLines.hasAll(first, "claim", "label", "evidence")) {
            throw new DatasetException(file + ": not FEVER claims JSONL (first record lacks claim/label/evidence)");
        }
        Collector c = new Collector();
        JsonLines.forEachObject(file, lines, c, (o, where) -> {
            String given = JsonLines.idText(o, "id");
            String id = given != null ? given : where;
            c.add(id, where, () -> example(o, id));
        });
        return c.build("fever", file, LABELS);
    }

    private static Example example(JsonNode o, String id) {
        String claim = JsonLines.text(o, "claim");
        if (claim == null) throw new SkipException("missing claim");
        String label = JsonLines.text(o, "label");
        if (label == null) throw new SkipException("missing label");
        JsonNode ev = o.get("evidence");
        if (ev == null || !ev.isArray()) throw new SkipException("missing evidence list");
        if (ev.isEmpty()) throw new SkipException("no evidence sentences");
        List<String> sentences = new ArrayList<>();
        for (JsonNode s : ev) {
            if (!s.isTextual()) throw new SkipException("evidence item is not a string");
            sentences.add(s.textValue());
        }
        return new Example(id, List.of(TextField.of("claim", claim), TextField.of("evidence", String.join("\n", sentences))),
                label, LABELS, null, Annotations.none(), null);
    }
}
