package io.rationale.tools;

/**
 * The shape and hyper-parameters of a Llama-family model, as written to config.json. A plain
 * mutable holder: presets fill one in, command-line options override fields, {@link #validate()}
 * checks the result.
 */
public final class ModelSpec {
    public Arch arch = Arch.LLAMA;
    public int hidden;
    public int layers;
    public int heads;
    public int kvHeads;
    /** Per-head dimension; 0 means hidden / heads. */
    public int headDim;
    public int intermediate;
    public int vocab;
    public int maxPositions;
    public double ropeTheta = 10000.0;
    public double rmsNormEps = 1e-5;
    /** Llama 3 rope scaling, or null for none. */
    public RopeScaling ropeScaling;
    public boolean tied;
    /** Llama only: biases on q/k/v/o projections. Qwen2 always has q/k/v biases. */
    public boolean attentionBias;
    /** Llama only: biases on gate/up/down projections. */
    public boolean mlpBias;
    /** Mistral and Qwen2: sliding_window; null writes null. */
    public Integer slidingWindow;
    public DType dtype = DType.BF16;

    /** A field-by-field copy. */
    public ModelSpec copy() {
        ModelSpec c = new ModelSpec();
        c.arch = arch;
        c.hidden = hidden;
        c.layers = layers;
        c.heads = heads;
        c.kvHeads = kvHeads;
        c.headDim = headDim;
        c.intermediate = intermediate;
        c.vocab = vocab;
        c.maxPositions = maxPositions;
        c.ropeTheta = ropeTheta;
        c.rmsNormEps = rmsNormEps;
        c.ropeScaling = ropeScaling;
        c.tied = tied;
        c.attentionBias = attentionBias;
        c.mlpBias = mlpBias;
        c.slidingWindow = slidingWindow;
        c.dtype = dtype;
        return c;
    }

    /** The per-head dimension in effect. */
    public int headDim() {
        return headDim > 0 ? headDim : (heads > 0 ? hidden / heads : 0);
    }

    /** Whether q/k/v projections carry biases. */
    public boolean qkvBias() {
        return arch == Arch.QWEN2 || (arch == Arch.LLAMA && attentionBias);
    }

    /** Whether o_proj carries a bias. */
    public boolean oBias() {
        return arch == Arch.LLAMA && attentionBias;
    }

    /** Whether gate/up/down projections carry biases. */
    public boolean mlpBiases() {
        return arch == Arch.LLAMA && mlpBias;
    }

    /** Checks every field; the message names the option to fix. */
    public void validate() {
        positive(hidden, "hidden size (--hidden)");
        positive(layers, "layer count (--layers)");
        positive(heads, "head count (--heads)");
        positive(kvHeads, "KV head count (--kv-heads)");
        positive(intermediate, "intermediate size (--intermediate)");
        positive(vocab, "vocabulary size (--vocab)");
        positive(maxPositions, "max_position_embeddings (--max-positions)");
        if (headDim < 0) {
            throw new ToolException("head dimension (--head-dim) must be positive, got " + headDim);
        }
        if (headDim == 0 && hidden % heads != 0) {
            throw new ToolException("hidden size " + hidden + " is not a multiple of the head count " + heads
                    + " (give --head-dim explicitly)");
        }
        if (headDim() % 2 != 0) {
            throw new ToolException("head dimension " + headDim() + " must be even for RoPE (--head-dim)");
        }
        if (heads % kvHeads != 0) {
            throw new ToolException("head count " + heads + " is not a multiple of the KV head count " + kvHeads
                    + " (--heads/--kv-heads)");
        }
        if (!(ropeTheta > 0)) {
            throw new ToolException("rope_theta must be positive, got " + ropeTheta + " (--rope-theta)");
        }
        if (!(rmsNormEps > 0)) {
            throw new ToolException("rms_norm_eps must be positive, got " + rmsNormEps);
        }
        if (slidingWindow != null && slidingWindow <= 0) {
            throw new ToolException("sliding window must be positive, got " + slidingWindow + " (--sliding-window)");
        }
        if (arch == Arch.LLAMA && slidingWindow != null) {
            throw new ToolException("LlamaForCausalLM has no sliding window (--sliding-window needs --arch mistral or qwen2)");
        }
        if (arch != Arch.LLAMA && (attentionBias || mlpBias)) {
            throw new ToolException("--attention-bias/--mlp-bias apply to LlamaForCausalLM only, not " + arch.className);
        }
    }

    /** Total number of parameters. */
    public long parameterCount() {
        long d = hidden;
        long hd = headDim();
        long q = heads * hd;
        long kv = kvHeads * hd;
        long perLayer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * intermediate;
        if (qkvBias()) {
            perLayer += q + 2 * kv;
        }
        if (oBias()) {
            perLayer += d;
        }
        if (mlpBiases()) {
            perLayer += 2L * intermediate + d;
        }
        long total = (long) vocab * d + layers * perLayer + d;
        if (!tied) {
            total += (long) vocab * d;
        }
        return total;
    }

    private static void positive(int v, String what) {
        if (v <= 0) {
            throw new ToolException(what + " must be positive, got " + v);
        }
    }

    @Override
    public String toString() {
        return arch.className + " hidden=" + hidden + " layers=" + layers + " heads=" + heads + " kv_heads=" + kvHeads
                + " head_dim=" + headDim() + " intermediate=" + intermediate + " vocab=" + vocab
                + " tied=" + tied + " dtype=" + dtype.torchName;
    }
}
