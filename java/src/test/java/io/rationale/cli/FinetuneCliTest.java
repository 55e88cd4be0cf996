package io.rationale.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code finetune}'s and {@code eval-compare}'s errors: one line, exit 2 for usage (the work itself: FineTuneTest,
 * ComparisonTest); {@code --adapter} on the command line: {@code inspect} lists the modules and the scale, {@code logits}
 * merged and {@code --unmerged} agree within 1e-5 of the largest logit and differ from the base model, and
 * {@code --unmerged} on {@code --device cuda-emu} agrees with the cpu's within 1e-4 of max(1, the largest logit).
 */
class FinetuneCliTest {
    @TempDir
    Path tmp;

    private void usage(String expected, String... extra) {
        String[] base = {"finetune", "--model", CliRun.STORIES.toString(), "--dataset", "jsonl:" + tmp.resolve("none.jsonl"), "--out", tmp.resolve("o").toString()};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliRun r = CliRun.of(args);
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void badOptionsAreUsageErrors() {
        usage("--targets: unknown module 'lm_head'", "--targets", "q_proj,lm_head");
        usage("--rank must be >= 1", "--rank", "0");
        usage("--val-fraction must be in (0, 1)", "--val-fraction", "1");
        usage("--schedule must be cosine, linear or constant", "--schedule", "step");
        usage("unknown device 'tpu'", "--device", "tpu");
    }

    @Test
    void aMissingDatasetIsOneLine() {
        CliRun r = CliRun.of("finetune", "--model", CliRun.STORIES.toString(), "--dataset", "jsonl:" + tmp.resolve("none.jsonl"), "--out", tmp.resolve("o").toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("none.jsonl: not found"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(!java.nio.file.Files.exists(tmp.resolve("o")), "a failed finetune created its --out folder");
    }

    @Test
    void evalCompareErrorsAreOneLine() {
        CliRun r = CliRun.of("eval-compare", tmp.resolve("a").toString(), tmp.resolve("b").toString());
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("run.json: no such file (not an eval results folder)"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        CliRun u = CliRun.of("eval-compare", "--names", "one", tmp.resolve("a").toString(), tmp.resolve("b").toString());
        assertEquals(2, u.exitCode(), u.err());
        assertTrue(u.err().contains("--names needs two names"), u.err());
    }

    /** A PEFT folder for stories260K: q_proj and down_proj of every layer, rank 2, random A and B, written by PeftWriter. */
    private Path adapter() {
        io.rationale.model.ModelConfig c = io.rationale.model.ModelConfig.load(CliRun.STORIES);
        java.util.Random r = new java.util.Random(5);
        java.util.List<io.rationale.engine.Lora.Spec> specs = new java.util.ArrayList<>();
        var targets = java.util.List.of(io.rationale.engine.Lora.Projection.Q, io.rationale.engine.Lora.Projection.DOWN);
        for (int l = 0; l < c.numLayers(); l++)
            for (var p : targets) {
                int[] sh = p.shape(c);
                float[] a = new float[2 * sh[1]], b = new float[sh[0] * 2];
                for (int i = 0; i < a.length; i++) a[i] = (float) (0.3 * r.nextGaussian());
                for (int i = 0; i < b.length; i++) b[i] = (float) (0.3 * r.nextGaussian());
                specs.add(new io.rationale.engine.Lora.Spec("t", l, p, 2, 2f, a, b));
            }
        Path dir = tmp.resolve("adapter");
        io.rationale.lora.PeftWriter.write(dir, io.rationale.engine.Lora.of(c, specs),
                io.rationale.lora.PeftConfig.json("stories260K-hf", 2, 4, false, targets));
        return dir;
    }

    @Test
    void adaptersOnTheCommandLine() throws Exception {
        Path ad = adapter();
        CliRun inspect = CliRun.of("inspect", "--model", CliRun.STORIES.toString(), "--adapter", ad + ":0.5");
        assertEquals(0, inspect.exitCode(), inspect.err());
        assertTrue(inspect.out().contains("10 modules on q_proj, down_proj") && inspect.out().contains("model.layers.4.mlp.down_proj")
                && inspect.out().contains("0.5 (--adapter scale)"), inspect.out());

        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        String[] base = {"logits", "--model", CliRun.STORIES.toString(), "--text", "Once upon a time", "--json", "--device", "cpu"};
        double[] plain = last(mapper, CliRun.of(base)), merged = last(mapper, CliRun.of(concat(base, "--adapter", ad.toString()))),
                unmerged = last(mapper, CliRun.of(concat(base, "--adapter", ad.toString(), "--unmerged")));
        double max = 0, diff = 0, moved = 0;
        for (int i = 0; i < plain.length; i++) {
            max = Math.max(max, Math.abs(merged[i]));
            diff = Math.max(diff, Math.abs(merged[i] - unmerged[i]));
            moved = Math.max(moved, Math.abs(merged[i] - plain[i]));
        }
        assertTrue(moved > 0.1, "the adapter changes nothing: " + moved);
        assertTrue(diff <= 1e-5 * max, "merged and unmerged differ by " + diff + " of " + max);
        if (io.rationale.engine.TestBackends.emulatedDeviceBuilt()) {   // the unmerged branch on the CUDA backend: as the cpu's, f32 tolerance 1e-4
            String[] emu = base.clone();
            emu[emu.length - 1] = "cuda-emu";
            double[] dev = last(mapper, CliRun.of(concat(emu, "--adapter", ad.toString(), "--unmerged")));
            double d = 0;
            for (int i = 0; i < plain.length; i++) d = Math.max(d, Math.abs(dev[i] - unmerged[i]));
            assertTrue(d <= 1e-4 * Math.max(1, max), "cuda-emu and cpu unmerged logits differ by " + d + " of " + max);
        }

        CliRun bad = CliRun.of(concat(base, "--unmerged"));
        assertEquals(2, bad.exitCode(), bad.err());
        assertTrue(bad.err().contains("--unmerged needs --adapter"), bad.err());
    }

    private static double[] last(com.fasterxml.jackson.databind.ObjectMapper m, CliRun r) throws Exception {
        assertEquals(0, r.exitCode(), r.err());
        var node = m.readTree(r.out()).get("logits_last");
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) out[i] = node.get(i).asDouble();
        return out;
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
