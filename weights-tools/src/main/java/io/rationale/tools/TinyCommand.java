package io.rationale.tools;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tiny}: writes a deterministic random model folder from a preset plus overrides. */
@Command(name = "tiny", mixinStandardHelpOptions = true,
        description = {"Write a deterministic random Llama-family model folder at a preset's shapes.",
                "It holds config.json, safetensors, tokenizer.json, tokenizer_config.json and generation_config.json; "
                        + "the same seed gives the same bytes.",
                "Presets: tiny (default), stories260k, tinyllama-1.1b, llama-3.2-1b, llama-3.1-8b, qwen2-0.5b, mistral-7b."})
public class TinyCommand implements Callable<Integer> {
    @Spec
    CommandSpec commandSpec;

    @Option(names = "--out", required = true, description = "Output folder.")
    Path out;

    @Option(names = "--preset", defaultValue = "tiny", description = "Shape preset (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--arch", description = "llama, mistral or qwen2 (or the HF class name).")
    String arch;

    @Option(names = "--hidden", description = "hidden_size.")
    Integer hidden;

    @Option(names = "--layers", description = "num_hidden_layers.")
    Integer layers;

    @Option(names = "--heads", description = "num_attention_heads.")
    Integer heads;

    @Option(names = "--kv-heads", description = "num_key_value_heads.")
    Integer kvHeads;

    @Option(names = "--head-dim", description = "head_dim (default: hidden / heads, or the preset's).")
    Integer headDim;

    @Option(names = "--intermediate", description = "intermediate_size.")
    Integer intermediate;

    @Option(names = "--vocab", description = "vocab_size (at least " + ByteLevelTokenizer.MIN_VOCAB + ").")
    Integer vocab;

    @Option(names = "--max-positions", description = "max_position_embeddings.")
    Integer maxPositions;

    @Option(names = "--dtype", description = "f32, f16 or bf16 (tiny, stories260k: f32; others: bf16).")
    String dtype;

    @Option(names = "--tied", description = "Tie lm_head to the embedding.")
    boolean tiedFlag;

    @Option(names = "--untied", description = "Write a separate lm_head.")
    boolean untiedFlag;

    @Option(names = "--rope-scaling", description = "none or llama3.")
    String ropeScaling;

    @Option(names = "--rope-factor", description = "llama3 rope_scaling factor (default 8, or the preset's).")
    Double ropeFactor;

    @Option(names = "--rope-theta", description = "rope_theta.")
    Double ropeTheta;

    @Option(names = "--rms-eps", description = "rms_norm_eps.")
    Double rmsEps;

    @Option(names = "--sliding-window", description = "sliding_window (mistral, qwen2).")
    Integer slidingWindow;

    @Option(names = "--attention-bias", description = "Llama: biases on q/k/v/o projections.")
    boolean attentionBias;

    @Option(names = "--mlp-bias", description = "Llama: biases on gate/up/down projections.")
    boolean mlpBias;

    @Option(names = "--seed", defaultValue = "0", description = "Weight seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--shard-size", defaultValue = "5GB",
            description = "Largest shard, e.g. 5GB, 500MB, 2GiB; 0 for one file (default: ${DEFAULT-VALUE}).")
    String shardSize;

    @Option(names = "--threads", description = "Generator threads (default: all processors).")
    Integer threads;

    @Option(names = "--quiet", description = "No progress output.")
    boolean quiet;

    /** The spec these options describe: the preset with every given option applied. */
    public ModelSpec spec() {
        ModelSpec s = Presets.get(preset);
        if (arch != null) {
            Arch a = Arch.parse(arch);
            if (a != s.arch) {
                s.slidingWindow = a == Arch.MISTRAL ? Integer.valueOf(4096) : a == Arch.QWEN2 ? Integer.valueOf(s.maxPositions) : null;
                s.arch = a;
            }
        }
        boolean shapeChanged = hidden != null || heads != null;
        if (hidden != null) {
            s.hidden = hidden;
        }
        if (layers != null) {
            s.layers = layers;
        }
        if (heads != null) {
            s.heads = heads;
        }
        if (kvHeads != null) {
            s.kvHeads = kvHeads;
        }
        if (headDim != null) {
            s.headDim = headDim;
        } else if (shapeChanged) {
            s.headDim = 0;
        }
        if (intermediate != null) {
            s.intermediate = intermediate;
        }
        if (vocab != null) {
            s.vocab = vocab;
        }
        if (maxPositions != null) {
            s.maxPositions = maxPositions;
        }
        if (dtype != null) {
            s.dtype = DType.parse(dtype);
        }
        if (tiedFlag && untiedFlag) {
            throw new ToolException("--tied and --untied contradict each other");
        }
        if (tiedFlag) {
            s.tied = true;
        }
        if (untiedFlag) {
            s.tied = false;
        }
        if (ropeScaling != null) {
            switch (ropeScaling.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "none" -> s.ropeScaling = null;
                case "llama3" -> {
                    if (s.ropeScaling == null) {
                        s.ropeScaling = RopeScaling.llama31();
                    }
                }
                default -> throw new ToolException("--rope-scaling must be none or llama3, got '" + ropeScaling + "'");
            }
        }
        if (ropeFactor != null) {
            if (s.ropeScaling == null) {
                throw new ToolException("--rope-factor needs llama3 rope scaling (--rope-scaling llama3)");
            }
            RopeScaling r = s.ropeScaling;
            s.ropeScaling = new RopeScaling(ropeFactor, r.lowFreqFactor(), r.highFreqFactor(), r.originalMaxPositionEmbeddings());
        }
        if (ropeTheta != null) {
            s.ropeTheta = ropeTheta;
        }
        if (rmsEps != null) {
            s.rmsNormEps = rmsEps;
        }
        if (slidingWindow != null) {
            s.slidingWindow = slidingWindow;
        }
        if (attentionBias) {
            s.attentionBias = true;
        }
        if (mlpBias) {
            s.mlpBias = true;
        }
        s.validate();
        return s;
    }

    @Override
    public Integer call() {
        // the options alone: a bad value is a usage error (exit 2), reported before anything is written
        ModelSpec s;
        long shard;
        try {
            s = spec();
            shard = ByteSize.parse(shardSize);
            if (threads != null && threads < 1) throw new ToolException("--threads must be >= 1, got " + threads);
            if (s.vocab < ByteLevelTokenizer.MIN_VOCAB)   // the tokenizer every generated model gets needs that many
                throw new ToolException("vocabulary size " + s.vocab + " is too small for the byte-level tokenizer: at least "
                        + ByteLevelTokenizer.MIN_VOCAB + " (256 bytes + special tokens) (--vocab)");
        } catch (ToolException | IllegalArgumentException e) {
            throw new ParameterException(commandSpec.commandLine(), e.getMessage(), e);
        }
        int t = threads != null ? threads : Math.max(1, Runtime.getRuntime().availableProcessors());
        if (!quiet) {
            System.out.printf(java.util.Locale.ROOT, "writing %s (%,d parameters, seed %d) to %s%n", s, s.parameterCount(), seed, out);
        }
        long t0 = System.nanoTime();
        TinyModel.write(s, seed, out, shard, t, quiet ? null : System.out::println);
        if (!quiet) {
            System.out.printf(java.util.Locale.ROOT, "done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}
