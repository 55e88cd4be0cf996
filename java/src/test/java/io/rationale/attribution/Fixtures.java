package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
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

    /** A model folder loaded for a test class: weights, tokenizer and a 2-thread CPU backend, closed together. */
    public record Loaded(Model model, Tokenizer tok, Backend backend) implements AutoCloseable {
        public static Loaded cpu(Path dir) {
            Model m = Model.load(dir);
            return new Loaded(m, Tokenizer.load(dir), Backends.open(m, Device.CPU, 2).backend());
        }

        @Override
        public void close() {
            backend.close();
            tok.close();
            model.close();
        }
    }

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

    /** A model folder opened for attribution: model, tokenizer, a 2-thread CPU backend and its attributor. */
    public record Engine(Model model, Tokenizer tok, Backend backend, Attributor attributor) implements AutoCloseable {
        public static Engine open(Path dir) {
            Model m = Model.load(dir);
            Backend b = Backends.open(m, Device.CPU, 2).backend();
            return new Engine(m, Tokenizer.load(dir), b, new Attributor(b));
        }

        @Override
        public void close() {
            backend.close();
            tok.close();
            model.close();
        }
    }

    static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
