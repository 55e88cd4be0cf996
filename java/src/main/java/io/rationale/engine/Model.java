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

    private Model(ModelConfig config, Tensor embedTokens, List<LayerWeights> layers, float[] finalNorm, Tensor lmHead,
                  AutoCloseable owner) {
        this.config = config;
        this.embedTokens = embedTokens;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.owner = owner;
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
