package io.rationale.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.tools.DType;
import io.rationale.tools.Presets;
import io.rationale.tools.SafeTensorsWriter;
import io.rationale.tools.TensorEntry;
import io.rationale.tools.TinyModel;
import io.rationale.weights.SafeTensorsFile;
import io.rationale.weights.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/** Adapter folders written the way PEFT writes them, and explicitly merged checkpoints, for the tests. */
public final class PeftFixtures {
    private PeftFixtures() {}

    /** One tensor to write: shape and values (written in {@code dtype}, read back rounded). */
    public record T(long[] shape, float[] values, DType dtype) {}

    /** The weights-tools tiny preset (hidden 64, 2 layers, GQA 4/2, intermediate 172, f32), seed 3. */
    public static Path tinyBase(Path dir) {
        TinyModel.write(Presets.get("tiny"), 3, dir, 0, 1, null);
        return dir;
    }

    /** A config as PEFT writes one: LORA, r, lora_alpha, bias none, no DoRA, the given target modules. */
    public static ObjectNode config(int r, double alpha, boolean rslora, String... targets) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("base_model_name_or_path", "tiny-test-base");
        o.put("peft_type", "LORA");
        o.put("task_type", "CAUSAL_LM");
        o.put("r", r);
        o.put("lora_alpha", alpha);
        o.put("lora_dropout", 0.05);
        o.put("bias", "none");
        o.put("fan_in_fan_out", false);
        o.put("use_rslora", rslora);
        o.put("use_dora", false);
        o.putNull("modules_to_save");
        o.put("inference_mode", true);
        var t = o.putArray("target_modules");
        for (String x : targets) t.add(x);
        o.putObject("rank_pattern");
        o.putObject("alpha_pattern");
        return o;
    }

    /** Writes {@code config} and {@code tensors} (in the given order) as a PEFT folder. */
    public static Path write(Path dir, ObjectNode config, Map<String, T> tensors) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("adapter_config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<TensorEntry> entries = new ArrayList<>();
        for (Map.Entry<String, T> e : tensors.entrySet()) {
            float[] v = e.getValue().values();
            entries.add(new TensorEntry(e.getKey(), e.getValue().dtype(), e.getValue().shape(), (s, d, n) -> System.arraycopy(v, (int) s, d, 0, n)));
        }
        new SafeTensorsWriter().threads(1).writeFile(dir.resolve("adapter_model.safetensors"), entries);
        return dir;
    }

    /** Random A ~ N(0, 0.3²) [rank, in] and B ~ N(0, 0.3²) [out, rank] of one module, keys as PEFT names them. */
    public static void module(Map<String, T> into, String module, int rank, int in, int out, Random r, DType dt) {
        float[] a = new float[rank * in], b = new float[out * rank];
        for (int i = 0; i < a.length; i++) a[i] = (float) (0.3 * r.nextGaussian());
        for (int i = 0; i < b.length; i++) b[i] = (float) (0.3 * r.nextGaussian());
        into.put("base_model.model." + module + ".lora_A.weight", new T(new long[]{rank, in}, a, dt));
        into.put("base_model.model." + module + ".lora_B.weight", new T(new long[]{out, rank}, b, dt));
    }

    /**
     * A copy of the base folder whose weights are {@code W + Σ scale·B·A} for the given modules, computed in double
     * from the adapter files' stored values and rounded to f32 once.
     *
     * @param scales module name ({@code model.layers.0.self_attn.q_proj}) → its scale, per adapter folder
     */
    public static Path mergedCopy(Path base, Path out, List<Path> adapters, List<Map<String, Double>> scales) {
        try {
            Files.createDirectories(out);
            try (Stream<Path> s = Files.list(base)) {
                for (Path p : s.toList()) if (!p.getFileName().toString().endsWith(".safetensors")) Files.copy(p, out.resolve(p.getFileName()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (Arena arena = Arena.ofConfined()) {
            SafeTensorsFile st = SafeTensorsFile.map(base.resolve("model.safetensors"), arena);
            Map<String, double[]> merged = new LinkedHashMap<>();
            for (Tensor t : st.tensors().values()) {
                double[] v = new double[(int) t.numel()];
                for (int i = 0; i < v.length; i++) v[i] = t.get(i);
                merged.put(t.name(), v);
            }
            for (int k = 0; k < adapters.size(); k++) {
                SafeTensorsFile ad = SafeTensorsFile.map(adapters.get(k).resolve("adapter_model.safetensors"), arena);
                for (Map.Entry<String, Double> e : scales.get(k).entrySet()) {
                    Tensor a = ad.tensors().get("base_model.model." + e.getKey() + ".lora_A.weight");
                    Tensor b = ad.tensors().get("base_model.model." + e.getKey() + ".lora_B.weight");
                    int rank = (int) a.shape()[0], in = (int) a.shape()[1], o = (int) b.shape()[0];
                    double[] w = merged.get(e.getKey() + ".weight");
                    for (int i = 0; i < o; i++)
                        for (int j = 0; j < in; j++) {
                            double d = 0;
                            for (int q = 0; q < rank; q++) d += (double) b.get((long) i * rank + q) * a.get((long) q * in + j);
                            w[i * in + j] += e.getValue() * d;
                        }
                }
            }
            List<TensorEntry> entries = new ArrayList<>();
            for (Tensor t : st.tensors().values()) {
                double[] v = merged.get(t.name());
                entries.add(new TensorEntry(t.name(), DType.F32, t.shape(), (s, d, n) -> {
                    for (int i = 0; i < n; i++) d[i] = (float) v[(int) s + i];
                }));
            }
            new SafeTensorsWriter().threads(1).writeFile(out.resolve("model.safetensors"), entries);
        }
        return out;
    }
}
