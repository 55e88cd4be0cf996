package io.rationale.lora;

import io.rationale.engine.Lora;
import io.rationale.model.ModelConfig;
import io.rationale.weights.SafeTensorsFile;
import io.rationale.weights.Tensor;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter folder read for one base model: {@code adapter_config.json} ({@link PeftConfig}) and
 * {@code adapter_model.safetensors} with PEFT's key names,
 * {@code base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight} ({@code [r, in]}) and
 * {@code ...lora_B.weight} ({@code [out, r]}), for q/k/v/o and gate/up/down; f32, f16 or bf16, widened to f32.
 *
 * <p>Refused with one line naming the key: DoRA magnitude vectors ({@code lora_magnitude_vector}), embedding
 * adapters ({@code lora_embedding_A/B}, or any adapter on {@code embed_tokens}), {@code modules_to_save} copies
 * (e.g. of {@code lm_head}), any other key; a module with only one of A and B; a rank that is not the config's
 * ({@code rank_pattern}, else {@code r}); weights of a module the config does not target ({@link PeftConfig#targets}:
 * PEFT would leave them out); and a base-model mismatch: a layer the base model lacks, or A/B shapes that do not fit
 * its projections.
 */
public final class PeftAdapter {
    public static final String WEIGHTS = "adapter_model.safetensors";
    static final String PREFIX = "base_model.model.";
    private static final Pattern KEY = Pattern.compile(
            "base_model\\.model\\.(model\\.layers\\.(\\d+)\\.(self_attn\\.(?:q|k|v|o)_proj|mlp\\.(?:gate|up|down)_proj))\\.lora_([AB])\\.weight");

    /**
     * One module as the folder holds it.
     *
     * @param module the base model's module name ({@code model.layers.3.self_attn.q_proj})
     * @param alpha  its alpha ({@code alpha_pattern} or {@code lora_alpha})
     * @param scale  {@code alpha / r} (or {@code / sqrt(r)}) times the user scale
     */
    public record Module(String module, int layer, Lora.Projection projection, int rank, double alpha, double scale,
                         String dtype, float[] a, float[] b) {}

    private final Path dir;
    private final PeftConfig config;
    private final double userScale;
    private final List<Module> modules;

    private PeftAdapter(Path dir, PeftConfig config, double userScale, List<Module> modules) {
        this.dir = dir;
        this.config = config;
        this.userScale = userScale;
        this.modules = List.copyOf(modules);
    }

    /**
     * Reads the folder of {@code spec} and checks it against the base model of config {@code base} (from
     * {@code baseDir}, named in messages).
     *
     * @throws IllegalArgumentException one line naming the file and the key or field
     */
    public static PeftAdapter read(AdapterSpec spec, ModelConfig base, Path baseDir) {
        PeftConfig cfg = PeftConfig.read(spec.dir());
        Path file = spec.dir().resolve(WEIGHTS);
        if (!Files.isRegularFile(file)) {
            String other = Files.exists(spec.dir().resolve("adapter_model.bin")) ? " (adapter_model.bin, a pickle, is not read: save with safe_serialization)" : "";
            throw new IllegalArgumentException(file + ": no such file" + other);
        }
        TreeMap<String, Tensor[]> byModule = new TreeMap<>(PeftAdapter::moduleOrder);
        List<Module> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            SafeTensorsFile st = SafeTensorsFile.map(file, arena);
            for (Map.Entry<String, Tensor> e : st.tensors().entrySet()) {
                String key = e.getKey();
                Matcher m = KEY.matcher(key);
                if (!m.matches()) throw new IllegalArgumentException(file + ": " + refusal(key));
                int layer = Integer.parseInt(m.group(2));
                if (layer >= base.numLayers())
                    throw new IllegalArgumentException(file + ": " + key + " is for layer " + layer + ", the base model (" + baseDir
                            + ") has " + base.numLayers() + " layers: the adapter was trained on another base model");
                Tensor t = e.getValue();
                if (t.dtype() == null) throw new IllegalArgumentException(file + ": " + key + " has a dtype other than F32, F16 or BF16");
                if (t.shape().length != 2) throw new IllegalArgumentException(file + ": " + key + " has shape " + Arrays.toString(t.shape()) + ", expected 2 dimensions");
                Tensor[] ab = byModule.computeIfAbsent(m.group(1), k -> new Tensor[2]);
                ab[m.group(4).equals("A") ? 0 : 1] = t;
            }
            if (byModule.isEmpty()) throw new IllegalArgumentException(file + ": holds no lora_A / lora_B weights");
            for (Map.Entry<String, Tensor[]> e : byModule.entrySet()) {
                String module = e.getKey();
                Tensor a = e.getValue()[0], b = e.getValue()[1];
                if (a == null || b == null)
                    throw new IllegalArgumentException(file + ": " + PREFIX + module + ".lora_" + (a == null ? "A" : "B") + ".weight is missing (its lora_"
                            + (a == null ? "B" : "A") + " is there)");
                Matcher m = KEY.matcher(PREFIX + module + ".lora_A.weight");
                if (!m.matches()) throw new IllegalStateException(module);
                int layer = Integer.parseInt(m.group(2));
                Lora.Projection p = Lora.Projection.ofModuleName(m.group(3).substring(m.group(3).indexOf('.') + 1));
                if (!cfg.targets(module))
                    throw new IllegalArgumentException(file + ": " + a.name() + ": " + cfg.file().getFileName() + " does not target " + module + " ("
                            + cfg.targetingRule() + "): PEFT would not load these weights");
                int[] shape = p.shape(base);
                int rank = cfg.rankOf(module);
                long[] as = a.shape(), bs = b.shape();
                if (as[1] != shape[1] || bs[0] != shape[0])
                    throw new IllegalArgumentException(file + ": " + a.name() + " " + Arrays.toString(as) + " and " + b.name() + " " + Arrays.toString(bs)
                            + " do not fit the base model's " + p + " [" + shape[0] + ", " + shape[1] + "] (" + baseDir.resolve("config.json")
                            + "): the adapter was trained on another base model");
                if (as[0] != bs[1])
                    throw new IllegalArgumentException(file + ": " + a.name() + " has rank " + as[0] + ", " + b.name() + " rank " + bs[1]);
                if (as[0] != rank)
                    throw new IllegalArgumentException(file + ": " + a.name() + " has rank " + as[0] + ", " + cfg.file().getFileName()
                            + " gives " + module + " rank " + rank + (cfg.rankPattern().isEmpty() ? " (r)" : " (rank_pattern, else r)"));
                double alpha = cfg.alphaOf(module);
                out.add(new Module(module, layer, p, rank, alpha, cfg.scaleOf(module) * spec.scale(), a.dtype().name(),
                        a.toFloatArray(), b.toFloatArray()));
            }
        }
        return new PeftAdapter(spec.dir(), cfg, spec.scale(), out);
    }

    /** Why a key that is not a plain attention/MLP lora_A or lora_B weight is refused. */
    static String refusal(String key) {
        if (key.contains("lora_magnitude_vector"))
            return key + ": DoRA magnitude vectors are not supported (plain LoRA only)";
        if (key.contains("lora_embedding_A") || key.contains("lora_embedding_B") || key.contains("embed_tokens"))
            return key + ": adapters on the embeddings are not supported (only the attention and MLP projections)";
        if (key.contains("modules_to_save"))
            return key + ": modules_to_save (a full copy of a module such as the LM head) is not supported";
        if (key.contains("lm_head"))
            return key + ": adapters on the LM head are not supported (only the attention and MLP projections)";
        if (key.contains(".lora_A.") || key.contains(".lora_B."))
            return key + ": not a LoRA weight of an attention or MLP projection as PEFT names it"
                    + " (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight, q/k/v/o_proj, mlp.gate/up/down_proj)";
        return key + ": unknown key (a LoRA adapter holds only lora_A and lora_B weights)";
    }

    /** Layer by number, then the projections in layer order. */
    static int moduleOrder(String x, String y) {
        Matcher a = KEY.matcher(PREFIX + x + ".lora_A.weight"), b = KEY.matcher(PREFIX + y + ".lora_A.weight");
        if (!a.matches() || !b.matches()) return x.compareTo(y);
        int c = Integer.compare(Integer.parseInt(a.group(2)), Integer.parseInt(b.group(2)));
        if (c != 0) return c;
        return Integer.compare(projection(a.group(3)).ordinal(), projection(b.group(3)).ordinal());
    }

    private static Lora.Projection projection(String path) { return Lora.Projection.ofModuleName(path.substring(path.indexOf('.') + 1)); }

    public Path dir() { return dir; }

    public PeftConfig config() { return config; }

    public double userScale() { return userScale; }

    /** The modules, by layer then projection. */
    public List<Module> modules() { return modules; }

    /** The engine's specs of these modules (A and B arrays shared, not copied). */
    public List<Lora.Spec> specs() {
        List<Lora.Spec> out = new ArrayList<>();
        for (Module m : modules)
            out.add(new Lora.Spec(dir + ": " + m.module(), m.layer(), m.projection(), m.rank(), (float) m.scale(), m.a(), m.b()));
        return out;
    }
}
