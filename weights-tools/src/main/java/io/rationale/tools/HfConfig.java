package io.rationale.tools;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Builds Hugging Face config.json and generation_config.json contents from a {@link ModelSpec}. */
public final class HfConfig {
    private HfConfig() {
    }

    /** config.json for {@code spec}, with the given special token ids, keys in transformers' order. */
    public static ObjectNode config(ModelSpec spec, int bosId, int eosId) {
        ObjectNode c = Json.object();
        c.putArray("architectures").add(spec.arch.className);
        c.put("model_type", spec.arch.modelType);
        if (spec.arch == Arch.LLAMA) {
            c.put("attention_bias", spec.attentionBias);
        }
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", bosId);
        c.put("eos_token_id", eosId);
        c.putNull("pad_token_id");
        c.put("hidden_act", "silu");
        c.put("hidden_size", spec.hidden);
        c.put("intermediate_size", spec.intermediate);
        c.put("initializer_range", 0.02);
        c.put("max_position_embeddings", spec.maxPositions);
        if (spec.arch == Arch.LLAMA) {
            c.put("mlp_bias", spec.mlpBias);
        }
        c.put("num_attention_heads", spec.heads);
        c.put("num_hidden_layers", spec.layers);
        c.put("num_key_value_heads", spec.kvHeads);
        c.put("head_dim", spec.headDim());
        if (spec.arch == Arch.LLAMA) {
            c.put("pretraining_tp", 1);
        }
        c.put("rms_norm_eps", spec.rmsNormEps);
        if (spec.ropeScaling == null) {
            c.putNull("rope_scaling");
        } else {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("factor", spec.ropeScaling.factor());
            r.put("high_freq_factor", spec.ropeScaling.highFreqFactor());
            r.put("low_freq_factor", spec.ropeScaling.lowFreqFactor());
            r.put("original_max_position_embeddings", spec.ropeScaling.originalMaxPositionEmbeddings());
            r.put("rope_type", "llama3");
        }
        c.put("rope_theta", spec.ropeTheta);
        if (spec.arch == Arch.MISTRAL) {
            putWindow(c, spec);
        }
        if (spec.arch == Arch.QWEN2) {
            c.put("use_sliding_window", false);
            putWindow(c, spec);
            c.put("max_window_layers", spec.layers);
        }
        c.put("tie_word_embeddings", spec.tied);
        c.put("torch_dtype", spec.dtype.torchName);
        c.put("use_cache", true);
        c.put("vocab_size", spec.vocab);
        return c;
    }

    /** generation_config.json: greedy decoding up to max_position_embeddings. */
    public static ObjectNode generationConfig(ModelSpec spec, int bosId, int eosId) {
        ObjectNode g = Json.object();
        g.put("bos_token_id", bosId);
        g.put("eos_token_id", eosId);
        g.put("do_sample", false);
        g.put("max_length", spec.maxPositions);
        return g;
    }

    private static void putWindow(ObjectNode c, ModelSpec spec) {
        if (spec.slidingWindow == null) {
            c.putNull("sliding_window");
        } else {
            c.put("sliding_window", spec.slidingWindow.intValue());
        }
    }
}
