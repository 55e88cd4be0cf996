package io.rationale.engine;

/**
 * How {@link Backend#backward} propagates: the plain gradient, or one of the LRP variants written as
 * "input × modified gradient" (LXT's efficient form). What each mode changes, with sources: {@link LrpRules}, the
 * one place every backend reads the rules from.
 */
public enum RuleMode {
    /** The plain gradient (saliency, input × gradient, integrated gradients). */
    GRADIENT,
    /**
     * AttnLRP (Achtibat et al. 2024): identity rule on SiLU, uniform rule on the gate product (gradient halved),
     * RMSNorm's 1/rms held constant, gradients into q and k (after RoPE) divided by 4 and into v by 2.
     */
    ATTNLRP,
    /**
     * CP-LRP (Ali et al. 2022, as LXT implements it): no gradient through q and k (softmax weights constant) nor
     * through the gate branch (silu(gate) constant), RMSNorm's 1/rms held constant.
     */
    CPLRP,
    /**
     * PE-LRP (Bakish et al. 2025, arXiv 2506.02138): AttnLRP plus the uniform rule at RoPE's products, so half of
     * the relevance of q and k after RoPE goes to the position factors cos and sin ({@link Backend#backwardWithPositions}).
     */
    PE_LRP;

    /** This mode's rule decisions. */
    public LrpRules rules() { return LrpRules.of(this); }

    /** The command-line spelling: gradient, attnlrp, cplrp, pe_lrp. */
    public String cliName() { return name().toLowerCase(java.util.Locale.ROOT); }

    /** Parses a command-line spelling (case-insensitive). */
    public static RuleMode parse(String s) {
        for (RuleMode m : values()) if (m.cliName().equalsIgnoreCase(s.trim())) return m;
        throw new IllegalArgumentException("unknown rule mode '" + s + "' (expected gradient, attnlrp, cplrp or pe_lrp)");
    }
}
