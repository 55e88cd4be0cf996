/**
 * Attribution: which input tokens (and words) made the model produce its target at the last position.
 * Definitions follow {@code notes/attribution.md}; {@link io.rationale.attribution.Attributor} runs them,
 * {@link io.rationale.attribution.Attribution} and {@link io.rationale.attribution.AttributionSet} hold results,
 * {@link io.rationale.attribution.AttributionJson} gives the JSON shape of {@code rationale attribute --json}.
 *
 * <h2>Target</h2>
 * f is read at the last input position ({@link io.rationale.attribution.TargetSpec}): the target token's logit
 * (default; the target token defaults to the model's argmax there), its log-probability, or
 * {@code logit(token) − logit(foil)}. g_i = ∂f/∂e_i, e_i the input embedding of token i (D floats).
 *
 * <h2>Methods</h2>
 * <ul>
 *   <li>{@code saliency}: {@code ‖g_i‖₂} (inseq's reduction).</li>
 *   <li>{@code input_x_gradient}: {@code Σ_d e_{i,d}·g_{i,d}}.</li>
 *   <li>{@code integrated_gradients}: {@code Σ_d (e−b)_{i,d} · Σ_s w_s g_{i,d}(b + α_s(e−b))} with k steps
 *       (default 32). Nodes: Gauss–Legendre by default (α_s the k Legendre roots mapped to [0, 1], w_s their
 *       weights / 2, as Captum's {@code gausslegendre}), or the Riemann midpoint rule (α_s = (s+½)/k, w_s = 1/k).
 *       Baseline b: the zero embedding (default) or one token's embedding at every position. By default EVERY
 *       position is interpolated, BOS and other special tokens included (so f(b) is the model on an all-baseline
 *       input); {@link io.rationale.attribution.Options#interpolateSpecial()} false keeps special tokens at their
 *       real embedding (their score is then 0). f(b) comes from one plain forward of the baseline; the k
 *       interpolated inputs go through ONE recorded {@code forwardEmbeddings} and ONE backward (split into
 *       batches only when memory requires).
 *       <b>The zero baseline and RMSNorm.</b> Without biases f(0) = 0 exactly, yet each RMSNorm amplifies a small
 *       input by up to 1/sqrt(eps), so after a couple of layers the model is scale-invariant again and f(α·e) stays
 *       O(1) and keeps changing down to α ≈ 1e-7 and below: the path integral's mass is spread over many decades of
 *       α that no 64-node rule on [0, 1] resolves (measured at 64 steps: completeness error 14% on the generated
 *       tiny model, 10% on stories260K, not improving with 1024 steps). A token baseline (e.g. {@code <unk>} or a
 *       pad token) converges: below 0.5% at 64 steps on both. The zero baseline stays the default (as asked), and a
 *       {@code warning} extra appears when completeness_error exceeds 5%.
 *       Extras: {@code completeness_error = |Σ_i score_i − (f(e) − f(b))| / |f(e) − f(b)|} (absolute when
 *       f(e) = f(b)), {@code completeness_abs_error}, {@code f_input}, {@code f_baseline}, {@code steps},
 *       {@code rule}, {@code batches}.</li>
 *   <li>{@code attnlrp}, {@code cplrp}: {@code Σ_d e_{i,d}·g̃_{i,d}}, g̃ the modified gradient of the backend's
 *       backward with {@code RuleMode.ATTNLRP} / {@code RuleMode.CPLRP}.</li>
 *   <li>{@code pe_lrp}: PE-LRP (Bakish et al. 2025; the Faithfulness Serum's relevance): the token part
 *       {@code Σ_d e_{i,d}·g̃_{i,d}} with {@code RuleMode.PE_LRP} (AttnLRP plus the uniform rule at RoPE's products,
 *       so only half of q's and k's relevance flows on to the tokens) plus the positional part
 *       {@code Σ_layers (|Σ_d R_cos[i,d]| + |Σ_d R_sin[i,d]|)}, the relevance of each layer's cos and sin factors
 *       at token i ({@link io.rationale.engine.PositionalBackward}). Extras: {@code token_relevance},
 *       {@code positional_relevance} (per token), {@code relevance_sum}.</li>
 *   <li>{@code attention}: the last position's attention probabilities over the inputs, mean over the heads of the
 *       last layer.</li>
 *   <li>{@code attention_rollout}: per layer the head-mean A, {@code Â = 0.5·A + 0.5·I} rows renormalised,
 *       {@code J = Â_L ⋯ Â_1} (Abnar &amp; Zuidema's recursion from the first layer to the last), the last
 *       position's row of J.</li>
 *   <li>{@code occlusion}: for each word of the text under study, its tokens are deleted;
 *       {@code score = f(x) − f(x without the word)}. A variant equals the input up to the word's first token, so
 *       it runs only from there on, after a fork of the input's KV cache; all variants in one batched forward. It scores WORDS
 *       directly (no aggregation); each token carries its word's score; tokens in no word get 0; a word whose
 *       removal leaves no token scores NaN (null in JSON).</li>
 *   <li>{@code random}: seeded uniform scores in [0, 1) per token ({@link java.util.SplittableRandom}).</li>
 * </ul>
 *
 * <h2>Words</h2>
 * Words are {@link io.rationale.dataset.Words#split} of the text under study; a token belongs to each word its
 * char span overlaps (a token spanning two words counts fully in both); special tokens with empty spans and
 * tokens outside the study range belong to no word (see {@link io.rationale.attribution.AttributionInput}).
 * Word score = sum of its tokens' scores (default) or the one of largest |score| ({@code max_abs}).
 *
 * <h2>Sharing in {@code all}</h2>
 * See {@link io.rationale.attribution.Attributor}: one recorded forward of the input for every method; one
 * plain-gradient backward for saliency and input_x_gradient; attention and attention_rollout read the same
 * recorded probabilities; {@link io.rationale.attribution.AttributionSet#shared()} reports it.
 */
package io.rationale.attribution;
