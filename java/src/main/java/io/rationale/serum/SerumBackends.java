package io.rationale.serum;

import io.rationale.attribution.Method;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;

/**
 * Where relevance is computed. Steering runs on any backend (the attention intervention), but the gradient and LRP
 * methods need a backward pass, and pe_lrp the relevance of RoPE's factors, which only the CPU backend has for now:
 * when the generation backend lacks what the method needs, the relevance runs on a CPU backend of the same model,
 * opened for it and closed after.
 */
public final class SerumBackends {
    private SerumBackends() {}

    /** A backend to use, and whether it was opened here (then {@link #close} closes it). */
    public record Lease(Backend backend, boolean own) implements AutoCloseable {
        @Override
        public void close() {
            if (own) backend.close();
        }
    }

    /** Whether {@code b} can compute {@code method}. */
    public static boolean canRun(Backend b, Method method) {
        if (method.needsBackward() && !b.supportsBackward()) return false;
        return method != Method.PE_LRP || b.supportsPositionalRelevance();
    }

    /** {@code generation} itself when it can run {@code method}, else a new CPU backend of its model. */
    public static Lease forMethod(Backend generation, Method method) {
        return forMethod(generation, method, false);
    }

    /**
     * As {@link #forMethod(Backend, Method)}; with {@code recordedResidual} (the logit-lens layer choice reads each
     * layer's recorded residual stream, which the backends with a backward pass keep) also a backend with a backward pass.
     */
    public static Lease forMethod(Backend generation, Method method, boolean recordedResidual) {
        if (canRun(generation, method) && (!recordedResidual || generation.supportsBackward())) return new Lease(generation, false);
        return new Lease(Backends.open(generation.model(), Device.CPU).backend(), true);
    }
}
