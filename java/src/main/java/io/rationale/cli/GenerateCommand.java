package io.rationale.cli;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Generator;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;
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

    @Option(names = "--stream", description = "Print the text as the tokens come (the default when stdout is a terminal).")
    boolean stream;

    @Override
    public Integer call() {
        input.checkUsage();
        device.parse();
        if (maxNewTokens < 0) throw Usage.error(input.spec, "--max-new-tokens must be >= 0, got " + maxNewTokens);
        SamplingParams sampling = Usage.check(input.spec, () -> new SamplingParams(temperature, topP, seed));
        if (stream && json) throw Usage.error(input.spec, "--stream prints text as it comes and --json one object at the end: give one of them");
        boolean streaming = stream || (!json && System.console() != null && System.console().isTerminal());
        try (Model model = Model.load(input.modelDir());
             Tokenizer tok = Tokenizer.load(input.model)) {
            int[] prompt = input.ids(tok, model.config().vocabSize());
            ModelInput.checkPositions(prompt.length, model.config());
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
            long t0 = System.nanoTime();
            TextStream printer = streaming ? new TextStream(tok, System.out) : null;
            Generator.Result r = new Generator(backend).generate(prompt, maxNewTokens, sampling,
                    java.util.Set.copyOf(model.config().eosTokenIds()), printer);
            double seconds = (System.nanoTime() - t0) / 1e9;
            int[] all = new int[prompt.length + r.tokens().length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(r.tokens(), 0, all, prompt.length, r.tokens().length);
            String text = tok.decode(r.tokens(), true);
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("ids", all);
                out.put("text", text);
                out.put("prompt_tokens", prompt.length);
                out.put("new_tokens", r.tokens().length);
                out.put("stop_reason", r.stopReason().name().toLowerCase());
                out.put("seconds", seconds);
                out.put("device", backend.device());
                System.out.println(Json.write(out));
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
