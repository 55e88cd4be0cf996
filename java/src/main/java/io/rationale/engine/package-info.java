/**
 * The inference engine's backend-neutral API.
 *
 * <ul>
 * <li>{@link io.rationale.engine.Model}: config and weights ({@code Model.load(dir)}, {@code Model.of(config, tensors)});</li>
 * <li>{@link io.rationale.engine.Backend}: forward passes over packed batches of sequences with
 *     {@link io.rationale.engine.KvCache}s, returning {@link io.rationale.engine.Logits} for the last or all new
 *     positions; HF-style padded batches; optional {@link io.rationale.engine.Activations} for backward passes;</li>
 * <li>{@link io.rationale.engine.Generator}, {@link io.rationale.engine.SamplingParams},
 *     {@link io.rationale.engine.Sampler}: greedy and seeded temperature/top-p generation.</li>
 * </ul>
 * The CPU implementation is {@code io.rationale.cpu.CpuBackend}.
 */
package io.rationale.engine;
