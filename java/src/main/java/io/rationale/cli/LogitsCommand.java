package io.rationale.cli;

import io.rationale.api.LogitsResult;
import io.rationale.api.RationaleJson;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/**
 * {@code logits}: one forward pass; prints the input ids, the last position's logits over the whole vocabulary
 * and the argmax at every position.
 */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "Run one forward pass and print logits.")
public final class LogitsCommand implements Callable<Integer> {
    @Mixin
    ModelInput input;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--json", description = "Print one JSON object: ids, logits_last, argmax_per_position, ...")
    boolean json;

    @Option(names = "--top", defaultValue = "10", description = "Top tokens shown without --json (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() {
        input.checkUsage();
        device.parse();
        adapter.parse();
        if (top < 1) throw Usage.error(input.spec, "--top must be >= 1, got " + top);
        try (Model model = adapter.load(input.modelDir());
             Tokenizer tok = Tokenizer.load(input.model)) {
            int[] ids = input.ids(tok, model.config().vocabSize());
            ModelInput.checkPositions(ids.length, model.config());
            Backends.Opened opened = device.open(model);
            try (Backend backend = opened.backend()) {
            long t0 = System.nanoTime();
            Logits logits = backend.forward(ids, null, LogitsMode.ALL);
            double seconds = (System.nanoTime() - t0) / 1e9;
            int[] argmax = new int[ids.length];
            for (int p = 0; p < ids.length; p++) argmax[p] = logits.argmax(0, p);
            float[] last = logits.last(0);
            if (json) {
                System.out.println(RationaleJson.write(new LogitsResult(ids, last, argmax, argmax[ids.length - 1], seconds, backend.device())));
            } else {
                System.out.println(Summary.logits(tok, ids, last, argmax, top));
                System.out.printf("forward of %d tokens: %.3f s; %s%n", ids.length, seconds, opened.describe());
            }
            return 0;
            }
        }
    }
}
