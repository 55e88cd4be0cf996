package io.rationale.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.Example;
import io.rationale.dataset.MedicalBiosReader;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Lora;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FineTune} on the real stories260K checkpoint and real MedicalBios bios. The task: the bios of two
 * occupations from {@code biosbias.csv}, dentist and psychologist, 58 of each (all the dentists), as a
 * {@code jsonl} dataset the test writes (labels {@code dentist}, {@code psychologist}: the generic template's label
 * words, whose first tokens differ in the 512-token vocabulary). A 5-way MedicalBios run needs a few minutes to beat
 * the majority class (docs/lora.md); this binary task is learnt within one short epoch.
 * <ul>
 *   <li>a short run (80 examples, 20 for validation, 1 epoch of 15 steps, fixed seed) ends strictly above the
 *       validation split's majority-class rate and strictly above the base model's accuracy (step 0);</li>
 *   <li>the PEFT folder it writes reloads bit for bit: the same A and B floats as the run's best adapter; the same
 *       logits, unmerged, as the model with those arrays (within 1e-6·max|logit|, the engine's run-to-run noise);
 *       merged at load, within 1e-5·max|logit|;</li>
 *   <li>a run stopped after 4 of 12 steps (as if killed) and started again continues at step 4 from the saved state
 *       (its history before the stop bit for bit) and ends where an uninterrupted run ends, within 2e-3 of the
 *       largest weight (not bit for bit: the CPU engine's float results vary in the last bits from run to run, see
 *       {@link FineTune}); starting it again with another option is refused in one line naming it;</li>
 *   <li>the examples with human rationales are held out (MedicalBios' default hold-out);</li>
 *   <li>finetune reads the answer as eval does: the same predictions as {@code ModelEvaluator} on validation
 *       examples of both predicted labels, label probabilities within 1e-4.</li>
 * </ul>
 */
class FineTuneTest {
    static final Path SHARED = Path.of(System.getProperty("rationale.shared", "../shared"));
    static final Path STORIES = SHARED.resolve("data/models/stories260K-hf");
    static final Path BIOS = SHARED.resolve("data/datasets/medicalbios/biosbias.csv");

    @TempDir
    static Path tmp;
    static Path data;

    /** Dentist and psychologist bios of biosbias.csv, 58 each, in file order, as rationale-engine JSONL. */
    @BeforeAll
    static void writeData() throws IOException {
        Dataset ds = MedicalBiosReader.readCsv(BIOS);
        Map<String, Integer> n = new LinkedHashMap<>(Map.of("dentist", 0, "psychologist", 0));
        ObjectMapper m = new ObjectMapper();
        StringBuilder b = new StringBuilder();
        for (Example e : ds.examples()) {
            Integer c = n.get(e.label());
            if (c == null || c >= 58) continue;
            n.put(e.label(), c + 1);
            ObjectNode o = m.createObjectNode();
            o.put("id", e.id());
            o.put("text", e.fields().get(0).text());
            o.put("label", e.label());
            b.append(o).append('\n');
        }
        assertEquals(Map.of("dentist", 58, "psychologist", 58), n);
        data = tmp.resolve("dentist-psychologist.jsonl");
        Files.writeString(data, b);
    }

    static FineTune.Config config(Path out, int limit, int epochs, int batch, long stopAfter, double lr) {
        return new FineTune.Config(STORIES, "jsonl:" + data, out, epochs, limit, 4, 8, false, FineTune.parseTargets("all"), lr, 7, batch,
                0.25, 0.1, FineTune.Schedule.COSINE, 0.01, 1.0, 0, 3, 0, null, 2, stopAfter, false);
    }

    static FineTune.Outcome run(FineTune.Config c, StringBuilder log) { return run(c, log, Device.CPU); }

    /** {@link #config}'s options on 40 examples, one epoch of 8 steps, validating every 2 steps. */
    static FineTune.Config trajectory(Path out) {
        return new FineTune.Config(STORIES, "jsonl:" + data, out, 1, 40, 4, 8, false, FineTune.parseTargets("all"), 0.003, 7, 4,
                0.25, 0.1, FineTune.Schedule.COSINE, 0.01, 1.0, 0, 3, 2, null, 2, 0, false);
    }

    static FineTune.Outcome run(FineTune.Config c, StringBuilder log, Device device) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        FineTune.Outcome o = new FineTune(c, new PrintStream(bytes, true, StandardCharsets.UTF_8)).onDevice(device).run();
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.print(text.indent(2));
        if (log != null) log.append(text);
        return o;
    }

    @Test
    void aShortRunBeatsTheMajorityClassAndItsAdapterReloadsBitForBit() throws IOException {
        Path out = tmp.resolve("learn");
        StringBuilder log = new StringBuilder();
        FineTune.Outcome o = run(config(out, 80, 1, 4, 0, 0.003), log);
        assertFalse(o.stopped());
        assertEquals(60, o.trainSize());
        assertEquals(20, o.valSize());
        assertEquals(15, o.totalSteps());
        FineTune.Validation base = o.history().get(0);
        assertEquals(0, base.step());
        assertTrue(o.best().step() > 0, "training never beat the base model: " + o.history());
        assertTrue(o.best().valAccuracy() > o.majority(), "best accuracy " + o.best().valAccuracy() + " <= majority " + o.majority());
        assertTrue(o.best().valAccuracy() > base.valAccuracy(), "best " + o.best().valAccuracy() + " <= base " + base.valAccuracy());
        assertTrue(log.toString().contains("val loss") && log.toString().contains("acc "), log.toString());

        // the PEFT folder: config as PEFT writes it, weights = the best adapter's arrays, bit for bit
        var cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
        assertEquals(4, cfg.get("r").asInt());
        assertEquals(8, cfg.get("lora_alpha").asDouble());
        assertEquals(7, cfg.get("target_modules").size());
        ModelConfig mc = ModelConfig.load(STORIES);
        PeftAdapter back = PeftAdapter.read(new AdapterSpec(out, 1), mc, STORIES);
        assertEquals(o.bestA().length, back.modules().size());
        List<Lora.Spec> specs = new ArrayList<>();
        int i = 0;
        for (int l = 0; l < mc.numLayers(); l++)
            for (Lora.Projection p : Lora.Projection.values()) {
                PeftAdapter.Module m = back.modules().get(i);
                assertEquals("model.layers." + l + "." + p.path, m.module());
                assertArrayEquals(o.bestA()[i], m.a(), m.module() + " A");
                assertArrayEquals(o.bestB()[i], m.b(), m.module() + " B");
                assertEquals(2.0, m.scale());
                specs.add(new Lora.Spec("best", l, p, 4, 2f, o.bestA()[i], o.bestB()[i]));
                i++;
            }
        int[] ids;
        try (Tokenizer tok = Tokenizer.load(STORIES)) {
            ids = tok.encode("Dr. Smith completed BDS from a dental college. Answer:").ids();
        }
        float[] want = logits(Model.load(STORIES).withLora(Lora.of(mc, specs)), ids);
        // same arrays, same model: the logits agree up to the engine's run-to-run noise (1e-6 of the largest logit)
        assertClose(want, logits(new Adapters(List.of(new AdapterSpec(out, 1)), true).load(STORIES), ids), 1e-6, "unmerged reload");
        // merged at load (W + scale·B·A in f32): 1e-5
        assertClose(want, logits(new Adapters(List.of(new AdapterSpec(out, 1)), false).load(STORIES), ids), 1e-5, "merged reload");
        float[] plain = logits(Model.load(STORIES), ids);
        assertFalse(java.util.Arrays.equals(plain, want), "the adapter changes nothing");
    }

    static java.util.List<String> devices() { return io.rationale.engine.TestBackends.devices(); }

    /**
     * The same short run (40 examples: 30 training in 8 steps, 10 validation every 2 steps) on the CUDA backend (the
     * emulated device here) as on the CPU: both train with their own {@link io.rationale.engine.Backend#backwardLora},
     * so the trajectories agree up to the backends' f32 differences (about 1e-6 relative per pass), which Adam can
     * amplify where a gradient is near 0: every validation's accuracy equal, training and validation losses within
     * 1e-3 relative, the trained A and B after the last step within 2e-3 of their largest value (the resume test's
     * bound).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("devices")
    void theCudaBackendTrainsAsTheCpuDoes(String device) {
        org.junit.jupiter.api.Assumptions.assumeFalse(device.equals("cpu"), "the reference itself");
        FineTune.Outcome cpu = run(trajectory(tmp.resolve("traj-cpu")), null, Device.CPU);
        StringBuilder log = new StringBuilder();
        FineTune.Outcome dev = run(trajectory(tmp.resolve("traj-" + device)), log, Device.parse(device));
        assertTrue(log.toString().contains("finetune: cuda"), log.toString());
        assertEquals(cpu.history().size(), dev.history().size());
        double worst = 0;
        for (int i = 0; i < cpu.history().size(); i++) {
            FineTune.Validation a = cpu.history().get(i), b = dev.history().get(i);
            assertEquals(a.step(), b.step());
            assertEquals(a.valAccuracy(), b.valAccuracy(), "step " + a.step() + " validation accuracy");
            assertTrue(Math.abs(a.valLoss() - b.valLoss()) <= 1e-3 * Math.abs(a.valLoss()), "step " + a.step() + " val loss " + b.valLoss() + ", cpu " + a.valLoss());
            worst = Math.max(worst, Math.abs(a.valLoss() - b.valLoss()) / Math.abs(a.valLoss()));
            if (!Double.isNaN(a.trainLoss())) {
                assertTrue(Math.abs(a.trainLoss() - b.trainLoss()) <= 1e-3 * Math.abs(a.trainLoss()), "step " + a.step() + " train loss " + b.trainLoss() + ", cpu " + a.trainLoss());
                worst = Math.max(worst, Math.abs(a.trainLoss() - b.trainLoss()) / Math.abs(a.trainLoss()));
            }
        }
        assertEquals(cpu.best().step(), dev.best().step());
        // the trained A and B after the last step (the trainer state), not only the best adapter (which may be step 0's)
        Map<String, float[]> a = tensors(tmp.resolve("traj-cpu").resolve(FineTune.STATE)), b = tensors(tmp.resolve("traj-" + device).resolve(FineTune.STATE));
        double max = 0, diff = 0, moved = 0;
        for (var e : a.entrySet()) {
            if (!e.getKey().matches("[ab]\\.\\d+")) continue;
            float[] x = e.getValue(), y = b.get(e.getKey());
            for (int j = 0; j < x.length; j++) {
                max = Math.max(max, Math.abs(x[j]));
                diff = Math.max(diff, Math.abs(x[j] - y[j]));
                if (e.getKey().startsWith("b.")) moved = Math.max(moved, Math.abs(x[j]));
            }
        }
        System.out.printf("[finetune] %s vs cpu: losses within %.3g relative, trained adapter within %.3g of max |w| %.3g%n", device, worst, diff, max);
        assertTrue(moved > 1e-3, "B never moved from 0: " + moved);
        assertTrue(diff <= 2e-3 * max, device + " and cpu adapters differ by " + diff + " (max |w| " + max + ")");
    }

    static void assertClose(float[] want, float[] got, double rel, String what) {
        double max = 0, diff = 0;
        for (int k = 0; k < want.length; k++) {
            max = Math.max(max, Math.abs(want[k]));
            diff = Math.max(diff, Math.abs(want[k] - got[k]));
        }
        System.out.printf("[finetune] %s: max |diff| %.3g of max |logit| %.3g%n", what, diff, max);
        assertTrue(diff <= rel * max, what + " differs by " + diff + " (max |logit| " + max + ")");
    }

    static float[] logits(Model m, int[] ids) {
        try (m; Backend b = Backends.open(m, Device.CPU, 2).backend()) {
            return b.forward(List.of(ids), LogitsMode.ALL).data();
        }
    }

    @Test
    void aStoppedRunResumesFromItsSavedStep() throws IOException {
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        FineTune.Outcome w = run(config(whole, 24, 2, 3, 0, 0.003), null);
        assertEquals(12, w.totalSteps());
        FineTune.Outcome first = run(config(parts, 24, 2, 3, 4, 0.003), null);
        assertTrue(first.stopped());
        assertEquals(4, first.step());
        Map<String, float[]> saved = tensors(parts.resolve(FineTune.STATE));
        StringBuilder log = new StringBuilder();
        FineTune.Outcome rest = run(config(parts, 24, 2, 3, 0, 0.003), log);
        assertFalse(rest.stopped());
        assertEquals(12, rest.step());
        assertTrue(log.toString().contains("resuming") && log.toString().contains("at step 4 of 12"), log.toString());
        assertFalse(log.toString().contains("(base model)"), "the resumed run validated the base model again: " + log);
        // the history before the stop comes from the state, bit for bit
        assertEquals(first.history().get(0).valLoss(), rest.history().get(0).valLoss());
        assertArrayEquals(first.history().get(0).predictions(), rest.history().get(0).predictions());
        assertEquals(w.history().size(), rest.history().size());

        // the resumed run went on from the saved arrays: its A and B moved away from them ...
        Map<String, float[]> end = tensors(parts.resolve(FineTune.STATE)), endWhole = tensors(whole.resolve(FineTune.STATE));
        assertFalse(java.util.Arrays.equals(saved.get("b.0"), end.get("b.0")));
        // ... to where the uninterrupted run went: equal up to the engine's float noise (run-to-run differences of about
        // 1e-7 relative in its forward and backward passes, see FineTune), that Adam can amplify where a gradient is near 0; bounded here at 2e-3 of the largest value
        double worst = 0;
        for (String k : endWhole.keySet()) {
            if (!k.startsWith("a.") && !k.startsWith("b.")) continue;
            float[] x = endWhole.get(k), y = end.get(k);
            double max = 0, diff = 0;
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i]));
                diff = Math.max(diff, Math.abs(x[i] - y[i]));
            }
            if (max > 0) worst = Math.max(worst, diff / max);
            assertTrue(diff <= 2e-3 * max, k + ": resumed and uninterrupted runs differ by " + diff + " (max |w| " + max + ")");
        }
        System.out.printf("[finetune] resumed vs uninterrupted: worst max|diff|/max|w| %.3g%n", worst);
        for (int k = 0; k < w.history().size(); k++)
            assertEquals(w.history().get(k).valLoss(), rest.history().get(k).valLoss(), 1e-4, "validation " + k);

        // another option: one line naming it
        var e = assertThrows(IllegalArgumentException.class, () -> run(config(parts, 24, 2, 3, 0, 0.004), null));
        assertTrue(e.getMessage().contains("--lr 0.003, now 0.004") && !e.getMessage().contains("\n"), e.getMessage());
    }

    /**
     * A run stopped and started again on a dataset file whose content changed (same path, same options) is refused in
     * one line naming the dataset, instead of continuing from the saved step on other examples.
     */
    @Test
    void aResumedRunRefusesAChangedDataset() throws IOException {
        Path copy = tmp.resolve("changing.jsonl"), out = tmp.resolve("changing");
        List<String> lines = Files.readAllLines(data);
        Files.write(copy, lines);
        FineTune.Config c = new FineTune.Config(STORIES, "jsonl:" + copy, out, 1, 12, 2, 4, false, FineTune.parseTargets("q_proj"), 0.003, 7, 3,
                0.25, 0, FineTune.Schedule.CONSTANT, 0, 1.0, 0, 3, 0, null, 2, 1, false);
        assertTrue(run(c, null).stopped());
        // the same number of examples and labels; one bio's text differs
        List<String> changed = new ArrayList<>(lines);
        changed.set(0, changed.get(0).replace("\"text\":\"", "\"text\":\"Dr. "));
        assertFalse(changed.get(0).equals(lines.get(0)));
        Files.write(copy, changed);
        FineTune.Config again = new FineTune.Config(STORIES, "jsonl:" + copy, out, 1, 12, 2, 4, false, FineTune.parseTargets("q_proj"), 0.003, 7, 3,
                0.25, 0, FineTune.Schedule.CONSTANT, 0, 1.0, 0, 3, 0, null, 2, 0, false);
        var e = assertThrows(IllegalArgumentException.class, () -> run(again, null));
        assertTrue(e.getMessage().contains("the dataset " + copy.toAbsolutePath().normalize() + " changed") && !e.getMessage().contains("\n"),
                e.getMessage());
        // back to the original content: it resumes
        Files.write(copy, lines);
        assertFalse(run(again, null).stopped());
    }

    /**
     * A run killed after its last state save but before the adapter files were written (simulated: the adapter
     * deleted after a finished run) writes the best adapter when the same command runs again.
     */
    @Test
    void aRunResumedAtItsEndWritesItsAdapter() throws IOException {
        Path out = tmp.resolve("ended");
        FineTune.Config c = new FineTune.Config(STORIES, "jsonl:" + data, out, 1, 12, 2, 4, false, FineTune.parseTargets("q_proj"), 0.003, 7, 3,
                0.25, 0, FineTune.Schedule.CONSTANT, 0, 1.0, 0, 3, 0, null, 2, 0, false);
        assertFalse(run(c, null).stopped());
        Map<String, float[]> state = tensors(out.resolve(FineTune.STATE));
        Files.delete(out.resolve(PeftAdapter.WEIGHTS));
        StringBuilder log = new StringBuilder();
        assertFalse(run(c, log).stopped());
        assertTrue(log.toString().contains("resuming"), log.toString());
        Map<String, float[]> adapter = tensors(out.resolve(PeftAdapter.WEIGHTS));
        assertEquals(2 * 5, adapter.size());                 // A and B of q_proj in each of the 5 layers
        for (int l = 0; l < 5; l++) {
            assertArrayEquals(state.get("best_a." + l), adapter.get("base_model.model.model.layers." + l + ".self_attn.q_proj.lora_A.weight"));
            assertArrayEquals(state.get("best_b." + l), adapter.get("base_model.model.model.layers." + l + ".self_attn.q_proj.lora_B.weight"));
        }
    }

    static Map<String, float[]> tensors(Path file) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            io.rationale.weights.SafeTensorsFile.map(file, arena).tensors().forEach((k, t) -> out.put(k, t.toFloatArray()));
        }
        return out;
    }

    @Test
    void medicalBiosHoldsOutTheBiosWithHumanRationales() {
        // biosbias.csv holds 10 of the rationale files' 113 bios (the same text up to case and spacing): never trained
        // nor validated on
        StringBuilder log = new StringBuilder();
        FineTune.Config c = new FineTune.Config(STORIES, "medicalbios:" + BIOS, tmp.resolve("holdout"), 1, 0, 2, 4, false,
                FineTune.parseTargets("q_proj"), 1e-3, 1, 8, 0.2, 0, FineTune.Schedule.CONSTANT, 0, 1, 0, 3, 0, null, 2, 0, false);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        FineTune.Setup s;
        try (Tokenizer tok = Tokenizer.load(STORIES)) {
            s = new FineTune(c, new PrintStream(bytes, true, StandardCharsets.UTF_8)).setup(tok, ModelConfig.load(STORIES));
        }
        java.util.Set<String> rationaleTexts = new java.util.HashSet<>();
        for (Example e : MedicalBiosReader.readStandard(SHARED.resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl")).examples())
            rationaleTexts.add(FineTune.normalized(e));
        java.util.Set<String> heldIds = new java.util.HashSet<>();
        for (Example e : MedicalBiosReader.readCsv(BIOS).examples()) if (rationaleTexts.contains(FineTune.normalized(e))) heldIds.add(e.id());
        assertEquals(10, heldIds.size());
        assertEquals(10, s.data().heldOut(), bytes.toString(StandardCharsets.UTF_8));
        assertEquals(339 - 10, s.data().train().size() + s.data().val().size() + s.data().skipped());
        for (FineTune.Item it : s.data().train()) assertFalse(heldIds.contains(it.id()), it.id());
        for (FineTune.Item it : s.data().val()) assertFalse(heldIds.contains(it.id()), it.id());
        assertEquals(List.of("dentist", "nurse", "physician", "psychologist", "surgeon"), s.words().labels());

        // --hold-out none: only the dataset's own annotated examples (biosbias.csv has none)
        FineTune.Config none = new FineTune.Config(STORIES, "medicalbios:" + BIOS, tmp.resolve("holdout"), 1, 0, 2, 4, false,
                FineTune.parseTargets("q_proj"), 1e-3, 1, 8, 0.2, 0, FineTune.Schedule.CONSTANT, 0, 1, 0, 3, 0, List.of(), 2, 0, false);
        try (Tokenizer tok = Tokenizer.load(STORIES)) {
            assertEquals(0, new FineTune(none, new PrintStream(bytes, true, StandardCharsets.UTF_8)).setup(tok, ModelConfig.load(STORIES)).data().heldOut());
        }
    }

    @Test
    void classifiesAsEvalDoes() {
        // the validation examples of a run, read by finetune's scoring and by eval's ModelEvaluator on the same model:
        // the same prediction each (eval prefills the prompt's prefix and runs the rest after it; finetune runs the
        // whole prompt: the same tokens), label probabilities within 1e-4
        FineTune.Config c = config(tmp.resolve("as-eval"), 80, 1, 4, 0, 0.003);
        Dataset ds = io.rationale.dataset.DatasetLoader.load("jsonl:" + data);
        Map<String, Example> byId = new LinkedHashMap<>();
        for (Example e : ds.examples()) byId.put(e.id(), e);
        try (Tokenizer tok = Tokenizer.load(STORIES); Model m = Model.load(STORIES); Backend b = Backends.open(m, Device.CPU, 2).backend()) {
            FineTune.Setup s = new FineTune(c, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).setup(tok, ModelConfig.load(STORIES));
            List<FineTune.Item> val = s.data().val();
            var mine = FineTune.scores(b, s.words(), val);
            var eval = new io.rationale.eval.ModelEvaluator(b, tok, ds, io.rationale.eval.EvalOptions.defaults(List.of()));
            // eval's full evaluation (masking included) is slow: three examples of each predicted label
            Map<Integer, Integer> taken = new java.util.HashMap<>();
            java.util.Set<String> predicted = new java.util.HashSet<>();
            for (int i = 0; i < val.size(); i++) {
                if (taken.merge(mine[i].predicted(), 1, Integer::sum) > 3) continue;
                io.rationale.eval.ExampleResult r = eval.evaluate(i, byId.get(val.get(i).id()));
                assertEquals(null, r.skipped());
                String want = r.predicted(), got = s.words().labels().get(mine[i].predicted());
                assertEquals(want, got, val.get(i).id());
                predicted.add(got);
                for (int l = 0; l < s.words().size(); l++)
                    assertEquals(r.labelProbs().get(s.words().labels().get(l)), mine[i].probs()[l], 1e-4, val.get(i).id());
            }
            assertEquals(2, predicted.size(), "the base model predicts both labels on these examples");
        }
    }
}
