package io.rationale.dataset;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** Gathers examples and skips while a reader runs. */
final class Collector {
    private final List<Example> examples = new ArrayList<>();
    private final List<Skipped> skipped = new ArrayList<>();

    /** Adds the example {@code make} builds, or a skip with the reason it gave ({@link SkipException}, or the {@link Example} checks). */
    void add(String id, String where, Supplier<Example> make) {
        try {
            examples.add(make.get());
        } catch (SkipException | IllegalArgumentException e) {
            skipped.add(new Skipped(id, where, DatasetException.oneLine(e.getMessage())));
        }
    }

    void skip(String id, String where, String reason) {
        skipped.add(new Skipped(id, where, reason));
    }

    Dataset build(String kind, Path path, List<String> labels) {
        return new Dataset(kind, path, labels, examples, skipped);
    }
}
