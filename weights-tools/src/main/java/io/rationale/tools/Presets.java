package io.rationale.tools;

import java.util.ArrayList;
import java.util.List;

/**
 * Named model shapes for {@link TinyModel}. {@code tiny} is small enough for unit tests; the
 * others copy the shapes (not the weights) of public checkpoints.
 */
public final class Presets {
    private Presets() {
    }

    /** The preset names, in the order shown by the help text. */
    public static List<String> names() {
        return new ArrayList<>(List.of("tiny", "stories260k", "tinyllama-1.1b", "llama-3.2-1b", "llama-3.1-8b",
                "qwen2-0.5b", "mistral-7b"));
    }

    /** A fresh spec for the named preset. */
    public static ModelSpec get(String name) {
        ModelSpec s = new ModelSpec();
        switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "tiny" -> {
                // llama3 scaling with a small original context: on head_dim 16 and theta 5e5 the
                // frequencies fall in all three bands (kept, smoothed, divided by factor)
                set(s, Arch.LLAMA, 64, 2, 4, 2, 172, 512, 2048, 500000.0, 1e-5, false);
                s.ropeScaling = new RopeScaling(8.0, 1.0, 4.0, 256);
                s.dtype = DType.F32;
            }
            case "stories260k" -> {
                set(s, Arch.LLAMA, 64, 5, 8, 4, 172, 512, 512, 10000.0, 1e-5, true);
                s.dtype = DType.F32;
            }
            case "tinyllama-1.1b" -> set(s, Arch.LLAMA, 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0, 1e-5, false);
            case "llama-3.2-1b" -> {
                set(s, Arch.LLAMA, 2048, 16, 32, 8, 8192, 128256, 131072, 500000.0, 1e-5, true);
                s.headDim = 64;
                s.ropeScaling = new RopeScaling(32.0, 1.0, 4.0, 8192);
            }
            case "llama-3.1-8b" -> {
                set(s, Arch.LLAMA, 4096, 32, 32, 8, 14336, 128256, 131072, 500000.0, 1e-5, false);
                s.headDim = 128;
                s.ropeScaling = RopeScaling.llama31();
            }
            case "qwen2-0.5b" -> {
                set(s, Arch.QWEN2, 896, 24, 14, 2, 4864, 151936, 32768, 1000000.0, 1e-6, true);
                s.slidingWindow = 32768;
            }
            case "mistral-7b" -> {
                set(s, Arch.MISTRAL, 4096, 32, 32, 8, 14336, 32000, 32768, 10000.0, 1e-5, false);
                s.slidingWindow = 4096;
            }
            default -> throw new ToolException("unknown preset '" + name + "' (known: " + String.join(", ", names()) + ")");
        }
        return s;
    }

    private static void set(ModelSpec s, Arch arch, int hidden, int layers, int heads, int kvHeads, int intermediate,
            int vocab, int maxPositions, double ropeTheta, double eps, boolean tied) {
        s.arch = arch;
        s.hidden = hidden;
        s.layers = layers;
        s.heads = heads;
        s.kvHeads = kvHeads;
        s.intermediate = intermediate;
        s.vocab = vocab;
        s.maxPositions = maxPositions;
        s.ropeTheta = ropeTheta;
        s.rmsNormEps = eps;
        s.tied = tied;
    }
}
