package io.rationale.cpu;

import io.rationale.engine.LayerWeights;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/** The SwiGLU feed-forward block: {@code down(silu(gate(x)) · up(x))}, with silu(z) = z / (1 + exp(−z)). */
public final class Mlp {
    private Mlp() {}

    /** Intermediate results a backward pass needs: gate and up projections and their product after silu. */
    public record Saved(float[] gate, float[] up, float[] act) {}

    /**
     * out = down(silu(gate(x)) · up(x)) for {@code n} rows of x ({@code [n, hidden]}); out is {@code [n, hidden]}.
     *
     * @return the intermediate arrays (fresh each call)
     */
    public static Saved forward(Parallel par, float[] x, int n, int hidden, LayerWeights w, float[] out) {
        int inter = w.gate().rows();
        float[] gate = new float[n * inter], up = new float[n * inter];
        MatMul.linear(par, x, n, hidden, new MatMul.Out(w.gate(), w.gateBias(), gate), new MatMul.Out(w.up(), w.upBias(), up));
        float[] act = new float[n * inter];
        int chunk = 64 * 1024;
        int tasks = (n * inter + chunk - 1) / chunk;
        par.forEach(tasks, c -> swiglu(gate, up, act, c * chunk, Math.min(n * inter, (c + 1) * chunk)));
        MatMul.linear(par, act, n, inter, new MatMul.Out(w.down(), w.downBias(), out));
        return new Saved(gate, up, act);
    }

    /** act[i] = silu(gate[i]) · up[i] for i in [from, to). */
    static void swiglu(float[] gate, float[] up, float[] act, int from, int to) {
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(F, up, i)).intoArray(act, i);
        }
        for (; i < to; i++) act[i] = silu(gate[i]) * up[i];
    }

    static float silu(float z) { return z / (1f + (float) Math.exp(-z)); }
}
