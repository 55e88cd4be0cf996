package io.rationale.bench;

import io.rationale.engine.Model;
import io.rationale.weights.Checkpoint;
import io.rationale.weights.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * Loading the bench model's safetensors (the files are in the page cache after the first invocation: this is the
 * engine's cost of opening a checkpoint, not the disk's):
 * <ul>
 *   <li>{@link #openCheckpoint}: {@link Checkpoint#open} — memory-map every shard and parse its JSON header;</li>
 *   <li>{@link #loadModel}: {@link Model#load} — config, checkpoint, validation of every tensor's name and shape,
 *       norm vectors widened to f32; the matrices stay mapped;</li>
 *   <li>{@link #openAndReadAll}: {@link Checkpoint#open} and one read per 4 KiB page of every tensor, so every page
 *       of the weights is mapped in (what the first forward pays on top of {@link #loadModel}).</li>
 * </ul>
 * Scores: milliseconds per load. Run: {@code java -jar benchmarks/target/benchmarks.jar SafetensorsBench -f 1 -wi 2 -i 5}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
@State(Scope.Benchmark)
public class SafetensorsBench {
    BenchModel folder;

    @Setup(Level.Trial)
    public void setup() {
        folder = BenchModel.fromProperties();
        try (Checkpoint c = Checkpoint.open(folder.dir())) {
            long bytes = 0;
            for (String n : c.names()) bytes += c.tensor(n).byteSize();
            System.err.printf("bench: safetensors of %s: %d tensors, %.1f MB in %d file(s)%n", folder.description(), c.names().size(),
                    bytes / 1e6, c.files().size());
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        folder.close();
    }

    @Benchmark
    public int openCheckpoint() {
        try (Checkpoint c = Checkpoint.open(folder.dir())) {
            return c.names().size();
        }
    }

    @Benchmark
    public int loadModel() {
        try (Model m = Model.load(folder.dir())) {
            return m.numLayers();
        }
    }

    @Benchmark
    public long openAndReadAll() {
        try (Checkpoint c = Checkpoint.open(folder.dir())) {
            long sum = 0;
            for (String n : c.names()) {
                Tensor t = c.tensor(n);
                for (long off = 0; off < t.byteSize(); off += 4096) sum += t.data().get(ValueLayout.JAVA_BYTE, off);
            }
            return sum;
        }
    }
}
