package io.rationale.attribution;

import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Model folders for the tests: a generated "tiny" model (written once per JVM) and the shared stories260K. */
public final class Fixtures {
    private Fixtures() {}

    public static final Path STORIES = Path.of(System.getProperty("rationale.shared", "../shared"), "data", "models", "stories260K-hf");

    private static Path tiny;

    /** weights-tools' "tiny" preset (hidden 64, 2 layers, 4 heads / 2 KV heads, byte-level BPE vocab 512), seed 7. */
    public static synchronized Path tiny() {
        if (tiny == null) {
            try {
                Path dir = Files.createTempDirectory("attr-tiny");
                TinyModel.write(Presets.get("tiny"), 7, dir, 0, 1, null);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir)));
                tiny = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tiny;
    }

    static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
