package io.rationale.attribution;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The attribution methods, under the names the command line uses (see {@link io.rationale.attribution}). */
public enum Method {
    /** {@code ‖g_i‖₂}: L2 norm over the hidden dimension of the plain gradient. */
    SALIENCY("saliency"),
    /** {@code Σ_d e_{i,d}·g_{i,d}}, plain gradient. */
    INPUT_X_GRADIENT("input_x_gradient"),
    /** {@code Σ_d (e−b)_{i,d} · Σ_s w_s g_{i,d}(b + α_s(e−b))}, batched over the steps. */
    INTEGRATED_GRADIENTS("integrated_gradients"),
    /** {@code Σ_d e_{i,d}·g̃_{i,d}} with the AttnLRP modified gradient ({@code RuleMode.ATTNLRP}). */
    ATTNLRP("attnlrp"),
    /** {@code Σ_d e_{i,d}·g̃_{i,d}} with the CP-LRP modified gradient ({@code RuleMode.CPLRP}). */
    CPLRP("cplrp"),
    /**
     * PE-LRP (Bakish et al. 2025): {@code Σ_d e_{i,d}·g̃_{i,d}} with the PE-LRP modified gradient
     * ({@code RuleMode.PE_LRP}) plus the positional relevance {@code Σ_layers |R_cos(i)| + |R_sin(i)|}.
     */
    PE_LRP("pe_lrp"),
    /** Last layer's attention row of the last position, mean over heads. */
    ATTENTION("attention"),
    /** Attention rollout over all layers (head mean, {@code 0.5·A + 0.5·I}, rows renormalised). */
    ATTENTION_ROLLOUT("attention_rollout"),
    /** Leave-one-word-out: {@code f(x) − f(x without the word's tokens)}. */
    OCCLUSION("occlusion"),
    /** Seeded uniform scores in [0, 1): the baseline every method is compared with. */
    RANDOM("random");

    private final String cliName;

    Method(String cliName) { this.cliName = cliName; }

    /** The name on the command line and in JSON. */
    public String cliName() { return cliName; }

    /** Whether the method runs a backward pass. */
    public boolean needsBackward() {
        return this == SALIENCY || this == INPUT_X_GRADIENT || this == INTEGRATED_GRADIENTS || this == ATTNLRP || this == CPLRP || this == PE_LRP;
    }

    /** Whether the method reads attention probabilities of the recorded forward. */
    public boolean needsAttentionProbs() { return this == ATTENTION || this == ATTENTION_ROLLOUT; }

    /** Whether the method reads the recorded forward of the input (gradients, LRP, attention). */
    public boolean needsRecord() {
        return this == SALIENCY || this == INPUT_X_GRADIENT || this == ATTNLRP || this == CPLRP || this == PE_LRP || needsAttentionProbs();
    }

    /** The valid names, comma-separated, {@code all} last. */
    public static String validNames() {
        return String.join(", ", Arrays.stream(values()).map(Method::cliName).toList()) + ", all";
    }

    /**
     * Parses one method name (case-insensitive; {@code -} and {@code _} are the same), or {@code all}.
     *
     * @throws IllegalArgumentException naming the valid methods
     */
    public static List<Method> parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        if (n.equals("all")) return List.of(values());
        for (Method m : values()) if (m.cliName.equals(n)) return List.of(m);
        throw new IllegalArgumentException("unknown method '" + name + "' (valid: " + validNames() + ")");
    }
}
