package io.rationale.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Writes a deterministic random Llama-family model folder: config.json, generation_config.json,
 * safetensors weights (one file or shards plus an index), tokenizer.json, tokenizer_config.json
 * and special_tokens_map.json.
 *
 * <p>Weights depend only on the seed and the tensor names (see {@link RandomTensors}), with scales
 * that keep a forward pass numerically sane: projection matrices have standard deviation
 * 1/sqrt(fan_in), norm weights 1 ± a little (std 0.05), biases std 0.02, the embedding std 1
 * when untied and 1/sqrt(hidden) when tied (it is then also the output layer), lm_head std
 * 1/sqrt(hidden).
 */
public final class TinyModel {
    /** Default maximum shard size: 5 GB, as Hugging Face's save_pretrained. */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    private TinyModel() {
    }

    /** The tensors of {@code spec} in Hugging Face state-dict order, with their random values. */
    public static List<TensorEntry> tensors(ModelSpec spec, long seed) {
        spec.validate();
        DType dt = spec.dtype;
        int d = spec.hidden;
        int hd = spec.headDim();
        int q = spec.heads * hd;
        int kv = spec.kvHeads * hd;
        int in = spec.intermediate;
        List<TensorEntry> out = new ArrayList<>();
        float embStd = spec.tied ? (float) (1.0 / Math.sqrt(d)) : 1.0f;
        out.add(matrix(seed, "model.embed_tokens.weight", dt, spec.vocab, d, embStd));
        for (int i = 0; i < spec.layers; i++) {
            String p = "model.layers." + i + ".";
            out.add(linear(seed, p + "self_attn.q_proj", dt, q, d));
            if (spec.qkvBias()) {
                out.add(bias(seed, p + "self_attn.q_proj.bias", dt, q));
            }
            out.add(linear(seed, p + "self_attn.k_proj", dt, kv, d));
            if (spec.qkvBias()) {
                out.add(bias(seed, p + "self_attn.k_proj.bias", dt, kv));
            }
            out.add(linear(seed, p + "self_attn.v_proj", dt, kv, d));
            if (spec.qkvBias()) {
                out.add(bias(seed, p + "self_attn.v_proj.bias", dt, kv));
            }
            out.add(linear(seed, p + "self_attn.o_proj", dt, d, q));
            if (spec.oBias()) {
                out.add(bias(seed, p + "self_attn.o_proj.bias", dt, d));
            }
            out.add(linear(seed, p + "mlp.gate_proj", dt, in, d));
            if (spec.mlpBiases()) {
                out.add(bias(seed, p + "mlp.gate_proj.bias", dt, in));
            }
            out.add(linear(seed, p + "mlp.up_proj", dt, in, d));
            if (spec.mlpBiases()) {
                out.add(bias(seed, p + "mlp.up_proj.bias", dt, in));
            }
            out.add(linear(seed, p + "mlp.down_proj", dt, d, in));
            if (spec.mlpBiases()) {
                out.add(bias(seed, p + "mlp.down_proj.bias", dt, d));
            }
            out.add(norm(seed, p + "input_layernorm.weight", dt, d));
            out.add(norm(seed, p + "post_attention_layernorm.weight", dt, d));
        }
        out.add(norm(seed, "model.norm.weight", dt, d));
        if (!spec.tied) {
            out.add(matrix(seed, "lm_head.weight", dt, spec.vocab, d, (float) (1.0 / Math.sqrt(d))));
        }
        return out;
    }

    /**
     * Writes the model folder.
     *
     * @param spec          model shape (validated here)
     * @param seed          weight seed
     * @param outDir        output folder (created if needed)
     * @param maxShardBytes shard limit; 0 or less writes a single file
     * @param threads       generator threads
     * @param progress      progress lines for big models, or null
     */
    public static void write(ModelSpec spec, long seed, Path outDir, long maxShardBytes, int threads,
            Consumer<String> progress) {
        spec.validate();
        ByteLevelTokenizer tok = ByteLevelTokenizer.build(spec.vocab);
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new ToolException("cannot create output folder " + outDir + ": " + e.getMessage(), e);
        }
        Json.write(outDir.resolve("config.json"), HfConfig.config(spec, tok.bosId(), tok.eosId()));
        Json.write(outDir.resolve("generation_config.json"), HfConfig.generationConfig(spec, tok.bosId(), tok.eosId()));
        tok.writeTo(outDir, spec.maxPositions);
        List<TensorEntry> tensors = tensors(spec, seed);
        new SafeTensorsWriter()
                .threads(threads)
                .progress(progress)
                .sortByName(true)
                .writeModel(outDir, tensors, maxShardBytes);
    }

    private static TensorEntry linear(long seed, String prefix, DType dt, int out, int in) {
        return matrix(seed, prefix + ".weight", dt, out, in, (float) (1.0 / Math.sqrt(in)));
    }

    private static TensorEntry matrix(long seed, String name, DType dt, int rows, int cols, float std) {
        return TensorEntry.of(name, dt, RandomTensors.uniform(seed, name, 0f, std), rows, cols);
    }

    private static TensorEntry norm(long seed, String name, DType dt, int n) {
        return TensorEntry.of(name, dt, RandomTensors.uniform(seed, name, 1f, 0.05f), n);
    }

    private static TensorEntry bias(long seed, String name, DType dt, int n) {
        return TensorEntry.of(name, dt, RandomTensors.uniform(seed, name, 0f, 0.02f), n);
    }
}
