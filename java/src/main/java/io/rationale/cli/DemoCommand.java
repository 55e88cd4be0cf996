package io.rationale.cli;

import io.rationale.engine.Backend;
import io.rationale.engine.Generator;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * The engine smoke test on an embedded model: writes the deterministic {@code tiny} random model (weights-tools preset,
 * seed 0) to a temporary folder, prints its logits summary for a prompt and a greedy continuation.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Generate the tiny random model and print a logits summary and a greedy continuation (an engine smoke test; the default job is eval --builtin).")
public final class DemoCommand implements Callable<Integer> {
    @Mixin
    DeviceOption device;

    @Option(names = "--text", defaultValue = "The engine explains why it answered", description = "Prompt (default: ${DEFAULT-VALUE}).")
    String text;

    @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Override
    public Integer call() throws IOException {
        device.parse();
        if (maxNewTokens < 0) throw Usage.error(device.spec, "--max-new-tokens must be >= 0, got " + maxNewTokens);
        if (text.isEmpty()) throw Usage.error(device.spec, "--text is empty");
        Path dir = Files.createTempDirectory("rationale-tiny-");
        try {
            TinyModel.write(Presets.get("tiny"), 0, dir, 0, 1, s -> {});
            System.out.println("model: weights-tools tiny preset, seed 0 (random weights) at " + dir);
            try (Model model = Model.load(dir); Tokenizer tok = Tokenizer.load(dir); Backend backend = device.open(model).backend()) {
                System.out.println("device: " + backend.device());
                int[] ids = tok.encode(text).ids();
                Logits logits = backend.forward(ids, null, LogitsMode.ALL);
                int[] argmax = new int[ids.length];
                for (int p = 0; p < ids.length; p++) argmax[p] = logits.argmax(0, p);
                System.out.println("prompt: " + Summary.quote(text));
                System.out.println(Summary.logits(tok, ids, logits.last(0), argmax, 5));
                Generator.Result r = new Generator(backend).generate(ids, maxNewTokens, SamplingParams.greedy());
                System.out.println("greedy continuation (" + r.tokens().length + " tokens): " + Summary.quote(tok.decode(r.tokens(), false)));
            }
            return 0;
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
