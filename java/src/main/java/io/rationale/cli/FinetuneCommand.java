package io.rationale.cli;

import io.rationale.lora.FineTune;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code finetune}: LoRA fine-tuning of a label-word classifier as {@code eval} classifies ({@link FineTune}); the
 * best adapter by validation accuracy is written as a Hugging Face PEFT folder into {@code --out}; a killed run
 * continues when started again with the same command.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"LoRA fine-tuning of a label-word classifier, with eval's prompts and label words; resumable.",
                "Writes OUT/adapter_config.json and OUT/adapter_model.safetensors (the best adapter by validation accuracy, a PEFT folder: "
                        + "give it to --adapter), OUT/finetune.json and OUT/trainer_state.safetensors. Progress on stderr."})
public final class FinetuneCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @picocli.CommandLine.Mixin
    DeviceOption device;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Base model folder (config.json, safetensors, tokenizer).")
    Path model;

    @Option(names = "--dataset", required = true, paramLabel = "KIND:PATH", description = "Dataset, as eval takes it (see docs/datasets.md).")
    String dataset;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (the PEFT adapter, the record, the trainer state).")
    Path out;

    @Option(names = "--epochs", defaultValue = "3", paramLabel = "N", description = "Passes over the training split (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "Use N examples (after the seeded shuffle and the hold-out); 0 = all.")
    int limit;

    @Option(names = "--rank", defaultValue = "8", paramLabel = "R", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--alpha", defaultValue = "16", paramLabel = "A", description = "lora_alpha: scale alpha/r (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--rslora", description = "Scale alpha/sqrt(r) (rsLoRA) instead of alpha/r.")
    boolean rslora;

    @Option(names = "--targets", defaultValue = "all", paramLabel = "LIST",
            description = "Target modules: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj, or all, attention, mlp (default: ${DEFAULT-VALUE}).")
    String targets;

    @Option(names = "--lr", defaultValue = "0.002", paramLabel = "X", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the split, the initial A, the epoch orders, few-shot draws.")
    long seed;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "B", description = "Examples per optimiser step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--val-fraction", defaultValue = "0.2", paramLabel = "F", description = "Share of the examples for validation (default: ${DEFAULT-VALUE}).")
    double valFraction;

    @Option(names = "--warmup", defaultValue = "0.1", paramLabel = "F", description = "Linear warmup over this share of the steps (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--schedule", defaultValue = "cosine", paramLabel = "cosine|linear|constant", description = "Decay after warmup (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--weight-decay", defaultValue = "0", paramLabel = "X", description = "AdamW's decoupled weight decay (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--max-grad-norm", defaultValue = "1", paramLabel = "X", description = "Clip the global gradient norm to X; 0 = off (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;

    @Option(names = "--shots", defaultValue = "0", paramLabel = "N", description = "Few-shot demonstrations in each prompt, from the training split (default: ${DEFAULT-VALUE}).")
    int shots;

    @Option(names = "--hold-out", paramLabel = "KIND:PATH",
            description = "Never train or validate on examples whose text is in this dataset (repeatable; 'none' for no other). Default: for medicalbios, "
                    + "the rationale files beside the dataset. Examples with human rationales are always held out.")
    List<String> holdOut;

    @Option(names = "--eval-every", defaultValue = "0", paramLabel = "N", description = "Also validate every N steps (0: after each epoch only).")
    int evalEvery;

    @Option(names = "--save-every", defaultValue = "20", paramLabel = "N", description = "Save the trainer state every N steps (and after each epoch).")
    int saveEvery;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "CPU threads (0 = all). Results are reproducible bit for bit on the same count.")
    int threads;

    @Option(names = "--fresh", description = "Start over, discarding a saved state and adapter in --out.")
    boolean fresh;

    @Option(names = "--stop-after", defaultValue = "0", paramLabel = "STEPS", hidden = true,
            description = "Stop after saving once this many steps are done, as if killed (testing resume).")
    long stopAfter;

    @Override
    public Integer call() {
        FineTune.Config config = Usage.check(spec, () -> new FineTune.Config(model, dataset, out, epochs, limit, rank, alpha, rslora,
                FineTune.parseTargets(targets), lr, seed, batchSize, valFraction, warmup, FineTune.Schedule.parse(schedule), weightDecay,
                maxGradNorm, shots, saveEvery, evalEvery, holdOut == null ? null : holdOut.equals(List.of("none")) ? List.of() : holdOut,
                threads, stopAfter, fresh));
        FineTune.Outcome o = new FineTune(config, System.err).onDevice(device.parse()).run();
        System.out.println(o.stopped() ? "stopped at step " + o.step() + " of " + o.totalSteps() + "; state in " + out
                : String.format(java.util.Locale.ROOT, "best validation accuracy %.4f at step %d (majority class %.4f); adapter: %s",
                o.best().valAccuracy(), o.best().step(), o.majority(), out));
        return 0;
    }
}
