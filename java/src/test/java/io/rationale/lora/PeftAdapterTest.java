package io.rationale.lora;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Lora;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tools.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEFT adapter folders on the weights-tools tiny model (hidden 64, 2 layers, GQA 4/2, intermediate 172):
 * <ul>
 * <li>an adapter written as PEFT writes one (random A and B on all seven projections, rsLoRA on, a rank pattern and
 *     an alpha pattern, one module stored in bf16) gives the logits of the explicitly merged weights (merged in
 *     double from the stored values by the test, scale {@code alpha/sqrt(r)} from the test's own reading of the
 *     patterns), merged and unmerged, within 1e-5·max|logit|; so do two adapters with scales; fan_in_fan_out does
 *     not change the result (nn.Linear projections);</li>
 * <li>every refusal, one test each: the message names the key or field;</li>
 * <li>{@link PeftWriter} then {@link PeftAdapter#read} gives the same floats bit for bit.</li>
 * </ul>
 */
class PeftAdapterTest {
    @TempDir
    static Path tmp;
    static Path base;
    static ModelConfig config;
    static final int[] IDS = {1, 17, 300, 45, 9, 128, 77, 2, 400, 33, 5};

    @BeforeAll
    static void setUp() {
        base = PeftFixtures.tinyBase(tmp.resolve("base"));
        config = ModelConfig.load(base);
    }

    static final List<String> ALL = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /** out, in of a projection path. */
    static int[] shape(String path) {
        return Lora.Projection.ofModuleName(path.substring(path.indexOf('.') + 1)).shape(config);
    }

    /**
     * r 4, alpha 8, rsLoRA; rank_pattern {"model.layers.1.mlp.down_proj": 2, "v_proj": 6}, alpha_pattern {"o_proj": 3}.
     * Returns the scale of each module as the test reads these rules.
     */
    static Map<String, Double> writePatterned(Path dir, long seed, boolean fanInFanOut) {
        ObjectNode cfg = PeftFixtures.config(4, 8, true, "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
        cfg.putObject("rank_pattern").put("model.layers.1.mlp.down_proj", 2).put("v_proj", 6);
        cfg.putObject("alpha_pattern").put("o_proj", 3);
        cfg.put("fan_in_fan_out", fanInFanOut);
        Map<String, PeftFixtures.T> t = new LinkedHashMap<>();
        Map<String, Double> scales = new LinkedHashMap<>();
        Random r = new Random(seed);
        for (int l = 0; l < 2; l++)
            for (String p : ALL) {
                String module = "model.layers." + l + "." + p;
                int rank = module.equals("model.layers.1.mlp.down_proj") ? 2 : p.endsWith("v_proj") ? 6 : 4;
                double alpha = p.endsWith("o_proj") ? 3 : 8;
                int[] s = shape(p);
                PeftFixtures.module(t, module, rank, s[1], s[0], r, module.equals("model.layers.0.mlp.up_proj") ? DType.BF16 : DType.F32);
                scales.put(module, alpha / Math.sqrt(rank));
            }
        PeftFixtures.write(dir, cfg, t);
        return scales;
    }

    static float[] logits(Model m) {
        try (m; Backend b = Backends.open(m, Device.CPU, 2).backend()) {
            return b.forward(List.of(IDS), LogitsMode.ALL).data();
        }
    }

    static void assertSameLogits(float[] want, float[] got, String what) {
        double max = 0, diff = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(want[i]));
            diff = Math.max(diff, Math.abs(want[i] - got[i]));
        }
        System.out.printf("[peft] %s: max |diff| %.3g of max |logit| %.3g%n", what, diff, max);
        assertTrue(diff <= 1e-5 * max, what + ": logits differ by " + diff + " (max |logit| " + max + ")");
    }

    @Test
    void aPeftAdapterGivesTheLogitsOfTheExplicitlyMergedWeights() {
        Path ad = tmp.resolve("patterned");
        Map<String, Double> scales = writePatterned(ad, 1, false);
        Path merged = PeftFixtures.mergedCopy(base, tmp.resolve("patterned-merged"), List.of(ad), List.of(scales));
        float[] want = logits(Model.load(merged));
        float[] plain = logits(Model.load(base));
        double moved = 0;
        for (int i = 0; i < want.length; i++) moved = Math.max(moved, Math.abs(want[i] - plain[i]));
        assertTrue(moved > 0.1, "the adapter barely changes the logits: " + moved);
        assertSameLogits(want, logits(new Adapters(List.of(new AdapterSpec(ad, 1)), false).load(base)), "merged at load");
        assertSameLogits(want, logits(new Adapters(List.of(new AdapterSpec(ad, 1)), true).load(base)), "unmerged");

        // fan_in_fan_out has no effect on nn.Linear projections (PEFT resets it for them)
        Path fifo = tmp.resolve("patterned-fifo");
        writePatterned(fifo, 1, true);
        assertSameLogits(want, logits(new Adapters(List.of(new AdapterSpec(fifo, 1)), false).load(base)), "fan_in_fan_out true");
    }

    @Test
    void twoAdaptersWithScalesAddUp() {
        Path a = tmp.resolve("two-a"), b = tmp.resolve("two-b");
        Map<String, Double> sa = writePatterned(a, 2, false);
        ObjectNode cfg = PeftFixtures.config(3, 6, false, "q_proj", "down_proj");
        Map<String, PeftFixtures.T> t = new LinkedHashMap<>();
        Random r = new Random(4);
        Map<String, Double> sb = new LinkedHashMap<>();
        for (String p : List.of("self_attn.q_proj", "mlp.down_proj")) {
            int[] s = shape(p);
            PeftFixtures.module(t, "model.layers.1." + p, 3, s[1], s[0], r, DType.F32);
            sb.put("model.layers.1." + p, -0.5 * 6 / 3.0);
        }
        PeftFixtures.write(b, cfg, t);
        Map<String, Double> saScaled = new LinkedHashMap<>();
        sa.forEach((k, v) -> saScaled.put(k, 0.25 * v));
        Path merged = PeftFixtures.mergedCopy(base, tmp.resolve("two-merged"), List.of(a, b), List.of(saScaled, sb));
        float[] want = logits(Model.load(merged));
        Adapters both = Adapters.parse(List.of(a + ":0.25", b + ":-0.5"), false);
        assertEquals(0.25, both.specs().get(0).scale());
        assertSameLogits(want, logits(both.load(base)), "two adapters merged");
        assertSameLogits(want, logits(Adapters.parse(List.of(a + ":0.25", b + ":-0.5"), true).load(base)), "two adapters unmerged");
    }

    @Test
    void writtenAdaptersReloadBitForBit() {
        Random r = new Random(6);
        List<Lora.Spec> specs = new java.util.ArrayList<>();
        for (Lora.Projection p : List.of(Lora.Projection.Q, Lora.Projection.V, Lora.Projection.DOWN)) {
            int[] s = p.shape(config);
            float[] a = new float[5 * s[1]], b = new float[s[0] * 5];
            for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian() * 1e-3f;
            specs.add(new Lora.Spec("w", 1, p, 5, 2f, a, b));
        }
        Lora lora = Lora.of(config, specs);
        Path out = tmp.resolve("written");
        PeftWriter.write(out, lora, PeftConfig.json(base.toString(), 5, 10, false, List.of(Lora.Projection.Q, Lora.Projection.V, Lora.Projection.DOWN)));
        PeftAdapter back = PeftAdapter.read(new AdapterSpec(out, 1), config, base);
        assertEquals(3, back.modules().size());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(lora.modules().get(i).a(), back.modules().get(i).a());
            assertArrayEquals(lora.modules().get(i).b(), back.modules().get(i).b());
            assertEquals(2.0, back.modules().get(i).scale());
        }
        assertEquals("LORA", back.config().peftType());
    }

    // ---------------------------------------------------------------- refusals, one each

    /** A valid one-module adapter (q_proj of layer 0, r 2), changed by {@code edit} before it is written. */
    static Path variant(String name, Consumer<ObjectNode> editConfig, Consumer<Map<String, PeftFixtures.T>> editTensors) {
        ObjectNode cfg = PeftFixtures.config(2, 4, false, "q_proj");
        Map<String, PeftFixtures.T> t = new LinkedHashMap<>();
        int[] s = shape("self_attn.q_proj");
        PeftFixtures.module(t, "model.layers.0.self_attn.q_proj", 2, s[1], s[0], new Random(1), DType.F32);
        editConfig.accept(cfg);
        editTensors.accept(t);
        return PeftFixtures.write(tmp.resolve("refuse-" + name), cfg, t);
    }

    static String refusal(Path adapter) {
        var e = assertThrows(IllegalArgumentException.class, () -> new Adapters(List.of(new AdapterSpec(adapter, 1)), false).load(base).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    static PeftFixtures.T vec(int n) { return new PeftFixtures.T(new long[]{n}, new float[n], DType.F32); }

    @Test
    void refusesDoraInTheConfig() {
        String m = refusal(variant("dora-config", c -> c.put("use_dora", true), t -> {}));
        assertTrue(m.contains("use_dora") && m.contains("DoRA"), m);
    }

    @Test
    void refusesDoraMagnitudeVectors() {
        String m = refusal(variant("dora-key", c -> {}, t -> t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", vec(64))));
        assertTrue(m.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector") && m.contains("DoRA"), m);
    }

    @Test
    void refusesEmbeddingAdapters() {
        String m = refusal(variant("embedding", c -> {}, t -> t.put("base_model.model.model.embed_tokens.lora_embedding_A",
                new PeftFixtures.T(new long[]{2, 512}, new float[1024], DType.F32))));
        assertTrue(m.contains("base_model.model.model.embed_tokens.lora_embedding_A") && m.contains("embeddings"), m);
    }

    @Test
    void refusesModulesToSaveInTheConfig() {
        String m = refusal(variant("mts-config", c -> c.putArray("modules_to_save").add("lm_head"), t -> {}));
        assertTrue(m.contains("modules_to_save") && m.contains("lm_head"), m);
    }

    @Test
    void refusesModulesToSaveWeightsOfTheLmHead() {
        String m = refusal(variant("mts-key", c -> {}, t -> t.put("base_model.model.lm_head.modules_to_save.default.weight",
                new PeftFixtures.T(new long[]{512, 64}, new float[512 * 64], DType.F32))));
        assertTrue(m.contains("base_model.model.lm_head.modules_to_save.default.weight") && m.contains("modules_to_save"), m);
    }

    @Test
    void refusesAnAdapterOnTheLmHead() {
        String m = refusal(variant("lm-head", c -> {}, t -> {
            t.put("base_model.model.lm_head.lora_A.weight", new PeftFixtures.T(new long[]{2, 64}, new float[128], DType.F32));
            t.put("base_model.model.lm_head.lora_B.weight", new PeftFixtures.T(new long[]{512, 2}, new float[1024], DType.F32));
        }));
        assertTrue(m.contains("base_model.model.lm_head.lora_") && m.contains("LM head"), m);
    }

    @Test
    void refusesAnAdapterOfAnotherBaseModelByShape() {
        String m = refusal(variant("other-base", c -> {}, t -> {
            Random r = new Random(2);
            t.clear();
            PeftFixtures.module(t, "model.layers.0.self_attn.q_proj", 2, 128, 128, r, DType.F32);
        }));
        assertTrue(m.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight") && m.contains("another base model"), m);
    }

    @Test
    void refusesAnAdapterOfAnotherBaseModelByLayer() {
        String m = refusal(variant("other-layers", c -> {}, t -> {
            int[] s = shape("self_attn.q_proj");
            PeftFixtures.module(t, "model.layers.7.self_attn.q_proj", 2, s[1], s[0], new Random(3), DType.F32);
        }));
        assertTrue(m.contains("base_model.model.model.layers.7.self_attn.q_proj.lora_") && m.contains("2 layers"), m);
    }

    @Test
    void refusesAnUnknownKey() {
        String m = refusal(variant("unknown-key", c -> {}, t -> t.put("base_model.model.model.layers.0.self_attn.rotary_emb.inv_freq", vec(8))));
        assertTrue(m.contains("base_model.model.model.layers.0.self_attn.rotary_emb.inv_freq") && m.contains("unknown key"), m);
    }

    @Test
    void refusesKeysWithAnAdapterName() {
        String m = refusal(variant("adapter-name", c -> {}, t -> {
            PeftFixtures.T a = t.remove("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
            t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", a);
        }));
        assertTrue(m.contains("lora_A.default.weight"), m);
    }

    @Test
    void refusesAModuleWithoutItsB() {
        String m = refusal(variant("no-b", c -> {}, t -> t.remove("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")));
        assertTrue(m.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight is missing"), m);
    }

    @Test
    void refusesARankOtherThanTheConfigs() {
        String m = refusal(variant("rank", c -> c.put("r", 3), t -> {}));
        assertTrue(m.contains("lora_A.weight has rank 2") && m.contains("rank 3"), m);
    }

    @Test
    void refusesOtherPeftTypes() {
        String m = refusal(variant("ia3", c -> c.put("peft_type", "IA3"), t -> {}));
        assertTrue(m.contains("peft_type IA3"), m);
    }

    @Test
    void refusesTrainedBiases() {
        String m = refusal(variant("bias", c -> c.put("bias", "all"), t -> {}));
        assertTrue(m.contains("bias 'all'"), m);
    }

    @Test
    void refusesAnUnknownConfigFieldThatDoesSomething() {
        String m = refusal(variant("unknown-field", c -> c.put("use_magic", true), t -> {}));
        assertTrue(m.contains("'use_magic'"), m);
        // unknown fields at their defaults are harmless
        new Adapters(List.of(new AdapterSpec(variant("unknown-default", c -> c.putNull("use_magic"), t -> {}), 1)), false).load(base).close();
    }

    /**
     * PEFT puts LoRA layers only on the modules its config targets ({@code check_target_module_exists}) and ignores
     * the file's weights for any other module: such weights are refused, never applied. Cases read off PEFT's rule:
     * a list entry matches the name or its last parts; {@code layers_to_transform} restricts a suffix match to those
     * layers; {@code exclude_modules} wins; a string is a regular expression over the whole name, {@code all-linear}
     * every projection; no {@code target_modules} means q_proj and v_proj (PEFT's Llama default).
     */
    @Test
    void refusesWeightsOfModulesTheConfigDoesNotTarget() {
        String m = refusal(variant("untargeted", c -> c.putArray("target_modules").add("k_proj").add("v_proj"), t -> {}));
        assertTrue(m.contains("lora_A.weight") && m.contains("does not target model.layers.0.self_attn.q_proj")
                && m.contains("[k_proj, v_proj]") && m.contains("PEFT would not load"), m);
        m = refusal(variant("layers-to-transform", c -> c.putArray("layers_to_transform").add(1), t -> {}));
        assertTrue(m.contains("model.layers.0.self_attn.q_proj") && m.contains("layers_to_transform [1]"), m);
        m = refusal(variant("exclude", c -> c.putArray("exclude_modules").add("layers.0.self_attn.q_proj"), t -> {}));
        assertTrue(m.contains("exclude_modules"), m);
        m = refusal(variant("regex-miss", c -> c.put("target_modules", "q_proj"), t -> {}));       // fullmatch: needs the whole name
        assertTrue(m.contains("target_modules 'q_proj'"), m);
        m = refusal(variant("default-targets", c -> c.remove("target_modules"), t -> {
            int[] s = shape("self_attn.k_proj");
            PeftFixtures.module(t, "model.layers.1.self_attn.k_proj", 2, s[1], s[0], new Random(5), DType.F32);
        }));
        assertTrue(m.contains("model.layers.1.self_attn.k_proj") && m.contains("[q_proj, v_proj]"), m);

        // what PEFT does target loads
        for (Consumer<ObjectNode> ok : List.<Consumer<ObjectNode>>of(
                c -> c.put("target_modules", ".*\\.layers\\.0\\.self_attn\\.(q|v)_proj"),
                c -> c.put("target_modules", "ALL-LINEAR"),
                c -> c.putArray("target_modules").add("model.layers.0.self_attn.q_proj"),
                c -> c.putArray("layers_to_transform").add(0),
                c -> { c.put("layers_to_transform", 0); c.put("layers_pattern", "layers"); },
                c -> c.putArray("exclude_modules").add("k_proj"),
                c -> c.remove("target_modules")))
            new Adapters(List.of(new AdapterSpec(variant("targeted", ok, t -> {}), 1)), false).load(base).close();
    }

    /**
     * An adapter saved from a PiSSA / OLoRA / CorDA / LoftQ / LoRA-GA initialisation without conversion keeps that
     * {@code init_lora_weights}; PEFT then loads it onto {@code W - scale·B0·A0} recomputed from the base (its
     * {@code update_layer} reruns the init, which rewrites the base weight), not onto W: refused. Initialisations that
     * leave W alone load.
     */
    @Test
    void refusesInitialisationsThatRewriteTheBaseWeights() {
        for (String init : List.of("pissa", "pissa_niter_4", "olora", "corda", "loftq", "lora_ga")) {
            String m = refusal(variant("init-" + init, c -> c.put("init_lora_weights", init), t -> {}));
            assertTrue(m.contains("init_lora_weights '" + init + "'") && m.contains("rewrites the base weights"), m);
        }
        String m = refusal(variant("init-unknown", c -> c.put("init_lora_weights", "magic"), t -> {}));
        assertTrue(m.contains("init_lora_weights 'magic'"), m);
        for (Consumer<ObjectNode> ok : List.<Consumer<ObjectNode>>of(c -> c.put("init_lora_weights", true), c -> c.put("init_lora_weights", false),
                c -> c.put("init_lora_weights", "gaussian"), c -> c.put("init_lora_weights", "eva"), c -> c.put("init_lora_weights", "orthogonal")))
            new Adapters(List.of(new AdapterSpec(variant("init-ok", ok, t -> {}), 1)), false).load(base).close();
    }

    @Test
    void refusesAPickledAdapter() throws Exception {
        Path dir = variant("pickle", c -> {}, t -> {});
        Files.delete(dir.resolve("adapter_model.safetensors"));
        Files.writeString(dir.resolve("adapter_model.bin"), "not read");
        String m = refusal(dir);
        assertTrue(m.contains("adapter_model.safetensors: no such file") && m.contains("adapter_model.bin"), m);
    }

    @Test
    void parsesScalesAfterTheLastColonOnly() {
        assertEquals(new AdapterSpec(Path.of("a:b"), 1), AdapterSpec.parse("a:b"));
        assertEquals(new AdapterSpec(Path.of("dir"), 0.5), AdapterSpec.parse("dir:0.5"));
        assertEquals(new AdapterSpec(Path.of("x:1/y"), -2), AdapterSpec.parse("x:1/y:-2"));
        assertThrows(IllegalArgumentException.class, () -> Adapters.parse(List.of(), true));
    }
}
