package io.rationale.engine;

import io.rationale.model.CheckpointValidator;
import io.rationale.model.ModelConfig;
import io.rationale.weights.Checkpoint;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import io.rationale.weights.WeightsException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama-family decoder: its config and its weights, grouped per layer. Big matrices are views into the
 * memory-mapped checkpoint (or into whatever segments {@link #of} was given), never copied; with tied embeddings
 * the LM head is the embedding matrix. Closing a loaded model unmaps the checkpoint.
 */
public final class Model implements AutoCloseable {
    private final ModelConfig config;
    private final Tensor embedTokens;
    private final List<LayerWeights> layers;
    private final float[] finalNorm;
    private final Tensor lmHead;
    private final AutoCloseable owner;
    private final Lora lora;

    private Model(ModelConfig config, Tensor embedTokens, List<LayerWeights> layers, float[] finalNorm, Tensor lmHead,
                  AutoCloseable owner) {
        this(config, embedTokens, layers, finalNorm, lmHead, owner, null);
    }

    private Model(ModelConfig config, Tensor embedTokens, List<LayerWeights> layers, float[] finalNorm, Tensor lmHead,
                  AutoCloseable owner, Lora lora) {
        this.config = config;
        this.embedTokens = embedTokens;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.owner = owner;
        this.lora = lora;
    }

    /** Reads {@code dir/config.json} and memory-maps the safetensors weights of {@code dir}. */
    public static Model load(Path dir) {
        ModelConfig config = ModelConfig.load(dir);
        Checkpoint ckpt = Checkpoint.open(dir);
        try {
            CheckpointValidator.validate(ckpt, config);   // missing, extra, mis-shaped tensors: one line naming file and tensor
            Map<String, long[]> expected = config.expectedTensors();
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : expected.keySet()) tensors.put(name, ckpt.tensor(name));
            return build(config, tensors, ckpt, dir.toString());
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /**
     * A model over tensors already in memory (tests, converted weights): {@code tensors} must hold every name of
     * {@link ModelConfig#expectedTensors()} with that shape. The model does not own the tensors' memory.
     */
    public static Model of(ModelConfig config, Map<String, Tensor> tensors) {
        return build(config, tensors, null, "in-memory model");
    }

    private static Model build(ModelConfig c, Map<String, Tensor> t, AutoCloseable owner, String where) {
        for (var e : c.expectedTensors().entrySet()) {
            Tensor x = t.get(e.getKey());
            if (x == null) throw new WeightsException(where + ": tensor " + e.getKey() + " is missing");
            if (x.dtype() == null) throw new WeightsException(where + ": tensor " + e.getKey() + " has an unsupported dtype");
            if (!Arrays.equals(x.shape(), e.getValue()))
                throw new WeightsException(where + ": tensor " + e.getKey() + " has shape " + Arrays.toString(x.shape())
                        + ", config needs " + Arrays.toString(e.getValue()));
            if (x.data().byteSize() != x.numel() * x.dtype().bytes)
                throw new WeightsException(where + ": tensor " + e.getKey() + " holds " + x.data().byteSize() + " bytes, shape and dtype need "
                        + x.numel() * x.dtype().bytes);
        }
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            layers.add(new LayerWeights(
                    floats(t, p + "input_layernorm.weight"),
                    t.get(p + "self_attn.q_proj.weight"), t.get(p + "self_attn.k_proj.weight"), t.get(p + "self_attn.v_proj.weight"),
                    c.qkvBias() ? floats(t, p + "self_attn.q_proj.bias") : null,
                    c.qkvBias() ? floats(t, p + "self_attn.k_proj.bias") : null,
                    c.qkvBias() ? floats(t, p + "self_attn.v_proj.bias") : null,
                    t.get(p + "self_attn.o_proj.weight"),
                    c.oBias() ? floats(t, p + "self_attn.o_proj.bias") : null,
                    floats(t, p + "post_attention_layernorm.weight"),
                    t.get(p + "mlp.gate_proj.weight"), t.get(p + "mlp.up_proj.weight"), t.get(p + "mlp.down_proj.weight"),
                    c.mlpBias() ? floats(t, p + "mlp.gate_proj.bias") : null,
                    c.mlpBias() ? floats(t, p + "mlp.up_proj.bias") : null,
                    c.mlpBias() ? floats(t, p + "mlp.down_proj.bias") : null));
        }
        Tensor embed = t.get("model.embed_tokens.weight");
        Tensor head = c.tieWordEmbeddings() ? embed : t.get("lm_head.weight");
        return new Model(c, embed, layers, floats(t, "model.norm.weight"), head, owner);
    }

    private static float[] floats(Map<String, Tensor> t, String name) {
        return t.get(name).toFloatArray();
    }

    public ModelConfig config() { return config; }

    /** {@code [vocab, hidden]}. */
    public Tensor embedTokens() { return embedTokens; }

    public int numLayers() { return layers.size(); }

    public LayerWeights layer(int i) { return layers.get(i); }

    public List<LayerWeights> layers() { return layers; }

    /** {@code model.norm.weight} as f32. */
    public float[] finalNorm() { return finalNorm; }

    /** {@code [vocab, hidden]}: {@code lm_head.weight}, or {@code embed_tokens} when embeddings are tied. */
    public Tensor lmHead() { return lmHead; }

    /** The dtype of the big matrices (that of the first layer's q_proj). */
    public DType weightDtype() { return layers.isEmpty() ? embedTokens.dtype() : layers.get(0).q().dtype(); }

    /** The unmerged LoRA adapter the backends run beside the projections ({@link #withLora}), or null. */
    public Lora lora() { return lora; }

    /**
     * This model's weights with {@code lora} run beside its projections, unmerged: the base weights are shared (not
     * copied), and backends that support it ({@link BackendProvider#supportsUnmergedLora}) add each module's branch
     * in the forward and backward passes, so attributions see the adapter and {@link Backend#backwardLora} gives its
     * weights' gradients. The returned model owns this one (closing it closes this). Replaces an unmerged adapter
     * this model has.
     */
    public Model withLora(Lora lora) {
        if (lora == null) throw new IllegalArgumentException("no adapter");
        if (lora.numLayers() != layers.size())
            throw new IllegalArgumentException("the adapter is for " + lora.numLayers() + " layers, the model has " + layers.size());
        return new Model(config, embedTokens, layers, finalNorm, lmHead, this, lora);
    }

    /**
     * This model with {@code lora} folded into its weights: each targeted projection becomes
     * {@code W + Σ_m scale_m·B_m·A_m}, computed in f32 (W widened, each module's {@code B·A} row summed with FMAs over
     * the rank, then {@code w + scale·delta} per module in order) and stored in W's dtype (bf16 and f16 rounded to
     * nearest even). Untargeted weights stay views of this model's. The merged matrices live in memory the returned
     * model owns; it owns this model too. Runs on every backend.
     */
    public Model mergeLora(Lora lora) {
        if (lora == null) throw new IllegalArgumentException("no adapter");
        if (lora.numLayers() != layers.size())
            throw new IllegalArgumentException("the adapter is for " + lora.numLayers() + " layers, the model has " + layers.size());
        java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
        try {
            List<LayerWeights> merged = new ArrayList<>(layers.size());
            for (int l = 0; l < layers.size(); l++) {
                LayerWeights w = layers.get(l);
                for (Lora.Projection p : Lora.Projection.values()) {
                    List<Lora.Module> mods = lora.modules(l, p);
                    if (!mods.isEmpty()) w = w.with(p, LoraMerge.merge(w.projection(p), mods, arena));
                }
                merged.add(w);
            }
            Model self = this;
            AutoCloseable both = () -> {
                try {
                    arena.close();
                } finally {
                    self.close();
                }
            };
            return new Model(config, embedTokens, merged, finalNorm, lmHead, both, this.lora);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public void close() {
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
