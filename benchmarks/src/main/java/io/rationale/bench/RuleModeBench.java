package io.rationale.bench;

import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
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

import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One backward pass per rule mode ({@link RuleMode}: gradient, attnlrp, cplrp, pe_lrp) over the same recorded
 * forward of {@code tokens} random ids (seed 42), target = the argmax logit of the last position: the engine's
 * backward under each rule's modifications, without the forward (recorded once per trial) and without the
 * Attributor around it. pe_lrp runs {@link Backend#backwardWithPositions} (the relevance of RoPE's cos and sin as
 * well), on backends that have it. Scores: milliseconds per backward.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar RuleModeBench -p tokens=64,512 -f 1 -wi 2 -i 5}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 10)
@Measurement(iterations = 5, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx20g"})
@State(Scope.Benchmark)
public class RuleModeBench {
    @Param({"128"})
    public int tokens;

    @Param({"gradient", "attnlrp", "cplrp", "pe_lrp"})
    public String mode;

    BenchModel folder;
    Model model;
    Backend backend;
    ForwardRecord record;
    List<Target> targets;
    RuleMode rule;

    @Setup(Level.Trial)
    public void setup() {
        rule = RuleMode.valueOf(mode.toUpperCase(Locale.ROOT));
        folder = BenchModel.fromProperties();
        model = Model.load(folder.dir());
        backend = BenchModel.open(model);
        if (rule == RuleMode.PE_LRP && !backend.supportsPositionalRelevance())
            throw new IllegalStateException(backend.device() + " has no positional backward (pe_lrp); run the other modes with -p mode=...");
        int[] ids = BenchModel.tokens(tokens, model.config().vocabSize(), 42);
        record = backend.newRecord(false);
        int argmax = backend.forward(List.of(ids), null, LogitsMode.LAST, record).argmax(0, 0);
        targets = List.of(TargetSpec.logit(argmax).toEngine());
        System.err.printf("bench: rationale on %s, %s weights, model %s; backward %s over %d tokens%n",
                backend.device(), model.weightDtype(), folder.description(), mode, tokens);
    }

    @TearDown(Level.Trial)
    public void close() {
        record.close();
        backend.close();
        model.close();
        folder.close();
    }

    @Benchmark
    public Object backward() {
        return rule == RuleMode.PE_LRP ? backend.backwardWithPositions(record, targets, rule) : backend.backward(record, targets, rule);
    }
}
