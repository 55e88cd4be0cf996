package io.rationale.bench;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.tensor.operations.TensorOperationsProvider;
import com.github.tjake.jlama.util.MachineSpec;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;

/**
 * Jlama 0.8.4 (the peer) on a safetensors folder, driven the way its own {@code generate} drives it: prefill is
 * {@code batchForward} of the prompt then {@code sample} (final norm, LM head, argmax at temperature 0) of the last
 * row; decode is {@code forward(token, pos)} then {@code sample}.
 *
 * <h2>Settings ({@link Variant})</h2>
 * Jlama takes a working memory type (activations, KV cache, and for F32 also the embedding table and the LM head,
 * which it widens to that type at load) and a "working quantization type" into which the input of each matrix
 * multiplication is converted. For a bf16 checkpoint, {@code AbstractModel}'s constructor overrides any requested
 * working quantization type with BF16 unless a model quantization type is given ("hack to support Avoid Q8BF16
 * evals"), so:
 * <ul>
 *   <li>{@link Variant#DEFAULT} ({@code loadModel(dir, F32, I8)}, Jlama's documented settings): working F32, and the
 *       override makes the matmul inputs BF16: activations are ROUNDED to bf16 before every projection and the
 *       product is bf16×bf16 with f32 accumulation ({@code GemmerBF16}). Different arithmetic from rationale.</li>
 *   <li>{@link Variant#F32} ({@code loadModel(dir, null, F32, F32, Optional.of(BF16), threads)}): naming the model
 *       quantization type BF16 (the weights' own type: nothing is requantized) skips the override, so activations
 *       stay f32 and the product is f32×bf16 with f32 accumulation ({@code GemmerF32BF16}): the same arithmetic as
 *       rationale. The fairest comparison.</li>
 * </ul>
 * The settings actually in effect are read back from the model ({@link #settings()}).
 *
 * <h2>Threads</h2>
 * Jlama runs its kernels on {@code PhysicalCoreExecutor}, a ForkJoinPool of {@code max(2, processors / 2)} threads
 * by default (it assumes 2 hyperthreads per core). {@link #load} sets it to the same thread count as the rationale
 * engine ({@code PhysicalCoreExecutor.overrideThreadCount}, which must happen before Jlama's first kernel in the JVM).
 */
public final class JlamaPeer implements AutoCloseable {

    /** Which Jlama settings. */
    public enum Variant {
        /** {@code loadModel(dir, F32, I8)}: activations rounded to bf16 before each matmul (forced for bf16 models). */
        DEFAULT,
        /** Working F32, quantization F32, model quantization BF16 (= the checkpoint's): f32 activations × bf16 weights. */
        F32;

        /** The benchmark parameter value. */
        public String paramName() { return this == DEFAULT ? "jlama" : "jlama-f32"; }

        public static Variant ofParam(String s) {
            for (Variant v : values()) if (v.paramName().equals(s)) return v;
            throw new IllegalArgumentException("unknown Jlama variant " + s);
        }
    }

    /** The Jlama version this module is built with (the pom's {@code jlama.version}). */
    public static final String VERSION = version();

    private final AbstractModel model;
    private final Variant variant;
    private final KvBufferCache kvCache;
    private final KvBufferCache.KvBuffer kv;
    private final AbstractTensor logits;

    private JlamaPeer(AbstractModel model, Variant variant) {
        this.model = model;
        this.variant = variant;
        this.kvCache = new KvBufferCache(model);
        this.kv = kvCache.getKvBuffer(UUID.randomUUID());
        this.logits = model.makeDenseTensor(model.getConfig().vocabularySize);   // as Jlama's generate allocates it
    }

    /** Loads the folder with the variant's settings, Jlama's kernels on {@code threads} threads. */
    public static JlamaPeer load(Path dir, Variant variant, int threads) {
        setThreads(threads);
        AbstractModel m = switch (variant) {
            case DEFAULT -> ModelSupport.loadModel(dir.toFile(), DType.F32, DType.I8);
            case F32 -> ModelSupport.loadModel(dir.toFile(), null, DType.F32, DType.F32, Optional.of(DType.BF16), Optional.empty());
        };
        return new JlamaPeer(m, variant);
    }

    /** Sets Jlama's kernel pool size; when the pool already runs (a second model in one JVM) it must already match. */
    static void setThreads(int threads) {
        try {
            PhysicalCoreExecutor.overrideThreadCount(threads);
        } catch (IllegalStateException started) {
            int now = PhysicalCoreExecutor.instance.get().getCoreCount();
            if (now != threads)
                throw new IllegalStateException("Jlama's thread pool already runs with " + now + " threads, not " + threads
                        + " (run each benchmark in its own fork)");
        }
    }

    /**
     * Prefill from position 0: batchForward of the prompt, then final norm + LM head + argmax of the last row
     * (Jlama's {@code generate}). The KV buffer is reused: positions are written from 0 each time.
     *
     * @return the argmax token after the prompt
     */
    public int prefill(int[] tokens) {
        AbstractTensor out = model.batchForward(tokens, 0, kv);
        try {
            return model.sample(out.slice(out.shape().first() - 1), 0f, 0f, logits);
        } finally {
            out.close();
        }
    }

    /** One decode step of {@code token} at {@code pos} (after a prefill of at least pos tokens); returns the argmax. */
    public int decode(int token, int pos) {
        AbstractTensor out = model.forward(token, pos, kv, Optional.empty());
        try {
            return model.sample(out, 0f, 0f, logits);
        } finally {
            out.close();
        }
    }

    /** The raw logits of the last prompt position (prefill, then the LM head output before any softmax). */
    public float[] lastLogits(int[] tokens) {
        prefill(tokens);
        int v = model.getConfig().vocabularySize;
        float[] out = new float[v];
        for (int i = 0; i < v; i++) out[i] = logits.get(0, i);
        return out;
    }

    /** Logits after one decode step (see {@link #decode}). */
    public float[] decodeLogits(int token, int pos) {
        decode(token, pos);
        int v = model.getConfig().vocabularySize;
        float[] out = new float[v];
        for (int i = 0; i < v; i++) out[i] = logits.get(0, i);
        return out;
    }

    public Variant variant() { return variant; }

    /** The settings in effect, read back from the loaded model. */
    public String settings() {
        return String.format("Jlama %s %s: loadModel(%s); model dtype %s, working dtype %s, working quantization dtype %s, "
                        + "tensor operations %s (%s), %d kernel threads",
                VERSION, variant.paramName(),
                variant == Variant.DEFAULT ? "dir, F32, I8" : "dir, null, F32, F32, Optional.of(BF16), empty",
                field("modelDType"), field("workingDType"), field("workingQType"),
                TensorOperationsProvider.get().name(), MachineSpec.VECTOR_TYPE, PhysicalCoreExecutor.instance.get().getCoreCount());
    }

    private static String version() {
        try (var in = JlamaPeer.class.getResourceAsStream("versions.properties")) {
            var p = new java.util.Properties();
            if (in != null) p.load(in);
            return p.getProperty("jlama.version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    private Object field(String name) {
        try {
            Field f = AbstractModel.class.getDeclaredField(name);
            f.setAccessible(true);
            return f.get(model);
        } catch (ReflectiveOperationException e) {
            return "?";
        }
    }

    @Override
    public void close() {
        kv.close();
        kvCache.close();
        model.close();
    }
}
