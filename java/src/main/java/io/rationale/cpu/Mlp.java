package io.rationale.cpu;

import io.rationale.engine.LayerWeights;
import io.rationale.engine.RuleMode;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * The SwiGLU feed-forward block: {@code down(silu(gate(x)) · up(x))}, with silu(z) = z / (1 + exp(−z)); its
 * backward pass, with the plain gradient and the AttnLRP / CP-LRP rules for the gate product side by side.
 */
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

    // ---------------------------------------------------------------- backward

    /**
     * dx = d(out)/d(x)ᵀ·dOut for the block's input x ({@code [n, hidden]}, the post-attention norm output), with
     * {@code mode}'s rule at the gate product. Biases play no part.
     *
     * @param gate  the forward's gate projection {@code [n, inter]} ({@link Saved#gate})
     * @param up    the forward's up projection {@code [n, inter]}
     * @param dAct  scratch {@code [n, inter]}
     * @param dGate scratch {@code [n, inter]}
     * @param dx    receives {@code [n, hidden]} (overwritten)
     */
    public static void backward(Parallel par, RuleMode mode, LayerWeights w, float[] gate, float[] up, int n, int hidden,
                                float[] dOut, float[] dAct, float[] dGate, float[] dx) {
        int inter = w.gate().rows();
        LinearBackward.inputGrad(par, dAct, n, inter, false, new LinearBackward.Term(w.down(), dOut));
        int chunk = 64 * 1024, total = n * inter;
        int tasks = (total + chunk - 1) / chunk;
        par.forEach(tasks, c -> {
            int from = c * chunk, to = Math.min(total, from + chunk);
            switch (mode) {                                  // dUp is written over dAct
                case GRADIENT -> swigluBackward(gate, up, dAct, dGate, dAct, from, to);
                case ATTNLRP -> swigluBackwardAttnLrp(gate, up, dAct, dGate, dAct, from, to);
                case CPLRP -> swigluBackwardCpLrp(gate, dAct, dAct, from, to);
            }
        });
        if (mode == RuleMode.CPLRP)
            LinearBackward.inputGrad(par, dx, n, hidden, false, new LinearBackward.Term(w.up(), dAct));
        else
            LinearBackward.inputGrad(par, dx, n, hidden, false,
                    new LinearBackward.Term(w.gate(), dGate), new LinearBackward.Term(w.up(), dAct));
    }

    /**
     * Plain gradient of act = silu(g)·u: {@code dG = dAct·u·silu'(g)}, {@code dU = dAct·silu(g)}, with
     * {@code silu'(g) = σ(g)·(1 + g·(1 − σ(g)))}. dU may be dAct (in place).
     */
    static void swigluBackward(float[] gate, float[] up, float[] dAct, float[] dG, float[] dU, int from, int to) {
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i), d = FloatVector.fromArray(F, dAct, i);
            FloatVector sig = FloatVector.broadcast(F, 1f).div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            FloatVector dsilu = sig.mul(g.mul(sig.neg().add(1f)).add(1f));
            d.mul(FloatVector.fromArray(F, up, i)).mul(dsilu).intoArray(dG, i);
            d.mul(g.mul(sig)).intoArray(dU, i);
        }
        for (; i < to; i++) {
            float g = gate[i], d = dAct[i], sig = 1f / (1f + (float) Math.exp(-g));
            dG[i] = d * up[i] * (sig * (1f + g * (1f - sig)));
            dU[i] = d * (g * sig);
        }
    }

    /**
     * AttnLRP: uniform rule on the product (half of dAct to each factor) and identity rule on SiLU
     * ({@code silu(g)/(g + 1e-10)} in place of silu'(g)): {@code dG = dAct/2·u·silu(g)/(g+1e-10)},
     * {@code dU = dAct/2·silu(g)}.
     */
    static void swigluBackwardAttnLrp(float[] gate, float[] up, float[] dAct, float[] dG, float[] dU, int from, int to) {
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i), half = FloatVector.fromArray(F, dAct, i).mul(0.5f);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            half.mul(FloatVector.fromArray(F, up, i)).mul(silu.div(g.add(1e-10f))).intoArray(dG, i);
            half.mul(silu).intoArray(dU, i);
        }
        for (; i < to; i++) {
            float g = gate[i], half = dAct[i] * 0.5f, silu = silu(g);
            dG[i] = half * up[i] * (silu / (g + 1e-10f));
            dU[i] = half * silu;
        }
    }

    /** CP-LRP: silu(gate) is a constant weight, so the gate branch gets nothing: {@code dU = dAct·silu(g)}. */
    static void swigluBackwardCpLrp(float[] gate, float[] dAct, float[] dU, int from, int to) {
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector.fromArray(F, dAct, i).mul(g.div(g.neg().lanewise(VectorOperators.EXP).add(1f))).intoArray(dU, i);
        }
        for (; i < to; i++) dU[i] = dAct[i] * silu(gate[i]);
    }
}
