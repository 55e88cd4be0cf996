package io.rationale.bench;

import io.rationale.cli.BenchCommand;
import io.rationale.tools.DType;
import io.rationale.tools.ModelSpec;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The model folder a benchmark runs on, and the settings every benchmark reads from system properties:
 * <ul>
 *   <li>{@code -Dbench.model=DIR}: use the checkpoint in DIR; when DIR has no {@code config.json} yet, the preset
 *       is generated into it first and kept, so later runs reuse it instead of writing 2.2 GB again.</li>
 *   <li>{@code -Dbench.preset=NAME} (default {@code tinyllama-1.1b}): the weights-tools preset to generate (seed 0)
 *       when no model is given, or {@code smoke}: a 2-layer bf16 Llama that Jlama can also load (the {@code tiny}
 *       preset cannot be read by Jlama: f32 weights and an intermediate size of 172, not a multiple of 32).
 *       Without {@code bench.model} it is written to a temporary folder deleted after the trial.</li>
 *   <li>{@code -Dbench.threads=N} (default: all available processors): threads of both engines.</li>
 * </ul>
 */
public final class BenchModel implements AutoCloseable {
    /** The default preset: the shape of TinyLlama-1.1B, bf16. */
    public static final String DEFAULT_PRESET = "tinyllama-1.1b";

    private final Path dir;
    private final boolean temporary;
    private final String description;

    private BenchModel(Path dir, boolean temporary, String description) {
        this.dir = dir;
        this.temporary = temporary;
        this.description = description;
    }

    /** The folder from the system properties, generated if needed. */
    public static BenchModel fromProperties() {
        String preset = System.getProperty("bench.preset", DEFAULT_PRESET);
        String given = System.getProperty("bench.model");
        if (given != null && !given.isBlank()) {
            Path dir = Path.of(given);
            if (Files.isRegularFile(dir.resolve("config.json"))) return new BenchModel(dir, false, dir + " (given)");
            generate(preset, dir);
            return new BenchModel(dir, false, dir + " (" + preset + " preset, seed 0, generated and kept)");
        }
        try {
            Path dir = Files.createTempDirectory("rationale-bench-");
            generate(preset, dir);
            return new BenchModel(dir, true, dir + " (" + preset + " preset, seed 0, temporary)");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The spec of a preset name: the weights-tools presets, plus {@code smoke}. */
    public static ModelSpec spec(String preset) {
        if (preset.equalsIgnoreCase("smoke")) {
            // TinyLlama's proportions, 2 layers: bf16, head_dim 64, GQA 4:1, sizes multiples of 32 (Jlama's kernels)
            ModelSpec s = Presets.get("tinyllama-1.1b");
            s.hidden = 256;
            s.layers = 2;
            s.heads = 4;
            s.kvHeads = 1;
            s.intermediate = 704;
            s.vocab = 2048;
            s.dtype = DType.BF16;
            return s;
        }
        return Presets.get(preset);
    }

    /** Writes the preset (seed 0) into dir. */
    public static void generate(String preset, Path dir) {
        long t0 = System.nanoTime();
        System.err.println("bench: writing the " + preset + " preset to " + dir + " ...");
        TinyModel.write(spec(preset), 0, dir, 0, Math.max(1, Runtime.getRuntime().availableProcessors()), null);
        System.err.printf("bench: written in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * The backend benchmarks run on: {@code -Drationale.device} (default {@code cpu}; {@code cuda}, {@code cuda-emu},
     * ... as {@code --device} spells them) with {@link #threads()} CPU threads.
     */
    public static io.rationale.engine.Backend open(io.rationale.engine.Model model) {
        return open(model, threads());
    }

    /** {@link #open(io.rationale.engine.Model)} with {@code threads} CPU threads. */
    public static io.rationale.engine.Backend open(io.rationale.engine.Model model, int threads) {
        return io.rationale.engine.Backends.open(model, io.rationale.engine.Device.parse(device()), threads).backend();
    }

    /** {@code -Drationale.device}, default {@code cpu}. */
    public static String device() {
        return System.getProperty("rationale.device", "cpu");
    }

    /** Threads for both engines: {@code -Dbench.threads}, default all available processors. */
    public static int threads() {
        return Integer.getInteger("bench.threads", Runtime.getRuntime().availableProcessors());
    }

    /** Deterministic token ids in [0, vocab), the same for every engine (and for {@code rationale bench}). */
    public static int[] tokens(int n, int vocab, long seed) {
        return BenchCommand.randomIds(n, vocab, seed);
    }

    public Path dir() { return dir; }

    public String description() { return description; }

    /** Deletes the folder if it was temporary. */
    @Override
    public void close() {
        if (!temporary) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("bench: could not delete " + dir + ": " + e.getMessage());
        }
    }
}
