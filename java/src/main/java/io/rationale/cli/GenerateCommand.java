package io.rationale.cli;

import io.rationale.attribution.Method;
import io.rationale.engine.AttentionIntervention;
import io.rationale.api.GenerationResult;
import io.rationale.api.RationaleJson;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Generator;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.serum.LayerChoice;
import io.rationale.serum.Normalization;
import io.rationale.serum.Operator;
import io.rationale.serum.RelevanceFile;
import io.rationale.serum.Rows;
import io.rationale.serum.SpanRelevance;
import io.rationale.serum.Steering;
import io.rationale.serum.SerumBackends;
import io.rationale.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code generate}: greedy (default) or temperature/top-p sampling with a seed; optionally steered (the Faithfulness
 * Serum's operator, {@link Steering}): α times the normalised relevance of a span of the prompt added to the attention
 * of every head at the given layers, in every forward (prefill and each decoded token). The relevance comes from an
 * attribution method on the prompt (its next-token decision) or from a file.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a continuation.")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelInput input;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default); > 0 samples.")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus mass for sampling (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object: ids (prompt + generated), text (generated), ...")
    boolean json;

    @Option(names = "--stream", description = "Print the text as the tokens come (the default when stdout is a terminal).")
    boolean stream;

    @Option(names = "--steer-alpha", paramLabel = "A", description = "Steer: strength α >= 0 (0: plain generation, token for token).")
    Double steerAlpha;

    @Option(names = "--steer-layers", paramLabel = "L", description = "Steer: 0-based layers, comma-separated (or window:START:COUNT).")
    String steerLayers;

    @Option(names = "--steer-span", paramLabel = "START:END", description = "Steer: prompt token positions of the span (0-based, END exclusive, BOS counted).")
    String steerSpan;

    @Option(names = "--steer-method", paramLabel = "M", description = "Steer: attribution method for the relevance (default: pe_lrp).")
    String steerMethod;

    @Option(names = "--steer-relevance", paramLabel = "FILE", description = "Steer: relevance values, one per span token (JSON array or numbers separated by commas or whitespace).")
    Path steerRelevance;

    @Option(names = "--steer-norm", defaultValue = "max_abs", paramLabel = "N", description = "Steer: normalisation max_abs (default), l1, min_max or none.")
    String steerNorm;

    @Option(names = "--steer-operator", defaultValue = "post", paramLabel = "OP", description = "Steer: post (default, no renormalisation), post-renorm or pre.")
    String steerOperator;

    @Option(names = "--steer-rows", defaultValue = "all", paramLabel = "R", description = "Steer: all (default, the authors' rows) or causal (only rows after the span).")
    String steerRows;

    @Override
    public Integer call() {
        input.checkUsage();
        device.parse();
        adapter.parse();
        if (maxNewTokens < 0) throw Usage.error(input.spec, "--max-new-tokens must be >= 0, got " + maxNewTokens);
        SamplingParams sampling = Usage.check(input.spec, () -> new SamplingParams(temperature, topP, seed));
        if (stream && json) throw Usage.error(input.spec, "--stream prints text as it comes and --json one object at the end: give one of them");
        // the steering options on their own (usage, exit 2); the layers and span against the model and prompt below (exit 1)
        boolean steer = steerAlpha != null || steerLayers != null || steerSpan != null || steerMethod != null || steerRelevance != null;
        if (steer && (steerAlpha == null || steerLayers == null || steerSpan == null))
            throw Usage.error(input.spec, "steering needs --steer-alpha, --steer-layers and --steer-span together");
        if (steerMethod != null && steerRelevance != null) throw Usage.error(input.spec, "give --steer-method or --steer-relevance, not both");
        if (steer && (!Double.isFinite(steerAlpha) || steerAlpha < 0))
            throw Usage.error(input.spec, "--steer-alpha must be a finite number >= 0, got " + steerAlpha);
        Operator operator = Usage.check(input.spec, () -> Usage.named("--steer-operator", () -> Operator.parse(steerOperator)));
        Rows rows = Usage.check(input.spec, () -> Usage.named("--steer-rows", () -> Rows.parse(steerRows)));
        Normalization norm = Usage.check(input.spec, () -> Usage.named("--steer-norm", () -> Normalization.parse(steerNorm)));
        int[] span = steer ? Usage.check(input.spec, () -> Steering.parseSpan(steerSpan)) : null;
        LayerChoice layerChoice = steer ? Usage.check(input.spec, () -> Usage.named("--steer-layers", () -> LayerChoice.parse(steerLayers))) : null;
        if (layerChoice instanceof LayerChoice.LogitLens)
            throw Usage.error(input.spec, "--steer-layers: the logit-lens rule needs an answer letter (the serum command); give layers");
        Method method = !steer || steerRelevance != null ? null : Usage.check(input.spec, () -> {
            List<Method> m = Usage.named("--steer-method", () -> Method.parse(steerMethod == null ? Method.PE_LRP.cliName() : steerMethod));
            if (m.size() != 1) throw new IllegalArgumentException("--steer-method takes one method, not all");
            return m.get(0);
        });
        boolean streaming = stream || (!json && System.console() != null && System.console().isTerminal());
        try (Model model = adapter.load(input.modelDir());
             Tokenizer tok = Tokenizer.load(input.model)) {
            int[] prompt = input.ids(tok, model.config().vocabSize());
            ModelInput.checkPositions(prompt.length, model.config());
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
            Steering steering = null;
            SpanRelevance relevance = null;
            double relevanceSeconds = 0;
            if (steer) {
                int[] layers = layerChoice.fixedLayers(model.config().numLayers(), "--steer-layers");
                if (span[1] > prompt.length)
                    throw new IllegalArgumentException("--steer-span " + steerSpan + " ends after the prompt's " + prompt.length + " tokens");
                long r0 = System.nanoTime();
                if (steerRelevance != null) {
                    double[] values = RelevanceFile.read(steerRelevance, span[1] - span[0], steerSpan);
                    relevance = SpanRelevance.of(null, norm, 0, values.length, -1, values);
                } else {
                    try (SerumBackends.Lease lease = SerumBackends.forMethod(backend, method)) {
                        relevance = SpanRelevance.compute(lease.backend(), SpanRelevance.input(prompt, null, tok), span[0], span[1], method, norm, seed);
                    }
                }
                relevanceSeconds = (System.nanoTime() - r0) / 1e9;
                steering = new Steering(steerAlpha, layers, span[0], span[1], relevance.weights(), operator, rows);
                steering.check(model.config().numLayers(), prompt.length);
            }
            AttentionIntervention iv = steering == null ? null : steering.intervention();
            long t0 = System.nanoTime();
            TextStream printer = streaming ? new TextStream(tok, prompt, System.out) : null;
            Generator.Result r = new Generator(backend).generateBatch(List.of(prompt), List.of(backend.newCache()), maxNewTokens, sampling,
                    Set.copyOf(model.config().eosTokenIds()), iv, printer).get(0);
            r.cache().close();
            double seconds = (System.nanoTime() - t0) / 1e9;
            int[] all = new int[prompt.length + r.tokens().length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(r.tokens(), 0, all, prompt.length, r.tokens().length);
            String text = tok.decodeAfter(prompt, r.tokens());
            if (json) {
                GenerationResult.Steer st = null;
                if (steering != null)
                    st = new GenerationResult.Steer(steering.alpha(), steering.layers(), new int[]{steering.spanStart(), steering.spanEnd()},
                            steering.operator().cliName(), steering.rows().cliName(), norm.cliName(),
                            steerRelevance == null ? null : steerRelevance.toAbsolutePath().toString(),
                            steerRelevance == null ? relevance.method().cliName() : null,
                            steerRelevance == null ? relevance.targetId() : null,
                            steerRelevance == null ? relevance.raw() : null, relevanceSeconds);
                System.out.println(RationaleJson.write(new GenerationResult(all, text, prompt.length, r.tokens().length,
                        r.stopReason().name().toLowerCase(), seconds, backend.device(), st, steering == null ? null : relevance.weights())));
            } else {
                if (printer != null) printer.finish(text);
                else System.out.println(text);
                String why = r.stopReason() == Generator.StopReason.MAX_POSITIONS
                        ? "stopped: the model's " + model.config().maxPositionEmbeddings() + " positions are full"
                        : r.stopReason().name().toLowerCase();
                System.err.printf("%d new tokens in %.2f s (%s); %s%n", r.tokens().length, seconds, why, opened.describe());
            }
            return 0;
            }
        }
    }
}
