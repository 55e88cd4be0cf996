/**
 * The stable Java API of rationale-engine: open a model once, then compute logits, generations, attributions and
 * flip evaluations from any number of threads, with results as typed records that serialise (through
 * {@link io.rationale.api.RationaleJson}) to exactly the JSON the command line prints and the service answers.
 *
 * <ul>
 * <li>{@link io.rationale.api.Rationale}: the loaded model ({@code open(dir)}, {@code open(dir, Config)});
 *     {@code logits}, {@code generate}, {@code complete}, {@code attribute}, {@code flipEvaluation}, their
 *     {@code ...Async} forms ({@code completeAsync(spec, listener)} streams: a {@link io.rationale.api.Completion.Listener}
 *     sees each token as it is chosen), {@code tokenize}/{@code detokenize}, {@code loadDataset}; closed with
 *     try-with-resources.</li>
 * <li>Inputs: {@link io.rationale.api.Input} (text, ids or chat messages), {@link io.rationale.api.AttributionRequest}
 *     (the options of {@code rationale attribute}), {@link io.rationale.api.FlipRequest} (one example for the
 *     masking tests of {@code rationale eval}), {@link io.rationale.api.Completion.Spec}.</li>
 * <li>Results: {@link io.rationale.api.LogitsResult} ({@code logits --json}), {@link io.rationale.api.GenerationResult}
 *     ({@code generate --json}), {@link io.rationale.api.AttributionResult} ({@code attribute --json}),
 *     {@link io.rationale.eval.ExampleResult} (one line of eval's examples.jsonl), {@link io.rationale.api.Completion}.</li>
 * <li>Errors: {@link java.lang.IllegalArgumentException} (the request, null arguments included: the message names
 *     the argument), {@link io.rationale.api.BusyException} (queue full), {@link io.rationale.api.EngineException}
 *     (inside the engine; the model stays usable), {@link java.lang.IllegalStateException} (any call after
 *     {@code close()}: "the engine is shut down"; {@code open} in a JVM without
 *     {@code --add-modules=jdk.incubator.vector}).</li>
 * </ul>
 *
 * Metrics on results are the public static helpers of {@code io.rationale.metrics} ({@code Alignment.wordPrf},
 * {@code IouF1}, {@code AveragePrecision}, {@code Faithfulness}, {@code Bootstrap}, {@code TopK}); datasets load with
 * {@link io.rationale.api.Rationale#loadDataset}. An example to copy: {@code examples/ApiExample.java}.
 */
package io.rationale.api;
