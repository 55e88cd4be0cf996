package io.rationale.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What {@code inspect --adapter} prints about one adapter: its config and every module with its rank, alpha and
 * scale. A plain record (Jackson writes it as JSON).
 *
 * @param dir           the folder
 * @param baseModel     {@code base_model_name_or_path} as the config says (informational)
 * @param r             the config's default rank
 * @param loraAlpha     the config's default alpha
 * @param scaling       {@code lora_alpha / r} or {@code lora_alpha / sqrt(r) (rsLoRA)}
 * @param userScale     the {@code :SCALE} given with {@code --adapter}
 * @param fanInFanOut   what the config says (no effect on Llama-family projections, see {@link PeftConfig})
 * @param targetModules the projections the adapter holds modules for, in layer order
 * @param parameters    Σ rank·(in + out)
 */
public record AdapterInspection(String dir, String baseModel, int r, double loraAlpha, String scaling, double userScale,
                                boolean fanInFanOut, List<String> targetModules, long parameters, List<ModuleInfo> modules) {

    /** One module: its base-model name, rank, alpha, scale (with the user scale), shapes and stored dtype. */
    public record ModuleInfo(String module, int rank, double alpha, double scale, int[] aShape, int[] bShape, String dtype) {}

    public static AdapterInspection of(PeftAdapter a, io.rationale.model.ModelConfig c) {
        List<ModuleInfo> mods = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        long params = 0;
        for (PeftAdapter.Module m : a.modules()) {
            int[] shape = m.projection().shape(c);
            mods.add(new ModuleInfo(m.module(), m.rank(), m.alpha(), m.scale(), new int[]{m.rank(), shape[1]}, new int[]{shape[0], m.rank()}, m.dtype()));
            if (!targets.contains(m.projection().moduleName())) targets.add(m.projection().moduleName());
            params += (long) m.rank() * (shape[0] + shape[1]);
        }
        PeftConfig cfg = a.config();
        return new AdapterInspection(a.dir().toString(), cfg.baseModel(), cfg.r(), cfg.loraAlpha(), cfg.scalingRule(), a.userScale(),
                cfg.fanInFanOut(), targets, params, mods);
    }

    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append("adapter ").append(dir).append('\n');
        b.append(String.format(Locale.ROOT, "  base_model_name_or_path %s; r %d, lora_alpha %s, scale = %s%s%n", baseModel == null ? "(none)" : baseModel,
                r, num(loraAlpha), scaling, userScale == 1.0 ? "" : " × " + num(userScale) + " (--adapter scale)"));
        if (fanInFanOut) b.append("  fan_in_fan_out true: no effect on these nn.Linear projections (PEFT resets it to false for them)\n");
        b.append(String.format(Locale.ROOT, "  %d modules on %s; %,d parameters%n", modules.size(), String.join(", ", targetModules), parameters));
        b.append(String.format(Locale.ROOT, "  %-36s %5s %8s %10s %14s %14s %5s%n", "module", "rank", "alpha", "scale", "lora_A", "lora_B", "dtype"));
        for (ModuleInfo m : modules)
            b.append(String.format(Locale.ROOT, "  %-36s %5d %8s %10.6g %14s %14s %5s%n", m.module(), m.rank(), num(m.alpha()), m.scale(),
                    m.aShape()[0] + "x" + m.aShape()[1], m.bShape()[0] + "x" + m.bShape()[1], m.dtype()));
        return b.toString();
    }

    public String toJson() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e12 ? String.valueOf((long) v) : String.format(Locale.ROOT, "%s", v);
    }
}
