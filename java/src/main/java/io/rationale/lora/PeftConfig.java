package io.rationale.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.engine.Lora;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT {@code adapter_config.json} of {@code peft_type} LORA, as far as it decides the adapter's arithmetic:
 * {@code r}, {@code lora_alpha}, {@code use_rslora}, {@code rank_pattern}, {@code alpha_pattern},
 * {@code fan_in_fan_out}, {@code target_modules}. What would change the model in ways this engine does not run is
 * refused by {@link #read} with one line naming the field: {@code use_dora} (DoRA magnitude vectors),
 * {@code modules_to_save} (full copies of modules such as the LM head), {@code bias} other than {@code none} and
 * {@code lora_bias} (trained biases), {@code trainable_token_indices} (embedding rows), {@code target_parameters},
 * {@code layer_replication}, an {@code init_lora_weights} that makes PEFT rewrite the base weights at load (PiSSA,
 * OLoRA, CorDA, LoftQ, LoRA-GA: {@link #REWRITING_INITS}), and any field this reader does not know that holds a value other than null, false, 0
 * or an empty list/map/string. Informational fields ({@code base_model_name_or_path}, {@code task_type},
 * {@code lora_dropout}, ...) are read or passed over.
 *
 * <p>Scaling of a module named {@code model.layers.N.self_attn.q_proj}: {@code r_m} = the value of the first
 * {@code rank_pattern} key that matches the name, else {@code r}; {@code alpha_m} likewise from
 * {@code alpha_pattern}, else {@code lora_alpha}; scale = {@code alpha_m / r_m}, or {@code alpha_m / sqrt(r_m)}
 * with {@code use_rslora} (rsLoRA). A key k matches a name when the regular expression {@code (.*\.)?(k)$} matches
 * the whole name, PEFT's rule ({@code get_pattern_key}), keys tried in file order.
 *
 * <p>{@code fan_in_fan_out} says the BASE layer stores its weight transposed ({@code [in, out]}, GPT-2's Conv1D);
 * lora_A and lora_B have the same shapes either way. Llama-family projections are {@code nn.Linear} ({@code [out, in]}),
 * for which PEFT itself resets the flag to false with a warning, so an adapter with it set loads exactly as without;
 * {@link #fanInFanOut()} keeps what the file says for {@code inspect}.
 *
 * <p>Which modules the config targets ({@link #targets}) is PEFT's {@code check_target_module_exists}: PEFT creates
 * LoRA layers only there and ignores (with a warning) weights of any other module, so {@link PeftAdapter#read} refuses
 * such weights rather than apply them. {@code target_modules} a list: a name equal to an entry or ending in
 * {@code .entry}, restricted to {@code layers_to_transform} (with {@code layers_pattern}) unless equal; a string: a
 * regular expression the whole name must match, except {@code all-linear} (any case), which is every projection here;
 * absent or null: {@code q_proj} and {@code v_proj}, PEFT's default for Llama-family models; {@code exclude_modules}
 * (list or regular expression) removes names first.
 */
public record PeftConfig(Path file, String peftType, String baseModel, int r, double loraAlpha, boolean useRslora,
                         boolean fanInFanOut, List<String> targetModules, String targetRegex,
                         Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, String taskType,
                         List<String> excludeModules, String excludeRegex, List<Integer> layersToTransform,
                         List<String> layersPattern) {

    /**
     * {@code init_lora_weights} values whose adapters PEFT loads by first rewriting the base weights to a residual
     * ({@code W - scale·B0·A0} from an SVD or quantisation of W: PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA), so the result is
     * not {@code W + scale·B·A}; prefixes ({@code pissa_niter_4}).
     */
    static final List<String> REWRITING_INITS = List.of("pissa", "olora", "corda", "loftq", "lora_ga");

    /** {@code init_lora_weights} names that leave the base weights alone (only the initial A and B differ). */
    static final List<String> PLAIN_INITS = List.of("gaussian", "eva", "orthogonal", "mica");

    /** PEFT's {@code target_modules} when the config gives none, for Llama-family models (llama, mistral, qwen2, gemma). */
    static final List<String> DEFAULT_TARGETS = List.of("q_proj", "v_proj");

    public static final String FILE = "adapter_config.json";

    /** Fields read here or harmless (informational, training-time only, or defaults checked below). */
    static final Set<String> KNOWN = Set.of("peft_type", "base_model_name_or_path", "revision", "task_type", "inference_mode", "r",
            "lora_alpha", "lora_dropout", "target_modules", "exclude_modules", "fan_in_fan_out", "bias", "use_rslora", "use_dora",
            "modules_to_save", "init_lora_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern",
            "megatron_config", "megatron_core", "loftq_config", "eva_config", "corda_config", "layer_replication", "runtime_config",
            "lora_bias", "auto_mapping", "peft_version", "trainable_token_indices", "target_parameters", "_name_or_path",
            "ensure_weight_tying", "use_qalora", "qalora_group_size");

    /**
     * Reads and checks {@code dir/adapter_config.json}.
     *
     * @throws IllegalArgumentException one line naming the file and the field
     */
    public static PeftConfig read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a folder (--adapter names a PEFT adapter folder)");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such file (a PEFT adapter folder holds adapter_config.json)");
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (j == null || !j.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
        String type = text(j, "peft_type");
        if (type == null) throw new IllegalArgumentException(file + ": no peft_type (expected LORA)");
        if (!type.equalsIgnoreCase("LORA")) throw new IllegalArgumentException(file + ": peft_type " + type + " is not supported (only LORA adapters)");
        if (j.path("use_dora").asBoolean(false))
            throw new IllegalArgumentException(file + ": use_dora is true: DoRA's magnitude vectors are not supported (plain LoRA only)");
        if (truthy(j.get("modules_to_save")))
            throw new IllegalArgumentException(file + ": modules_to_save " + j.get("modules_to_save") + " is not supported: the adapter carries full "
                    + "copies of those modules (e.g. the LM head), which this engine does not load");
        String bias = text(j, "bias");
        if (bias != null && !bias.equals("none"))
            throw new IllegalArgumentException(file + ": bias '" + bias + "' is not supported: the adapter trains the base model's biases (only 'none')");
        JsonNode init = j.get("init_lora_weights");
        if (init != null && init.isTextual()) {
            String v = init.asText().toLowerCase(java.util.Locale.ROOT);
            if (REWRITING_INITS.stream().anyMatch(v::startsWith))
                throw new IllegalArgumentException(file + ": init_lora_weights '" + init.asText() + "' is not supported: PEFT rewrites the base weights "
                        + "when it loads such an adapter (W - scale·B0·A0, recomputed from the base model), which this engine does not; "
                        + "convert it to a plain LoRA adapter (save_pretrained with path_initial_model_for_weight_conversion)");
            if (!PLAIN_INITS.contains(v))
                throw new IllegalArgumentException(file + ": init_lora_weights '" + init.asText() + "' is not supported (true, false, "
                        + String.join(", ", PLAIN_INITS) + ")");
        } else if (init != null && !init.isNull() && !init.isBoolean())
            throw new IllegalArgumentException(file + ": init_lora_weights must be true, false or a method name, got " + init);
        for (String f : List.of("lora_bias", "trainable_token_indices", "target_parameters", "layer_replication"))
            if (truthy(j.get(f))) throw new IllegalArgumentException(file + ": " + f + " " + j.get(f) + " is not supported");
        var names = j.fieldNames();
        while (names.hasNext()) {
            String f = names.next();
            if (!KNOWN.contains(f) && truthy(j.get(f)))
                throw new IllegalArgumentException(file + ": field '" + f + "' = " + j.get(f) + " is not supported (unknown to this reader)");
        }
        JsonNode rNode = j.get("r");
        if (rNode == null || !rNode.canConvertToInt() || rNode.asInt() < 1 || (rNode.isFloatingPointNumber() && rNode.asDouble() != rNode.asInt()))
            throw new IllegalArgumentException(file + ": r must be a positive integer, got " + rNode);
        JsonNode aNode = j.get("lora_alpha");
        double alpha = aNode == null || aNode.isNull() ? 8 : aNode.asDouble(Double.NaN);       // PEFT's default
        if (!Double.isFinite(alpha) || (aNode != null && !aNode.isNull() && !aNode.isNumber()))
            throw new IllegalArgumentException(file + ": lora_alpha must be a number, got " + aNode);
        List<String> targets = new ArrayList<>();
        String regex = null;
        JsonNode t = j.get("target_modules");
        if (t == null || t.isNull()) targets.addAll(DEFAULT_TARGETS);
        else if (t.isTextual() && t.asText().equalsIgnoreCase("all-linear")) targets.addAll(Lora.Projection.moduleNames());
        else if (t.isTextual()) regex = pattern(file, "target_modules", t.asText());
        else if (t.isArray()) for (JsonNode x : t) targets.add(textEntry(file, "target_modules", x));
        else throw new IllegalArgumentException(file + ": target_modules must be a list of names or a regular expression, got " + t);
        List<String> exclude = new ArrayList<>();
        String excludeRegex = null;
        JsonNode ex = j.get("exclude_modules");
        if (ex != null && ex.isTextual()) excludeRegex = ex.asText().isEmpty() ? null : pattern(file, "exclude_modules", ex.asText());
        else if (ex != null && ex.isArray()) for (JsonNode x : ex) exclude.add(textEntry(file, "exclude_modules", x));
        else if (ex != null && !ex.isNull())
            throw new IllegalArgumentException(file + ": exclude_modules must be a list of names or a regular expression, got " + ex);
        List<Integer> layers = null;
        JsonNode lt = j.get("layers_to_transform");
        if (lt != null && lt.isIntegralNumber()) layers = List.of(lt.asInt());
        else if (lt != null && lt.isArray()) {
            layers = new ArrayList<>();
            for (JsonNode x : lt) {
                if (!x.isIntegralNumber()) throw new IllegalArgumentException(file + ": layers_to_transform must hold layer numbers, got " + lt);
                layers.add(x.asInt());
            }
            if (layers.isEmpty()) layers = null;
            else layers = List.copyOf(layers);
        } else if (lt != null && !lt.isNull())
            throw new IllegalArgumentException(file + ": layers_to_transform must be a layer number or a list of them, got " + lt);
        List<String> layersPattern = new ArrayList<>();
        JsonNode lp = j.get("layers_pattern");
        if (lp != null && lp.isTextual()) {
            if (!lp.asText().isEmpty()) layersPattern.add(pattern(file, "layers_pattern", lp.asText()));
        } else if (lp != null && lp.isArray()) for (JsonNode x : lp) layersPattern.add(pattern(file, "layers_pattern", textEntry(file, "layers_pattern", x)));
        else if (lp != null && !lp.isNull())
            throw new IllegalArgumentException(file + ": layers_pattern must be a string or a list of strings, got " + lp);
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        JsonNode rp = j.get("rank_pattern");
        if (rp != null && !rp.isNull()) {
            if (!rp.isObject()) throw new IllegalArgumentException(file + ": rank_pattern must be an object, got " + rp);
            for (var e : rp.properties()) {
                if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 1)
                    throw new IllegalArgumentException(file + ": rank_pattern '" + e.getKey() + "' must be a positive integer, got " + e.getValue());
                checkPattern(file, "rank_pattern", e.getKey());
                rankPattern.put(e.getKey(), e.getValue().asInt());
            }
        }
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        JsonNode ap = j.get("alpha_pattern");
        if (ap != null && !ap.isNull()) {
            if (!ap.isObject()) throw new IllegalArgumentException(file + ": alpha_pattern must be an object, got " + ap);
            for (var e : ap.properties()) {
                if (!e.getValue().isNumber()) throw new IllegalArgumentException(file + ": alpha_pattern '" + e.getKey() + "' must be a number, got " + e.getValue());
                checkPattern(file, "alpha_pattern", e.getKey());
                alphaPattern.put(e.getKey(), e.getValue().asDouble());
            }
        }
        return new PeftConfig(file, type, text(j, "base_model_name_or_path"), rNode.asInt(), alpha, j.path("use_rslora").asBoolean(false),
                j.path("fan_in_fan_out").asBoolean(false), List.copyOf(targets), regex, rankPattern, alphaPattern, text(j, "task_type"),
                List.copyOf(exclude), excludeRegex, layers, List.copyOf(layersPattern));
    }

    private static String pattern(Path file, String field, String regex) {
        checkPattern(file, field, regex);
        return regex;
    }

    private static String textEntry(Path file, String field, JsonNode x) {
        if (!x.isTextual()) throw new IllegalArgumentException(file + ": " + field + " must hold module names (strings), got " + x);
        return x.asText();
    }

    /**
     * Whether PEFT, loading this config, puts a LoRA layer on the module named {@code module}
     * ({@code model.layers.N.self_attn.q_proj}): PEFT's {@code check_target_module_exists} (see the class comment).
     */
    public boolean targets(String module) {
        if (excludeRegex != null && Pattern.compile(excludeRegex).matcher(module).matches()) return false;
        for (String x : excludeModules) if (module.equals(x) || module.endsWith("." + x)) return false;
        if (targetRegex != null) return Pattern.compile(targetRegex).matcher(module).matches();
        if (targetModules.contains(module)) return true;
        boolean found = false;
        for (String x : targetModules) found |= module.endsWith("." + x);
        if (!found || layersToTransform == null) return found;
        Integer layer = null;
        if (layersPattern.isEmpty()) layer = layerIndex(ANY_LAYER.matcher(module));
        else for (String p : layersPattern) {
            layer = layerIndex(Pattern.compile(".*\\." + p + "\\.(\\d+)\\.").matcher(module));
            if (layer != null) break;
        }
        return layer != null && layersToTransform.contains(layer);
    }

    /** PEFT's layer index without {@code layers_pattern}: the number after the last {@code .name.} followed by a dot (greedy). */
    private static final Pattern ANY_LAYER = Pattern.compile(".*\\.[^.]*\\.(\\d+)\\.");

    private static Integer layerIndex(java.util.regex.Matcher m) {
        return m.lookingAt() ? Integer.valueOf(m.group(1)) : null;
    }

    /** What decides the targeted modules, for messages: target_modules, and layers_to_transform and exclude_modules when set. */
    public String targetingRule() {
        StringBuilder b = new StringBuilder("target_modules ");
        b.append(targetRegex != null ? "'" + targetRegex + "'" : targetModules.toString());
        if (layersToTransform != null) b.append(", layers_to_transform ").append(layersToTransform);
        if (excludeRegex != null) b.append(", exclude_modules '").append(excludeRegex).append("'");
        else if (!excludeModules.isEmpty()) b.append(", exclude_modules ").append(excludeModules);
        return b.toString();
    }

    private static void checkPattern(Path file, String field, String key) {
        try {
            Pattern.compile(key);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(file + ": " + field + " key '" + key + "' is not a valid regular expression");
        }
    }

    /** The value of the first pattern key matching {@code module} (PEFT's {@code (.*\.)?(key)$}), else null. */
    static <V> V match(Map<String, V> patterns, String module) {
        for (Map.Entry<String, V> e : patterns.entrySet())
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(module).matches()) return e.getValue();
        return null;
    }

    /** The rank of the module named {@code module} ({@code model.layers.N.self_attn.q_proj}). */
    public int rankOf(String module) {
        Integer v = match(rankPattern, module);
        return v != null ? v : r;
    }

    /** The alpha of the module named {@code module}. */
    public double alphaOf(String module) {
        Double v = match(alphaPattern, module);
        return v != null ? v : loraAlpha;
    }

    /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA, for that module. */
    public double scaleOf(String module) {
        int rank = rankOf(module);
        double a = alphaOf(module);
        return useRslora ? a / Math.sqrt(rank) : a / rank;
    }

    /** The scaling rule in words: {@code lora_alpha / r} or {@code lora_alpha / sqrt(r)} (rsLoRA). */
    public String scalingRule() { return useRslora ? "lora_alpha / sqrt(r) (rsLoRA)" : "lora_alpha / r"; }

    private static String text(JsonNode j, String f) {
        JsonNode n = j.get(f);
        return n == null || n.isNull() ? null : n.asText();
    }

    /** Whether a field's value does something: not null, false, 0, or an empty string, list or map. */
    static boolean truthy(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return false;
        if (n.isBoolean()) return n.asBoolean();
        if (n.isNumber()) return n.asDouble() != 0;
        if (n.isTextual()) return !n.asText().isEmpty();
        if (n.isContainerNode()) return !n.isEmpty();
        return true;
    }

    /**
     * The {@code adapter_config.json} of an adapter this engine trained, as PEFT writes one (every field PEFT's
     * LoraConfig takes; no rank or alpha patterns).
     */
    public static ObjectNode json(String baseModel, int r, double alpha, boolean rslora, List<Lora.Projection> targets) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode o = m.createObjectNode();
        o.putObject("alpha_pattern");
        o.putNull("auto_mapping");
        o.put("base_model_name_or_path", baseModel);
        o.put("bias", "none");
        o.put("fan_in_fan_out", false);
        o.put("inference_mode", true);
        o.put("init_lora_weights", true);
        o.putNull("layers_pattern");
        o.putNull("layers_to_transform");
        if (alpha == Math.rint(alpha) && Math.abs(alpha) < 1e9) o.put("lora_alpha", (long) alpha);
        else o.put("lora_alpha", alpha);
        o.put("lora_dropout", 0.0);
        o.putNull("modules_to_save");
        o.put("peft_type", "LORA");
        o.put("r", r);
        o.putObject("rank_pattern");
        o.putNull("revision");
        ArrayNode t = o.putArray("target_modules");
        for (Lora.Projection p : targets) t.add(p.moduleName());
        o.put("task_type", "CAUSAL_LM");
        o.put("use_dora", false);
        o.put("use_rslora", rslora);
        return o;
    }

    /** Pretty JSON text. */
    static String text(ObjectNode o) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
