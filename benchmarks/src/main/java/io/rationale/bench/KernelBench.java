package io.rationale.bench;

import io.rationale.cpu.LinearBackward;
import io.rationale.cpu.MatMul;
import io.rationale.cpu.Parallel;
import io.rationale.engine.LayerWeights;
import io.rationale.engine.Model;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The two matrix kernels that carry nearly all of an attribution's cost, on one layer of the bench model (TinyLlama
 * shape by default: o_proj, gate+up, down), for {@code tokens} rows: the forward {@code y = x·Wᵀ}
 * ({@link MatMul#linear}) and the backward {@code dx = dy·W} ({@link LinearBackward#inputGrad}). Both per op do
 * {@code 2·tokens·(H² + 3·H·I)} flops; comparing 128 with 1,024 rows tells how much a bigger batch (integrated
 * gradients' packed steps) gains per token. {@link Ratios} prints the cost per token against the fewest rows; the
 * setup line gives the flops per op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
@State(Scope.Benchmark)
public class KernelBench {
    @Param({"128", "1024"})
    public int tokens;

    BenchModel folder;
    Model model;
    Parallel par;
    LayerWeights w;
    float[] xH, xI, gI, uI, yH, yI, y2I;

    @Setup(Level.Trial)
    public void setup() {
        folder = BenchModel.fromProperties();
        model = Model.load(folder.dir());
        par = new Parallel(BenchModel.threads());
        w = model.layer(model.numLayers() / 2);
        int h = model.config().hiddenSize(), i = model.config().intermediateSize();
        xH = random(tokens * h, 1);
        xI = random(tokens * i, 2);
        gI = random(tokens * i, 3);
        uI = random(tokens * i, 4);
        yH = new float[tokens * h];
        yI = new float[tokens * i];
        y2I = new float[tokens * i];
        System.err.printf("bench: kernels on layer %d of %s (%s weights, hidden %d, intermediate %d), %d threads; flops per op %.4g%n",
                model.numLayers() / 2, folder.description(), model.weightDtype(), h, i, par.threads(), flops(tokens, h, i));
    }

    static double flops(int tokens, int h, int i) { return 2.0 * tokens * ((double) h * h + 3.0 * h * i); }

    @TearDown(Level.Trial)
    public void close() {
        par.close();
        model.close();
        folder.close();
    }

    /** x·Wᵀ for o_proj, gate and up (one pass), down: the forward's matrix products of one layer but q, k, v. */
    @Benchmark
    public float[] linearForward() {
        int h = model.config().hiddenSize(), i = model.config().intermediateSize();
        MatMul.linear(par, xH, tokens, h, new MatMul.Out(w.o(), null, yH));
        MatMul.linear(par, xH, tokens, h, new MatMul.Out(w.gate(), null, yI), new MatMul.Out(w.up(), null, y2I));
        MatMul.linear(par, xI, tokens, i, new MatMul.Out(w.down(), null, yH));
        return yH;
    }

    /** dy·W through the same weights: o_proj, down, gate + up (one pass). */
    @Benchmark
    public float[] linearBackward() {
        int h = model.config().hiddenSize(), i = model.config().intermediateSize();
        LinearBackward.inputGrad(par, yH, tokens, h, false, new LinearBackward.Term(w.o(), xH));
        LinearBackward.inputGrad(par, yI, tokens, i, false, new LinearBackward.Term(w.down(), xH));
        LinearBackward.inputGrad(par, yH, tokens, h, false, new LinearBackward.Term(w.gate(), gI), new LinearBackward.Term(w.up(), uI));
        return yH;
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int j = 0; j < n; j++) x[j] = (float) r.nextGaussian();
        return x;
    }
}
