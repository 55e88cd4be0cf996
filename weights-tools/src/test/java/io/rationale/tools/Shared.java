package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the read-only shared data (system property rationale.shared, set by surefire). */
final class Shared {
    private Shared() {
    }

    static Path path(String relative) {
        String root = System.getProperty("rationale.shared");
        assertTrue(root != null, "system property rationale.shared is not set (run through Maven)");
        Path p = Path.of(root).resolve(relative);
        assertTrue(Files.exists(p), "shared data missing: " + p);
        return p;
    }
}
