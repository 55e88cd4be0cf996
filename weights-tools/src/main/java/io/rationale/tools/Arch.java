package io.rationale.tools;

import java.util.Locale;

/** The Llama-family architectures the tools write, with their Hugging Face names. */
public enum Arch {
    LLAMA("LlamaForCausalLM", "llama"),
    MISTRAL("MistralForCausalLM", "mistral"),
    QWEN2("Qwen2ForCausalLM", "qwen2");

    /** config.json "architectures" entry. */
    public final String className;
    /** config.json "model_type". */
    public final String modelType;

    Arch(String className, String modelType) {
        this.className = className;
        this.modelType = modelType;
    }

    /** Parses "llama", "LlamaForCausalLM", "mistral", "MistralForCausalLM", "qwen2", "Qwen2ForCausalLM". */
    public static Arch parse(String s) {
        String k = s.trim();
        for (Arch a : values()) {
            if (a.className.equalsIgnoreCase(k) || a.modelType.equalsIgnoreCase(k)) {
                return a;
            }
        }
        throw new ToolException("unknown architecture '" + s + "' (expected llama, mistral or qwen2, or "
                + "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
    }

    @Override
    public String toString() {
        return modelType.toLowerCase(Locale.ROOT);
    }
}
