package io.rationale.engine;

import io.rationale.model.ModelConfig;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Low-rank adapters (LoRA) beside a model's projections, kept apart from the weights (unmerged): a projection
 * {@code y = x·Wᵀ + b} with modules m becomes {@code y = x·Wᵀ + b + Σ_m scale_m·(x·A_mᵀ)·B_mᵀ}, A {@code [rank, in]}
 * and B {@code [out, rank]} row-major f32, as Hugging Face PEFT stores {@code lora_A.weight} and
 * {@code lora_B.weight}. Several modules on one projection (several adapters) add up. Attach to a model with
 * {@link Model#withLora}, or fold into its weights with {@link Model#mergeLora}.
 *
 * <p>A and B are the arrays given, not copies: a trainer updates them in place between passes (and must not do so
 * during one). Backends read them at every forward and backward pass.
 */
public final class Lora {

    /** The projections of a decoder layer an adapter may target, with their Hugging Face module paths. */
    public enum Projection {
        Q("self_attn.q_proj"), K("self_attn.k_proj"), V("self_attn.v_proj"), O("self_attn.o_proj"),
        GATE("mlp.gate_proj"), UP("mlp.up_proj"), DOWN("mlp.down_proj");

        /** The module's path inside a layer, e.g. {@code self_attn.q_proj}. */
        public final String path;

        Projection(String path) { this.path = path; }

        /** The last part of the path: {@code q_proj}, ..., {@code down_proj} (PEFT's target module names). */
        public String moduleName() { return path.substring(path.indexOf('.') + 1); }

        /** The projection of a module name ({@code q_proj}), or null. */
        public static Projection ofModuleName(String name) {
            for (Projection p : values()) if (p.moduleName().equals(name)) return p;
            return null;
        }

        /** The module names, in layer order. */
        public static List<String> moduleNames() {
            List<String> out = new ArrayList<>();
            for (Projection p : values()) out.add(p.moduleName());
            return out;
        }

        /** {@code [out, in]} of this projection in a model of config c. */
        public int[] shape(ModelConfig c) {
            return switch (this) {
                case Q -> new int[]{c.qDim(), c.hiddenSize()};
                case K, V -> new int[]{c.kvDim(), c.hiddenSize()};
                case O -> new int[]{c.hiddenSize(), c.qDim()};
                case GATE, UP -> new int[]{c.intermediateSize(), c.hiddenSize()};
                case DOWN -> new int[]{c.hiddenSize(), c.intermediateSize()};
            };
        }

        @Override
        public String toString() { return moduleName(); }
    }

    /**
     * One adapter module on one projection of one layer.
     *
     * @param index position in {@link #modules()} (the key of its gradients)
     * @param name  where it comes from, for messages ({@code adapter-dir: model.layers.3.self_attn.q_proj})
     * @param scale what the branch is multiplied by ({@code lora_alpha / r}, or {@code / sqrt(r)} with rsLoRA,
     *              times the adapter's user scale)
     * @param a     {@code [rank, in]} row-major
     * @param b     {@code [out, rank]} row-major
     */
    public record Module(int index, String name, int layer, Projection projection, int rank, int in, int out, float scale,
                         float[] a, float[] b) {
        public Module {
            if (rank < 1) throw new IllegalArgumentException(name + ": rank " + rank + " < 1");
            if (a.length != rank * in) throw new IllegalArgumentException(name + ": A holds " + a.length + " values, [" + rank + ", " + in + "] needs " + rank * in);
            if (b.length != out * rank) throw new IllegalArgumentException(name + ": B holds " + b.length + " values, [" + out + ", " + rank + "] needs " + out * rank);
            if (!Float.isFinite(scale)) throw new IllegalArgumentException(name + ": scale " + scale);
        }
    }

    /** What {@link #add} takes: one module before it gets its index. */
    public record Spec(String name, int layer, Projection projection, int rank, float scale, float[] a, float[] b) {}

    private final int numLayers;
    private final List<Module> modules;
    private final List<Map<Projection, List<Module>>> byLayer;

    private Lora(int numLayers, List<Module> modules) {
        this.numLayers = numLayers;
        this.modules = List.copyOf(modules);
        List<Map<Projection, List<Module>>> by = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) by.add(new EnumMap<>(Projection.class));
        for (Module m : modules) by.get(m.layer()).computeIfAbsent(m.projection(), p -> new ArrayList<>()).add(m);
        for (Map<Projection, List<Module>> m : by) m.replaceAll((p, l) -> List.copyOf(l));
        this.byLayer = by;
    }

    /**
     * Modules for a model of config {@code c}; each spec's A and B must have the projection's shape at the spec's
     * rank ({@link Projection#shape}).
     *
     * @throws IllegalArgumentException naming the module that does not fit
     */
    public static Lora of(ModelConfig c, List<Spec> specs) {
        List<Module> out = new ArrayList<>();
        for (Spec s : specs) {
            if (s.layer() < 0 || s.layer() >= c.numLayers())
                throw new IllegalArgumentException(s.name() + ": layer " + s.layer() + " outside the model's " + c.numLayers() + " layers");
            int[] shape = s.projection().shape(c);
            out.add(new Module(out.size(), s.name(), s.layer(), s.projection(), s.rank(), shape[1], shape[0], s.scale(), s.a(), s.b()));
        }
        return new Lora(c.numLayers(), out);
    }

    /** Every module, in the order given. */
    public List<Module> modules() { return modules; }

    /** The modules on projection p of layer l (empty when none), in the order given. */
    public List<Module> modules(int layer, Projection p) {
        List<Module> m = byLayer.get(layer).get(p);
        return m == null ? Collections.emptyList() : m;
    }

    /** Whether some module sits on projection p of layer l. */
    public boolean has(int layer, Projection p) { return byLayer.get(layer).containsKey(p); }

    public int numLayers() { return numLayers; }

    /** Trainable values: Σ rank·(in + out). */
    public long parameters() {
        long n = 0;
        for (Module m : modules) n += (long) m.rank() * (m.in() + m.out());
        return n;
    }

    /** Zeroed gradient buffers for every module ({@link Gradients}). */
    public Gradients newGradients() { return new Gradients(this); }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "LoRA: %d modules, %d parameters", modules.size(), parameters());
    }

    /** d loss / dA and d loss / dB of every module, same shapes, keyed by {@link Module#index()}. */
    public static final class Gradients {
        private final float[][] a, b;

        Gradients(Lora lora) {
            a = new float[lora.modules.size()][];
            b = new float[lora.modules.size()][];
            for (Module m : lora.modules) {
                a[m.index()] = new float[m.a().length];
                b[m.index()] = new float[m.b().length];
            }
        }

        public float[] a(Module m) { return a[m.index()]; }

        public float[] b(Module m) { return b[m.index()]; }

        public void zero() {
            for (float[] x : a) java.util.Arrays.fill(x, 0f);
            for (float[] x : b) java.util.Arrays.fill(x, 0f);
        }
    }
}
