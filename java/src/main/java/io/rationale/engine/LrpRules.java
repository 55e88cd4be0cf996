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
 * <li>RMSNorm: both LRP modes hold {@code 1/rms} constant (LXT {@code rms_norm_identity}); the weight multiply
 *     stays.</li>
 * </ul>
 * Linear layers, residual additions, RoPE (cos and sin are constants) and the causal mask take the plain gradient
 * in every mode: for them gradient × input already is the LRP rule (ε-rule with ε → 0). The definitions and their
 * sources: {@code notes/attribution.md}.
 *
 * @param qkGradientScale  factor on the gradients into q and k after RoPE (1, 1/4 AttnLRP)
 * @param vGradientScale   factor on the gradient into v (1, 1/2 AttnLRP)
 * @param stopGradientQK   no gradient through the scores into q and k (CP-LRP)
 * @param gateProductShare factor on the gradient of {@code silu(gate)·up} into both factors (1, 1/2 AttnLRP)
 * @param siluIdentity     SiLU passes {@code silu(g)/(g + ε)} instead of its derivative (AttnLRP)
 * @param stopGradientGate no gradient into the gate branch (CP-LRP)
 * @param constantRms      RMSNorm's {@code 1/rms} is a constant (both LRP modes)
 */
public record LrpRules(float qkGradientScale, float vGradientScale, boolean stopGradientQK,
                       float gateProductShare, boolean siluIdentity, boolean stopGradientGate, boolean constantRms) {

    /** ε of the SiLU identity rule, {@code silu(g)/(g + ε)} (LXT's value). */
    public static final float SILU_IDENTITY_EPS = 1e-10f;

    /** The plain gradient: no rule anywhere. */
    public static final LrpRules GRADIENT = new LrpRules(1f, 1f, false, 1f, false, false, false);
    /** AttnLRP, efficient form (Achtibat et al. 2024; LXT). */
    public static final LrpRules ATTNLRP = new LrpRules(0.25f, 0.5f, false, 0.5f, true, false, true);
    /** CP-LRP as LXT implements it (Ali et al. 2022). */
    public static final LrpRules CPLRP = new LrpRules(1f, 1f, true, 1f, false, true, true);

    /** The rules of a mode. */
    public static LrpRules of(RuleMode mode) {
        return switch (mode) {
            case GRADIENT -> GRADIENT;
            case ATTNLRP -> ATTNLRP;
            case CPLRP -> CPLRP;
        };
    }
}
