package io.rationale.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face config.json of a Llama-family decoder: {@code LlamaForCausalLM} (Llama 2, 3, 3.1, 3.2 with
 * {@code rope_scaling} of type {@code llama3}), {@code MistralForCausalLM}, {@code Qwen2ForCausalLM}.
 *
 * @param qkvBias      q/k/v projections carry a bias (Qwen2 always; Llama with {@code attention_bias})
 * @param oBias        o_proj carries a bias (Llama with {@code attention_bias})
 * @param mlpBias      gate/up/down carry a bias (Llama with {@code mlp_bias})
 * @param slidingWindow attention window in tokens (Mistral, Qwen2 with use_sliding_window), 0 when none
 */
public record ModelConfig(
        String architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
        int headDim, int vocabSize, float rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
        boolean tieWordEmbeddings, boolean qkvBias, boolean oBias, boolean mlpBias, int maxPositionEmbeddings,
        int slidingWindow, int bosTokenId, List<Integer> eosTokenIds) {

    public static final List<String> SUPPORTED = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    /** Llama 3.1 frequency-dependent RoPE scaling ({@code rope_type: llama3}); {@code linear} also accepted. */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {}

    public int kvDim() { return numKvHeads * headDim; }

    public int qDim() { return numHeads * headDim; }

    public static ModelConfig load(Path dir) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) throw new ConfigException(dir + ": no config.json");
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException(file + ": invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        ModelConfig c = parse(j, file.toString());
        List<Integer> extra = generationEos(dir.resolve(GENERATION_CONFIG));
        if (extra.isEmpty() || c.eosTokenIds.containsAll(extra)) return c;
        List<Integer> eos = new ArrayList<>(c.eosTokenIds);
        for (int id : extra) if (!eos.contains(id)) eos.add(id);
        return new ModelConfig(c.architecture, c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads,
                c.headDim, c.vocabSize, c.rmsNormEps, c.ropeTheta, c.ropeScaling, c.tieWordEmbeddings, c.qkvBias, c.oBias,
                c.mlpBias, c.maxPositionEmbeddings, c.slidingWindow, c.bosTokenId, List.copyOf(eos));
    }

    /** The generation defaults file beside config.json; its {@code eos_token_id} is where transformers' generate stops. */
    public static final String GENERATION_CONFIG = "generation_config.json";

    /**
     * The {@code eos_token_id} (a number or a list) of generation_config.json, empty when the file or the key is
     * absent. transformers' {@code generate} stops at these ids (Llama 3 Instruct lists {@code <|eot_id|>} there
     * while an early config.json named only {@code <|end_of_text|>}); {@link #load} adds them to config.json's.
     */
    static List<Integer> generationEos(Path file) {
        if (!Files.isRegularFile(file)) return List.of();
        JsonNode g;
        try {
            g = new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException(file + ": invalid JSON: " + String.valueOf(e.getOriginalMessage()).replace('\n', ' '));
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        if (g == null || !g.isObject()) throw new ConfigException(file + ": not a JSON object");
        JsonNode e = g.get("eos_token_id");
        List<Integer> ids = new ArrayList<>();
        if (e == null || e.isNull()) return ids;
        for (JsonNode x : e.isArray() ? e : List.of(e)) {
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.asInt() < 0)
                throw new ConfigException(file + ": \"eos_token_id\" must be a token id or a list of them, got " + e);
            ids.add(x.asInt());
        }
        return ids;
    }

    public static ModelConfig parse(JsonNode j, String where) {
        if (j == null || !j.isObject()) throw new ConfigException(where + ": not a JSON object");
        JsonNode archs = j.get("architectures");
        String arch = archs != null && archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : null;
        if (arch == null) throw new ConfigException(where + ": missing \"architectures\"");
        if (!SUPPORTED.contains(arch))
            throw new ConfigException(where + ": unsupported architecture " + arch + " (supported: " + String.join(", ", SUPPORTED) + ")");
        String act = j.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new ConfigException(where + ": unsupported hidden_act " + act + " (only silu)");

        int hidden = req(j, "hidden_size", where);
        int heads = req(j, "num_attention_heads", where);
        int kvHeads = j.has("num_key_value_heads") && !j.get("num_key_value_heads").isNull() ? j.get("num_key_value_heads").asInt() : heads;
        int headDim = j.has("head_dim") && !j.get("head_dim").isNull() ? j.get("head_dim").asInt() : hidden / Math.max(1, heads);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ConfigException(where + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        if (headDim <= 0 || headDim % 2 != 0) throw new ConfigException(where + ": head_dim " + headDim + " must be even and positive");
        if (!j.has("head_dim") && hidden % heads != 0)
            throw new ConfigException(where + ": hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);

        boolean qwen = arch.equals("Qwen2ForCausalLM");
        boolean attnBias = j.path("attention_bias").asBoolean(false);
        boolean qkvBias = qwen || attnBias;
        boolean oBias = !qwen && attnBias;
        boolean mlpBias = j.path("mlp_bias").asBoolean(false);

        int layers = req(j, "num_hidden_layers", where);
        int window = slidingWindow(j, arch, layers, where);

        List<Integer> eos = new ArrayList<>();
        JsonNode e = j.get("eos_token_id");
        if (e != null && e.isArray()) e.forEach(x -> eos.add(x.asInt()));
        else if (e != null && e.isNumber()) eos.add(e.asInt());

        return new ModelConfig(arch, hidden, req(j, "intermediate_size", where), layers,
                heads, kvHeads, headDim, req(j, "vocab_size", where), (float) j.path("rms_norm_eps").asDouble(1e-6),
                j.path("rope_theta").asDouble(10000.0), ropeScaling(j.get("rope_scaling"), where),
                j.path("tie_word_embeddings").asBoolean(false), qkvBias, oBias, mlpBias,
                j.path("max_position_embeddings").asInt(4096), window,
                j.path("bos_token_id").isNumber() ? j.get("bos_token_id").asInt() : -1, List.copyOf(eos));
    }

    private static int req(JsonNode j, String key, String where) {
        JsonNode v = j.get(key);
        if (v == null || v.isNull()) throw new ConfigException(where + ": missing \"" + key + "\"");
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) throw new ConfigException(where + ": \"" + key + "\" must be a positive integer, got " + v);
        return v.asInt();
    }

    /**
     * The attention window as transformers reads the config (0: none). Mistral: {@code sliding_window}, 4096 when the
     * key is absent ({@code MistralConfig}'s default), none when null. Qwen2: only with {@code use_sliding_window},
     * and only on the layers from {@code max_window_layers} on (default 28), or the {@code sliding_attention} ones of
     * {@code layer_types}: on all layers or none here, a window on some layers only is refused (not computed wrong).
     * Llama: none (its attention has no window, whatever the config holds).
     */
    private static int slidingWindow(JsonNode j, String arch, int layers, String where) {
        JsonNode sw = j.get("sliding_window");
        switch (arch) {
            case "MistralForCausalLM":
                if (sw == null) return 4096;
                return sw.isNull() ? 0 : positive(sw, "sliding_window", where);
            case "Qwen2ForCausalLM":
                if (!j.path("use_sliding_window").asBoolean(false) || sw == null || sw.isNull()) return 0;
                int window = positive(sw, "sliding_window", where), sliding = 0;
                JsonNode types = j.get("layer_types");
                if (types != null && types.isArray()) {
                    for (JsonNode t : types) if ("sliding_attention".equals(t.asText())) sliding++;
                } else {
                    int from = j.has("max_window_layers") && !j.get("max_window_layers").isNull() ? j.get("max_window_layers").asInt() : 28;
                    sliding = Math.max(0, layers - Math.max(0, from));
                }
                if (sliding == 0) return 0;
                if (sliding == layers) return window;
                throw new ConfigException(where + ": a sliding window on " + sliding + " of " + layers + " layers (use_sliding_window with "
                        + (types != null && types.isArray() ? "layer_types" : "max_window_layers " + j.path("max_window_layers").asText("28"))
                        + ") is not supported: only on every layer or none");
            default:
                return 0;
        }
    }

    private static int positive(JsonNode v, String key, String where) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) throw new ConfigException(where + ": \"" + key + "\" must be a positive integer, got " + v);
        return v.asInt();
    }

    /** {@code rope_scaling}: every field its type needs must be there and valid, as transformers' validation requires. */
    private static RopeScaling ropeScaling(JsonNode r, String where) {
        if (r == null || r.isNull()) return null;
        String type = r.has("rope_type") ? r.get("rope_type").asText() : r.path("type").asText("");
        return switch (type) {
            case "default" -> null;
            case "llama3" -> new RopeScaling(type, scale(r, "factor", where), scale(r, "low_freq_factor", where),
                    scale(r, "high_freq_factor", where), positive(need(r, "original_max_position_embeddings", where), "rope_scaling.original_max_position_embeddings", where));
            case "linear" -> new RopeScaling(type, scale(r, "factor", where), 0, 0, 0);
            default -> throw new ConfigException(where + ": unsupported rope_scaling type \"" + type + "\" (supported: llama3, linear)");
        };
    }

    private static JsonNode need(JsonNode r, String key, String where) {
        JsonNode v = r.get(key);
        if (v == null || v.isNull()) throw new ConfigException(where + ": rope_scaling of type " + r.path("rope_type").asText(r.path("type").asText())
                + " needs \"" + key + "\"");
        return v;
    }

    private static double scale(JsonNode r, String key, String where) {
        JsonNode v = need(r, key, where);
        if (!v.isNumber() || !(v.asDouble() > 0) || !Double.isFinite(v.asDouble()))
            throw new ConfigException(where + ": rope_scaling." + key + " must be a positive number, got " + v);
        return v.asDouble();
    }

    /** The tensors this config requires, name to HF shape, in checkpoint order. */
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new long[]{vocabSize, hiddenSize});
        for (int l = 0; l < numLayers; l++) {
            String p = "model.layers." + l + ".";
            m.put(p + "input_layernorm.weight", new long[]{hiddenSize});
            m.put(p + "self_attn.q_proj.weight", new long[]{qDim(), hiddenSize});
            m.put(p + "self_attn.k_proj.weight", new long[]{kvDim(), hiddenSize});
            m.put(p + "self_attn.v_proj.weight", new long[]{kvDim(), hiddenSize});
            if (qkvBias) {
                m.put(p + "self_attn.q_proj.bias", new long[]{qDim()});
                m.put(p + "self_attn.k_proj.bias", new long[]{kvDim()});
                m.put(p + "self_attn.v_proj.bias", new long[]{kvDim()});
            }
            m.put(p + "self_attn.o_proj.weight", new long[]{hiddenSize, qDim()});
            if (oBias) m.put(p + "self_attn.o_proj.bias", new long[]{hiddenSize});
            m.put(p + "post_attention_layernorm.weight", new long[]{hiddenSize});
            m.put(p + "mlp.gate_proj.weight", new long[]{intermediateSize, hiddenSize});
            m.put(p + "mlp.up_proj.weight", new long[]{intermediateSize, hiddenSize});
            m.put(p + "mlp.down_proj.weight", new long[]{hiddenSize, intermediateSize});
            if (mlpBias) {
                m.put(p + "mlp.gate_proj.bias", new long[]{intermediateSize});
                m.put(p + "mlp.up_proj.bias", new long[]{intermediateSize});
                m.put(p + "mlp.down_proj.bias", new long[]{hiddenSize});
            }
        }
        m.put("model.norm.weight", new long[]{hiddenSize});
        if (!tieWordEmbeddings) m.put("lm_head.weight", new long[]{vocabSize, hiddenSize});
        return m;
    }

    /**
     * Tensors a real checkpoint may carry beyond {@link #expectedTensors()} without being wrong: the RoPE buffers
     * old exports saved, and an lm_head.weight that tied checkpoints sometimes still write.
     */
    public boolean isTolerableExtra(String name) {
        return name.endsWith(".rotary_emb.inv_freq") || (tieWordEmbeddings && name.equals("lm_head.weight"));
    }

    /** The shape in benchmark results (architecture and sizes): what makes two timings comparable. */
    public Map<String, Object> shape() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", architecture());
        m.put("hidden", hiddenSize());
        m.put("intermediate", intermediateSize());
        m.put("layers", numLayers());
        m.put("heads", numHeads());
        m.put("kv_heads", numKvHeads());
        m.put("head_dim", headDim());
        m.put("vocab", vocabSize());
        m.put("tied_embeddings", tieWordEmbeddings());
        return m;
    }
}
