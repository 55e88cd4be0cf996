package io.rationale.lora;

import io.rationale.engine.Lora;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashMap;

/**
 * The adapters a command loads on top of its base model ({@code --adapter DIR[:SCALE]}, repeatable;
 * {@code --unmerged}): merged into the weights at load by default ({@link Model#mergeLora}: runs on every backend),
 * or run beside them ({@link Model#withLora}: the base weights stay shared and the CPU backend's attribution sees the
 * adapter's branch; other backends refuse such a model). Several adapters add up, each with its own scale.
 *
 * @param specs    the adapters, in order
 * @param unmerged run them unmerged
 */
public record Adapters(List<AdapterSpec> specs, boolean unmerged) {
    public static final Adapters NONE = new Adapters(List.of(), false);

    public Adapters {
        specs = specs == null ? List.of() : List.copyOf(specs);
    }

    /** From the command line's values (null: none). */
    public static Adapters parse(List<String> values, boolean unmerged) {
        List<AdapterSpec> out = new ArrayList<>();
        if (values != null) for (String v : values) out.add(AdapterSpec.parse(v));
        if (unmerged && out.isEmpty()) throw new IllegalArgumentException("--unmerged needs --adapter");
        return new Adapters(out, unmerged);
    }

    public boolean isEmpty() { return specs.isEmpty(); }

    /** Reads every adapter for the base model of config {@code c} in {@code baseDir}. */
    public List<PeftAdapter> read(ModelConfig c, Path baseDir) {
        List<PeftAdapter> out = new ArrayList<>();
        for (AdapterSpec s : specs) out.add(PeftAdapter.read(s, c, baseDir));
        return out;
    }

    /** The engine's adapter of all of them, for config c (null when there are none). */
    public Lora lora(ModelConfig c, Path baseDir) {
        if (isEmpty()) return null;
        List<Lora.Spec> all = new ArrayList<>();
        for (PeftAdapter a : read(c, baseDir)) all.addAll(a.specs());
        return Lora.of(c, all);
    }

    /** Loads the base model of {@code dir} with these adapters, merged or not. */
    public Model load(Path dir) {
        Model base = Model.load(dir);
        if (isEmpty()) return base;
        try {
            Lora lora = lora(base.config(), dir);
            return unmerged ? base.withLora(lora) : base.mergeLora(lora);
        } catch (RuntimeException | Error e) {
            base.close();
            throw e;
        }
    }

    /** What run records keep: each adapter's absolute folder and scale, and how they run; null when none. */
    public Map<String, Object> describe() {
        if (isEmpty()) return null;
        Map<String, Object> m = new LinkedHashMap<>();
        List<Map<String, Object>> list = new ArrayList<>();
        for (AdapterSpec s : specs) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("dir", s.dir().toAbsolutePath().normalize().toString());
            a.put("scale", s.scale());
            list.add(a);
        }
        m.put("adapters", list);
        m.put("mode", unmerged ? "unmerged" : "merged");
        return m;
    }

    /** One line: {@code adapter DIR (merged)}, several joined. */
    public String line() {
        if (isEmpty()) return "no adapter";
        List<String> parts = new ArrayList<>();
        for (AdapterSpec s : specs) parts.add(s.toString());
        return "adapter" + (specs.size() > 1 ? "s " : " ") + String.join(", ", parts) + (unmerged ? " (unmerged)" : " (merged)");
    }
}
