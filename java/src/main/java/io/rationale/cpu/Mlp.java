package io.rationale.cpu;

import io.rationale.engine.LayerWeights;
import io.rationale.engine.Lora;
import io.rationale.engine.LrpRules;
import io.rationale.engine.RuleMode;
import jdk.incubator.vector.FloatVector;

import java.util.List;

import static io.rationale.cpu.Vec.F;
import static io.rationale.cpu.Vec.L;

/**
 * The SwiGLU feed-forward block: {@code down(silu(gate(x)) · up(x))}, with silu(z) = z / (1 + exp(−z)); its
 * backward pass, the plain gradient and the AttnLRP / CP-LRP rules for the gate product in one loop that reads
 * {@link LrpRules}.
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
        return forward(par, x, n, hidden, w, null, -1, out);
    }

    /**
     * {@link #forward(Parallel, float[], int, int, LayerWeights, float[])} with the unmerged LoRA modules of layer l
     * beside gate, up and down ({@link LoraBranch}; {@code lora} null for none).
     */
    public static Saved forward(Parallel par, float[] x, int n, int hidden, LayerWeights w, Lora lora, int l, float[] out) {
        int inter = w.gate().rows();
        float[] gate = new float[n * inter], up = new float[n * inter];
        MatMul.linear(par, x, n, hidden, new MatMul.Out(w.gate(), w.gateBias(), gate), new MatMul.Out(w.up(), w.upBias(), up));
        if (lora != null) {
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.GATE), x, n, gate);
            LoraBranch.forward(par, lora.modules(l, Lora.Projection.UP), x, n, up);
        }
        float[] act = new float[n * inter];
        int chunk = 64 * 1024;
        int tasks = (n * inter + chunk - 1) / chunk;
        par.forEach(tasks, c -> swiglu(gate, up, act, c * chunk, Math.min(n * inter, (c + 1) * chunk)));
        MatMul.linear(par, act, n, inter, new MatMul.Out(w.down(), w.downBias(), out));
        if (lora != null) LoraBranch.forward(par, lora.modules(l, Lora.Projection.DOWN), act, n, out);
        return new Saved(gate, up, act);
    }

    /** act[i] = silu(gate[i]) · up[i] for i in [from, to) (public for the CUDA kernels' parity tests). */
    public static void swiglu(float[] gate, float[] up, float[] act, int from, int to) {
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector silu = g.div(Vec.exp(g.neg()).add(1f));
            silu.mul(FloatVector.fromArray(F, up, i)).intoArray(act, i);
        }
        for (; i < to; i++) act[i] = silu(gate[i]) * up[i];
    }

    static float silu(float z) { return z / (1f + (float) Math.exp(-z)); }

    // ---------------------------------------------------------------- backward

    /**
     * dx = d(out)/d(x)ᵀ·dOut for the block's input x ({@code [n, hidden]}, the post-attention norm output), with
     * {@code mode}'s rules at the gate product ({@link LrpRules}). Biases play no part.
     *
     * @param gate  the forward's gate projection {@code [n, inter]} ({@link Saved#gate})
     * @param up    the forward's up projection {@code [n, inter]}
     * @param dAct  scratch {@code [n, inter]}
     * @param dGate scratch {@code [n, inter]}
     * @param dx    receives {@code [n, hidden]} (overwritten)
     */
    public static void backward(Parallel par, RuleMode mode, LayerWeights w, float[] gate, float[] up, int n, int hidden,
                                float[] dOut, float[] dAct, float[] dGate, float[] dx) {
        backward(par, mode, w, null, -1, null, null, gate, up, n, hidden, dOut, dAct, dGate, dx);
    }

    /**
     * {@link #backward(Parallel, RuleMode, LayerWeights, float[], float[], int, int, float[], float[], float[], float[])}
     * through the unmerged LoRA modules of layer l as well ({@code lora} null for none): their input gradients join
     * dAct and dx; with {@code grads}, their weights' gradients are added there, from the inputs
     * {@code xn} (the block's input, for gate and up) and silu(gate)·up (recomputed, for down).
     */
    public static void backward(Parallel par, RuleMode mode, LayerWeights w, Lora lora, int l, Lora.Gradients grads, float[] xn,
                                float[] gate, float[] up, int n, int hidden, float[] dOut, float[] dAct, float[] dGate, float[] dx) {
        int inter = w.gate().rows();
        LrpRules rules = mode.rules();
        LinearBackward.inputGrad(par, dAct, n, inter, false, new LinearBackward.Term(w.down(), dOut));
        if (lora != null) {
            List<Lora.Module> down = lora.modules(l, Lora.Projection.DOWN);
            LoraBranch.inputGrad(par, down, dOut, n, dAct);
            if (grads != null && !down.isEmpty()) {
                float[] act = new float[n * inter];
                swiglu(gate, up, act, 0, n * inter);
                LoraBranch.weightGrad(par, down, act, dOut, n, grads);
            }
        }
        int chunk = 64 * 1024, total = n * inter;
        int tasks = (total + chunk - 1) / chunk;
        par.forEach(tasks, c -> {                            // dUp is written over dAct
            int from = c * chunk, to = Math.min(total, from + chunk);
            swigluBackward(rules, gate, up, dAct, dGate, dAct, from, to);
        });
        if (rules.stopGradientGate())
            LinearBackward.inputGrad(par, dx, n, hidden, false, new LinearBackward.Term(w.up(), dAct));
        else
            LinearBackward.inputGrad(par, dx, n, hidden, false,
                    new LinearBackward.Term(w.gate(), dGate), new LinearBackward.Term(w.up(), dAct));
        if (lora != null) {
            List<Lora.Module> g = rules.stopGradientGate() ? List.of() : lora.modules(l, Lora.Projection.GATE);
            List<Lora.Module> u = lora.modules(l, Lora.Projection.UP);
            LoraBranch.inputGrad(par, g, dGate, n, dx);
            LoraBranch.inputGrad(par, u, dAct, n, dx);
            if (grads != null) {
                LoraBranch.weightGrad(par, g, xn, dGate, n, grads);
                LoraBranch.weightGrad(par, u, xn, dAct, n, grads);
            }
        }
    }

    /**
     * Backward of act = silu(g)·u with the rules of {@link LrpRules}; {@code m} = {@link LrpRules#gateProductShare}:
     * {@code dU = m·dAct·silu(g)} and, unless the gate branch is stopped (then dG is not written),
     * {@code dG = m·dAct·u·s(g)} with {@code s(g) = silu'(g) = σ(g)·(1 + g·(1 − σ(g)))} (plain) or
     * {@code s(g) = silu(g)/(g + ε)} (identity rule). dU may be dAct (in place). Public for the CUDA kernels' parity tests.
     */
    public static void swigluBackward(LrpRules rules, float[] gate, float[] up, float[] dAct, float[] dG, float[] dU, int from, int to) {
        float m = rules.gateProductShare();
        boolean gateGrad = !rules.stopGradientGate(), identity = rules.siluIdentity();
        float eps = LrpRules.SILU_IDENTITY_EPS;
        int i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i), d = FloatVector.fromArray(F, dAct, i);
            if (m != 1f) d = d.mul(m);
            FloatVector sig = FloatVector.broadcast(F, 1f).div(Vec.exp(g.neg()).add(1f));
            FloatVector silu = g.mul(sig);
            if (gateGrad) {
                FloatVector s = identity ? silu.div(g.add(eps)) : sig.mul(g.mul(sig.neg().add(1f)).add(1f));
                d.mul(FloatVector.fromArray(F, up, i)).mul(s).intoArray(dG, i);
            }
            d.mul(silu).intoArray(dU, i);
        }
        for (; i < to; i++) {
            float g = gate[i], d = dAct[i] * m, sig = 1f / (1f + (float) Math.exp(-g)), silu = g * sig;
            if (gateGrad) dG[i] = d * up[i] * (identity ? silu / (g + eps) : sig * (1f + g * (1f - sig)));
            dU[i] = d * silu;
        }
    }
}
