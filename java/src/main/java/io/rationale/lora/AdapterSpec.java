package io.rationale.lora;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One {@code --adapter DIR[:SCALE]}: a PEFT LoRA folder and the factor its branch is multiplied by on top of its
 * own {@code lora_alpha / r} (default 1). The scale is read after the LAST colon only when what follows is a number,
 * so folder names with colons still work ({@code ./run:3/best} is a folder, {@code ./best:0.5} a folder at half
 * strength).
 *
 * @param dir   the adapter folder ({@code adapter_config.json}, {@code adapter_model.safetensors})
 * @param scale the user's factor, finite
 */
public record AdapterSpec(Path dir, double scale) {
    public AdapterSpec {
        if (dir == null) throw new IllegalArgumentException("no adapter folder");
        if (!Double.isFinite(scale)) throw new IllegalArgumentException("adapter scale must be finite, got " + scale);
    }

    /** Parses {@code DIR} or {@code DIR:SCALE}. */
    public static AdapterSpec parse(String s) {
        if (s == null || s.isBlank()) throw new IllegalArgumentException("--adapter: empty value (DIR or DIR:SCALE)");
        int colon = s.lastIndexOf(':');
        if (colon > 0 && colon < s.length() - 1) {
            String tail = s.substring(colon + 1).trim();
            if (tail.matches("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?")) {
                double v = Double.parseDouble(tail);
                if (!Double.isFinite(v)) throw new IllegalArgumentException("--adapter " + s + ": the scale " + tail + " is not finite");
                return new AdapterSpec(Path.of(s.substring(0, colon)), v);
            }
        }
        return new AdapterSpec(Path.of(s), 1.0);
    }

    @Override
    public String toString() {
        return scale == 1.0 ? dir.toString() : dir + ":" + String.format(Locale.ROOT, "%s", scale);
    }
}
