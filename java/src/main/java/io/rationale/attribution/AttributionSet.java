package io.rationale.attribution;

import java.util.List;
import java.util.Map;

/**
 * The results of several methods on one input, computed together by {@link Attributor#run}.
 *
 * @param input   the input
 * @param target  the explained scalar (same for every method)
 * @param methods each method's result, in the order asked
 * @param shared  the computations done once and used by several methods
 * @param seconds wall time of the whole run
 */
public record AttributionSet(AttributionInput input, Attribution.ResolvedTarget target, Map<Method, Attribution> methods,
                             List<SharedStep> shared, double seconds) {

    /**
     * A computation done once for several methods.
     *
     * @param name    {@code forward} (the recorded forward of the input: target, f(x), embeddings, attention
     *                probabilities) or {@code gradient_backward} (the one plain-gradient backward)
     * @param seconds its wall time
     * @param usedBy  the methods that read it
     */
    public record SharedStep(String name, double seconds, List<Method> usedBy) {}

    /** The result of one method. */
    public Attribution get(Method m) {
        Attribution a = methods.get(m);
        if (a == null) throw new IllegalArgumentException("method " + m.cliName() + " was not run");
        return a;
    }
}
