package io.rationale.cli;

import io.rationale.engine.Model;
import io.rationale.lora.Adapters;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code --adapter DIR[:SCALE]} (repeatable) and {@code --unmerged}, shared by every command that loads a model:
 * Hugging Face PEFT LoRA folders on top of {@code --model} ({@link Adapters}).
 */
final class AdapterOption {
    @Option(names = "--adapter", paramLabel = "DIR[:SCALE]",
            description = "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) on top of --model, its branch "
                    + "times SCALE (default 1); repeat for several. Merged into the weights at load unless --unmerged.")
    List<String> adapters;

    @Option(names = "--unmerged", description = "Run the adapters beside the base weights instead of merging them (CPU backend; attributions "
            + "see the adapter's branch).")
    boolean unmerged;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    /** The adapters given; a malformed value is a usage error (exit 2). */
    Adapters parse() { return Usage.check(spec, () -> Adapters.parse(adapters, unmerged)); }

    /** The model of {@code dir} with the adapters. */
    Model load(Path dir) { return parse().load(dir); }
}
