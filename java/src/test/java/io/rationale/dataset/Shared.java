package io.rationale.dataset;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Paths into the read-only shared data (system property rationale.shared, set by Surefire) and fixture writing. */
final class Shared {
    private Shared() {}

    static Path datasets() {
        String p = System.getProperty("rationale.shared");
        if (p == null) throw new IllegalStateException("system property rationale.shared is not set (run through Maven)");
        return Path.of(p).resolve("data/datasets");
    }

    static Path dataset(String relative) { return datasets().resolve(relative); }

    static Path write(Path file, String content) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, content, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path lines(Path file, List<String> lines) {
        return write(file, String.join("\n", lines) + "\n");
    }

    /** The skip whose id is {@code id}. */
    static Skipped skip(Dataset d, String id) {
        for (Skipped s : d.skipped()) if (id.equals(s.id())) return s;
        throw new AssertionError("no skip for " + id + " in " + d.skipped());
    }

    static Example example(Dataset d, String id) {
        for (Example e : d.examples()) if (e.id().equals(id)) return e;
        throw new AssertionError("no example " + id);
    }
}
