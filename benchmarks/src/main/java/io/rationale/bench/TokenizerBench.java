package io.rationale.bench;

import io.rationale.tokenizer.Encoding;
import io.rationale.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The tokenizer of the bench model ({@code tokenizer.json} of the folder, as every command loads it):
 * {@link Tokenizer#encode} of English prose of {@code words} words, with offsets and word spans as the attribution
 * input uses them. Scores: microseconds per text; the setup prints the tokens per text, so tokens/s = tokens /
 * score.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar TokenizerBench -f 1 -wi 2 -i 5}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
@State(Scope.Benchmark)
public class TokenizerBench {
    @Param({"100", "1000", "10000"})
    public int words;

    static final String PROSE = "On the first warm day of spring the harbour filled with small boats, and the market along the quay "
            + "sold bread, cheese, salted fish and early strawberries to sailors who had been at sea since the winter storms. ";

    BenchModel folder;
    Tokenizer tokenizer;
    String text;

    @Setup(Level.Trial)
    public void setup() {
        folder = BenchModel.fromProperties();
        tokenizer = Tokenizer.load(folder.dir());
        StringBuilder b = new StringBuilder();
        int n = 0;
        while (n < words)
            for (String w : PROSE.split(" ")) {
                if (n == words) break;
                b.append(n == 0 ? "" : " ").append(w);
                n++;
            }
        text = b.toString();
        System.err.printf("bench: tokenizer of %s: %d words, %d characters, %d tokens%n", folder.description(), words, text.length(),
                tokenizer.encode(text).size());
    }

    @TearDown(Level.Trial)
    public void close() {
        tokenizer.close();
        folder.close();
    }

    @Benchmark
    public Encoding encode() {
        return tokenizer.encode(text);
    }
}
