package io.rationale.lora;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.engine.Lora;
import io.rationale.eval.AtomicFiles;
import io.rationale.tools.DType;
import io.rationale.tools.SafeTensorsWriter;
import io.rationale.tools.TensorEntry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a LoRA adapter as a Hugging Face PEFT folder: {@code adapter_model.safetensors} with PEFT's key names
 * ({@code base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight} {@code [r, in]}, {@code ...lora_B.weight}
 * {@code [out, r]}), float32, metadata {@code {"format": "pt"}}, tensors in name order as the safetensors library
 * writes them; and {@code adapter_config.json} ({@link PeftConfig#json}). {@code PeftModel.from_pretrained(base, dir)}
 * loads it. Each file is written to a temporary sibling, forced to disk and renamed, weights first.
 */
public final class PeftWriter {
    private PeftWriter() {}

    /** The key of module m's A ({@code a} true) or B weight. */
    public static String key(Lora.Module m, boolean a) {
        return PeftAdapter.PREFIX + "model.layers." + m.layer() + "." + m.projection().path + ".lora_" + (a ? "A" : "B") + ".weight";
    }

    /**
     * Writes {@code lora}'s A and B arrays (as they are now) and {@code config} into {@code dir} (created).
     *
     * @throws IllegalArgumentException when two modules sit on one projection (one PEFT adapter has one per module)
     */
    public static void write(Path dir, Lora lora, ObjectNode config) {
        List<TensorEntry> entries = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Lora.Module m : lora.modules()) {
            if (!seen.add(key(m, true)))
                throw new IllegalArgumentException("two modules on " + key(m, true) + ": one PEFT adapter holds one module per projection");
            float[] a = m.a(), b = m.b();
            entries.add(TensorEntry.of(key(m, true), DType.F32, (start, dst, len) -> System.arraycopy(a, (int) start, dst, 0, len), m.rank(), m.in()));
            entries.add(TensorEntry.of(key(m, false), DType.F32, (start, dst, len) -> System.arraycopy(b, (int) start, dst, 0, len), m.out(), m.rank()));
        }
        try {
            Files.createDirectories(dir);
            new SafeTensorsWriter().threads(1).metadata(Map.of("format", "pt")).sortByName(true).durable(true)
                    .writeFile(dir.resolve(PeftAdapter.WEIGHTS), entries);
            AtomicFiles.write(dir.resolve(PeftConfig.FILE), PeftConfig.text(config).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the adapter into " + dir + ": " + e.getMessage(), e);
        }
    }
}
