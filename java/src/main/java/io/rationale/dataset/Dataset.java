package io.rationale.dataset;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A loaded dataset: the examples in file order and the entries that were skipped, each with its reason.
 *
 * @param kind     the loader kind ({@code esnli}, {@code fever}, ...)
 * @param path     the file or folder read
 * @param labels   the label set (also in every example)
 * @param examples the usable examples
 * @param skipped  the entries that could not be used
 */
public record Dataset(String kind, Path path, List<String> labels, List<Example> examples, List<Skipped> skipped) {
    public Dataset {
        labels = List.copyOf(labels);
        examples = List.copyOf(examples);
        skipped = List.copyOf(skipped);
    }

    public int size() { return examples.size(); }

    /** How many examples have human rationales. */
    public int withRationales() {
        int n = 0;
        for (Example e : examples) if (e.hasRationales()) n++;
        return n;
    }

    /** Number of skipped entries per reason, in order of first occurrence. */
    public Map<String, Integer> skipReasons() {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Skipped s : skipped) out.merge(s.reason(), 1, Integer::sum);
        return out;
    }
}
