/**
 * The inference engine's backend-neutral API. Data flows one way: checkpoint → {@link io.rationale.engine.Model} →
 * {@link io.rationale.engine.Backend} (opened with {@link io.rationale.engine.Backends#open} for a
 * {@link io.rationale.engine.Device}: {@code cpu}, {@code cuda}, {@code cuda:N}, {@code cuda-emu}) → forward and
 * backward passes with a {@link io.rationale.engine.RuleMode} → attribution and evaluation above.
 *
 * <ul>
 * <li>{@link io.rationale.engine.Model}: config and weights ({@code Model.load(dir)}, {@code Model.of(config, tensors)});</li>
 * <li>{@link io.rationale.engine.Backend}: forward passes over packed batches of sequences with
 *     {@link io.rationale.engine.KvCache}s, returning {@link io.rationale.engine.Logits} for the last or all new
 *     positions ({@link io.rationale.engine.ForwardOptions}: logits, an optional
 *     {@link io.rationale.engine.ForwardRecord} for a backward pass, an optional
 *     {@link io.rationale.engine.AttentionIntervention}); HF-style padded batches; backward passes over a record;
 *     batch sizes and memory budgets. A backend owns its caches and records: their layouts live in its package
 *     ({@code io.rationale.cpu}, {@code io.rationale.cuda}), never above the engine;</li>
 * <li>{@link io.rationale.engine.LrpRules}: the one place where the LRP rule decisions of every
 *     {@link io.rationale.engine.RuleMode} are made, read by every backend's backward pass;</li>
 * <li>{@link io.rationale.engine.Generator}, {@link io.rationale.engine.SamplingParams},
 *     {@link io.rationale.engine.Sampler}: greedy and seeded temperature/top-p generation (a backend may pick the
 *     tokens on its device, {@link io.rationale.engine.Backend#forwardAndSample}).</li>
 * </ul>
 * Backends are found through {@link io.rationale.engine.BackendProvider} ({@code META-INF/services}).
 */
package io.rationale.engine;
