package io.rationale.engine;

/**
 * The LRP rule decisions of a {@link RuleMode}, in one place: every backend's backward pass reads them here and
 * nowhere else decides a rule. Each rule is written in LXT's "input × modified gradient" form: the backward is the
 * plain gradient except at the places below.
 *
 * <ul>
 * <li>Attention, {@code q·kᵀ} and {@code p·v}: the uniform rule over a product of two inputs sends half of the
 *     relevance to each; with the softmax (deep-Taylor: its plain gradient) in between, the gradients into q and k
 *     (after RoPE) are scaled by 1/4 and into v by 1/2 — AttnLRP, Achtibat et al. 2024 (ICML), Sec. 3.3 and
 *     Appendix; LXT {@code efficient} rules. CP-LRP (Ali et al. 2022, "XAI for Transformers: Better Explanations
 *     through Conservative Propagation", ICML) holds the softmax weights constant instead: no gradient through q and
 *     k, v unscaled.</li>
 * <li>SwiGLU, {@code silu(gate)·up}: AttnLRP takes the uniform rule over the product (half to each factor) and the
 *     identity rule through SiLU, i.e. {@code silu(g)/(g + ε)} in place of {@code silu'(g)} (LXT
 *     {@code identity_rule_implicit}, ε = 1e-10). CP-LRP holds the gate branch constant: no gradient into it.</li>
 * <li>RMSNorm: the LRP modes hold {@code 1/rms} constant (LXT {@code rms_norm_identity}); the weight multiply
 *     stays.</li>
 * <li>RoPE, {@code q' = q·cos + rot(q)·sin} (and k): cos and sin are constants in GRADIENT, ATTNLRP and CPLRP, so
 *     RoPE is linear in q and all of q' 's relevance reaches q (its backward is the inverse rotation). PE-LRP
 *     (Bakish et al. 2025, arXiv 2506.02138; the Faithfulness Serum's relevance) treats cos and sin as inputs: the
 *     sum takes the ε-rule and each product the uniform rule, so half of each product's relevance goes to its
 *     position factor and half to q (or rot(q)); in gradient × input form the gradients into both factors of each
 *     product are halved ({@link #ropeProductShare} 1/2) and a factor's relevance is {@code factor · gradient}
 *     ({@link Backend#backwardWithPositions}). Everything else is AttnLRP.</li>
 * </ul>
 * Linear layers, residual additions and the causal mask take the plain gradient in every mode: for them gradient ×
 * input already is the LRP rule (ε-rule with ε → 0). The definitions and their sources:
 * {@code notes/attribution.md}, {@code notes/serum.md}.
 *
 * @param qkGradientScale  factor on the gradients into q and k after RoPE (1, 1/4 AttnLRP)
 * @param vGradientScale   factor on the gradient into v (1, 1/2 AttnLRP)
 * @param stopGradientQK   no gradient through the scores into q and k (CP-LRP)
 * @param gateProductShare factor on the gradient of {@code silu(gate)·up} into both factors (1, 1/2 AttnLRP)
 * @param siluIdentity     SiLU passes {@code silu(g)/(g + ε)} instead of its derivative (AttnLRP)
 * @param stopGradientGate no gradient into the gate branch (CP-LRP)
 * @param constantRms      RMSNorm's {@code 1/rms} is a constant (the LRP modes)
 * @param ropeProductShare factor on the gradients into both factors of RoPE's products {@code q·cos} and
 *                         {@code rot(q)·sin} (and k's): 1 where cos and sin are constants, 1/2 under PE-LRP's
 *                         uniform rule, which also defines the position factors' relevance
 */
public record LrpRules(float qkGradientScale, float vGradientScale, boolean stopGradientQK,
                       float gateProductShare, boolean siluIdentity, boolean stopGradientGate, boolean constantRms,
                       float ropeProductShare) {

    /** ε of the SiLU identity rule, {@code silu(g)/(g + ε)} (LXT's value). */
    public static final float SILU_IDENTITY_EPS = 1e-10f;

    /** The plain gradient: no rule anywhere. */
    public static final LrpRules GRADIENT = new LrpRules(1f, 1f, false, 1f, false, false, false, 1f);
    /** AttnLRP, efficient form (Achtibat et al. 2024; LXT). */
    public static final LrpRules ATTNLRP = new LrpRules(0.25f, 0.5f, false, 0.5f, true, false, true, 1f);
    /** CP-LRP as LXT implements it (Ali et al. 2022). */
    public static final LrpRules CPLRP = new LrpRules(1f, 1f, true, 1f, false, true, true, 1f);
    /** PE-LRP: AttnLRP plus the uniform rule at RoPE's products (Bakish et al. 2025). */
    public static final LrpRules PE_LRP = new LrpRules(0.25f, 0.5f, false, 0.5f, true, false, true, 0.5f);

    /** Whether RoPE's cos and sin are inputs that receive relevance (PE-LRP), so positional relevance is defined. */
    public boolean positionalRelevance() { return ropeProductShare != 1f; }

    /** The rules of a mode. */
    public static LrpRules of(RuleMode mode) {
        return switch (mode) {
            case GRADIENT -> GRADIENT;
            case ATTNLRP -> ATTNLRP;
            case CPLRP -> CPLRP;
            case PE_LRP -> PE_LRP;
        };
    }
}
