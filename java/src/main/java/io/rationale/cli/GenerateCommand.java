package io.rationale.cli;

import io.rationale.api.GenerationResult;
import io.rationale.api.RationaleJson;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Generator;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code generate}: greedy (default) or temperature/top-p sampling with a seed. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a continuation.")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelInput input;

    @Mixin
    DeviceOption device;

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

    @Override
    public Integer call() {
        if (maxNewTokens < 0) throw new IllegalArgumentException("--max-new-tokens must be >= 0, got " + maxNewTokens);
        SamplingParams sampling = new SamplingParams(temperature, topP, seed);
        try (Model model = Model.load(input.modelDir());
             Tokenizer tok = Tokenizer.load(input.model)) {
            int[] prompt = input.ids(tok, model.config().vocabSize());
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
            long t0 = System.nanoTime();
            Generator.Result r = new Generator(backend).generate(prompt, maxNewTokens, sampling);
            double seconds = (System.nanoTime() - t0) / 1e9;
            int[] all = new int[prompt.length + r.tokens().length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(r.tokens(), 0, all, prompt.length, r.tokens().length);
            String text = tok.decode(r.tokens(), true);
            if (json) {
                System.out.println(RationaleJson.write(new GenerationResult(all, text, prompt.length, r.tokens().length,
                        r.stopReason().name().toLowerCase(), seconds, backend.device())));
            } else {
                System.out.println(text);
                System.err.printf("%d new tokens in %.2f s (%s); %s%n", r.tokens().length, seconds, r.stopReason().name().toLowerCase(),
                        opened.describe());
            }
            return 0;
            }
        }
    }
}
