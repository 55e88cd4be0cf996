package io.rationale.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small JSONL datasets for the runner's tests. */
final class Datasets {
    private Datasets() {}

    static final String[] WORDS = {"a", "man", "plays", "guitar", "on", "stage", "the", "dog", "sleeps", "outside"};

    /** {@code n} examples ex-0..ex-(n-1) (premise/hypothesis, 3 labels, rationales) and {@code bad} unusable lines. */
    static Path nli(Path dir, int n, int bad) throws IOException {
        StringBuilder b = new StringBuilder();
        String[] labels = {"entailment", "neutral", "contradiction"};
        for (int i = 0; i < n; i++) {
            StringBuilder p = new StringBuilder(), h = new StringBuilder();
            for (int w = 0; w < 6 + i % 4; w++) p.append(w == 0 ? "" : " ").append(WORDS[(i + w) % WORDS.length]);
            for (int w = 0; w < 4; w++) h.append(w == 0 ? "" : " ").append(WORDS[(i * 3 + w) % WORDS.length]);
            b.append("{\"id\": \"ex-").append(i).append("\", \"fields\": {\"premise\": \"").append(p).append("\", \"hypothesis\": \"")
                    .append(h).append("\"}, \"label\": \"").append(labels[i % 3]).append("\", \"labels\": [\"entailment\", \"neutral\", \"contradiction\"]")
                    .append(i % 6 == 5 ? "" : ", \"rationale\": {\"premise\": [" + (i % 3) + ", " + (i % 3 + 1) + "], \"hypothesis\": [2]}")
                    .append("}\n");
            if (i == 2) for (int k = 0; k < bad; k++) b.append("{\"id\": \"bad-").append(k).append("\", \"fields\": {\"premise\": \"x\"}, \"label\": \"maybe\", \"labels\": [\"yes\", \"no\"]}\n");
        }
        Path f = dir.resolve("nli.jsonl");
        Files.writeString(f, b.toString());
        return f;
    }
}
