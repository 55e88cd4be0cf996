package io.rationale.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.attribution.Attribution;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.engine.FlipBatch;
import io.rationale.engine.FlipScores;
import io.rationale.engine.KvCache;
import io.rationale.engine.LabelLogits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * The attribution half of the GPU check ({@code scripts/gpu-check.sh}, part 2 of the CUDA backend): for each model
 * shape (weights-tools presets, bf16, random weights) and input length, side by side in one run on one device, the
 * wall time (median of {@code --repeat} after one warm-up run; everything it computes is back on the host when it
 * returns) of
 * <ul>
 * <li>one forward of the input (last logits);</li>
 * <li>input_x_gradient and attnlrp through {@link Attributor} (a recorded forward, one backward, the reduction over
 *     the hidden dimension): targets ≤ 2.2 × the forward;</li>
 * <li>integrated gradients with k steps (the steps batched on the device by the memory planner, plus the input's and
 *     the baseline's forwards): target ≤ 0.8·k × input_x_gradient;</li>
 * <li>a masked-batch flip evaluation of 10 variants ({@link Backend#forwardLabelLogits}: the prompt prefix, the
 *     first 7/8 of the input, cached once; each variant is the last eighth with a different quarter of it deleted,
 *     run after a fork of the prefix, all in one batch, the label logits picked on the device): target ≤ 2.5 × the
 *     forward, the prefix's prefill not counted (the evaluation has it from scoring the original); with it, reported
 *     too; and the same variants through the fused {@link Backend#flipEvaluation} (built on the device from
 *     rankings, probabilities and metrics on the device), with whether its variants and predictions are the same.</li>
 * </ul>
 * With {@code --models DIR} the models are written there (and reused when present) and, per preset and length, the
 * input ids and the engine's attnlrp relevance are written for the PyTorch + LXT peer
 * ({@code benchmarks/peers/lxt_attnlrp_peer.py}), which runs on the same weights and inputs.
 *
 * <p>Usage: {@code GpuCheckAttribution --device cuda|cuda-emu --presets llama-3.2-1b,llama-3.1-8b --lengths 128,1024
 * --steps 32 --repeat 3 --models DIR --out FILE.json}.
 */
public final class GpuCheckAttribution {
    private GpuCheckAttribution() {}

    public static void main(String[] argv) throws IOException {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--device", "cuda", "--presets", "llama-3.2-1b,llama-3.1-8b",
                "--lengths", "128,1024", "--steps", "32", "--repeat", "3", "--models", "", "--out", "gpu-check-attribution.json"));
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!a.containsKey(argv[i])) throw new IllegalArgumentException("unknown option " + argv[i] + " (known: " + a.keySet() + ")");
            a.put(argv[i], argv[i + 1]);
        }
        int steps = Integer.parseInt(a.get("--steps")), repeat = Integer.parseInt(a.get("--repeat"));
        int[] lengths = Arrays.stream(a.get("--lengths").split(",")).mapToInt(Integer::parseInt).toArray();
        Path models = a.get("--models").isBlank() ? Files.createTempDirectory("gpu-check-models-") : Path.of(a.get("--models"));
        boolean keep = !a.get("--models").isBlank();
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("targets", Map.of("ixg_over_forward", 2.2, "attnlrp_over_forward", 2.2, "ig_over_k_ixg", 0.8, "flip10_over_forward", 2.5));
        List<Map<String, Object>> runs = new ArrayList<>();
        out.put("runs", runs);
        try {
            for (String preset : a.get("--presets").split(",")) {
                Path dir = models.resolve(preset);
                if (!Files.exists(dir.resolve("config.json"))) {
                    long t0 = System.nanoTime();
                    var spec = Presets.get(preset);
                    spec.dtype = io.rationale.tools.DType.BF16;
                    TinyModel.write(spec, 0, dir, 0, Runtime.getRuntime().availableProcessors(), null);
                    System.err.printf("gpu-check-attribution: wrote %s in %.1f s%n", preset, (System.nanoTime() - t0) / 1e9);
                }
                try (Model model = Model.load(dir)) {
                    CudaDevice device = a.get("--device").equals("cuda-emu") ? CudaDevice.openEmulated() : CudaDevice.open(CudaDriver.Kind.REAL, 0);
                    try (CudaBackend b = new CudaBackend(model, device)) {
                        for (int T : lengths) {
                            Map<String, Object> r = measure(b, model.config(), T, steps, repeat, keep ? dir.resolve("peer-input-" + T + ".json") : null, om);
                            r.put("preset", preset);
                            r.put("device", b.device());
                            runs.add(r);
                            System.err.println("gpu-check-attribution: " + om.writeValueAsString(r));
                        }
                    }
                }
            }
        } finally {
            if (!keep) try (var s = Files.walk(models)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        om.writeValue(Path.of(a.get("--out")).toFile(), out);
        System.out.println(om.writeValueAsString(out));
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Wall milliseconds of {@code body}, median of {@code repeat} runs after one warm-up run. */
    private static double millis(int repeat, Supplier<?> body) {
        body.get();
        double[] t = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            long t0 = System.nanoTime();
            body.get();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        return median(t);
    }

    static Map<String, Object> measure(CudaBackend b, ModelConfig c, int T, int steps, int repeat, Path peerInput, ObjectMapper om)
            throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("tokens", T);
        Random rnd = new Random(T);
        int[] ids = new int[T];
        for (int i = 0; i < T; i++) ids[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
        AttributionInput in = AttributionInput.ofIds(ids, null);
        Attributor at = new Attributor(b);

        double forward = millis(repeat, () -> b.forward(ids, null, LogitsMode.LAST));
        double ixg = millis(repeat, () -> at.attribute(in, TargetSpec.argmaxLogit(), Method.INPUT_X_GRADIENT, Options.defaults()));
        double lrp = millis(repeat, () -> at.attribute(in, TargetSpec.argmaxLogit(), Method.ATTNLRP, Options.defaults()));
        Options ig = Options.defaults().withSteps(steps).withBaselineToken(0);
        Attribution[] igLast = new Attribution[1];
        double igMs = millis(Math.max(1, repeat / 2), () -> igLast[0] = at.attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, ig));
        r.put("forward_ms", forward);
        r.put("ixg_ms", ixg);
        r.put("attnlrp_ms", lrp);
        r.put("ig_steps", steps);
        r.put("ig_ms", igMs);
        r.put("ig_batches", igLast[0].extras().get("batches"));
        r.put("ig_recompute", igLast[0].extras().get("recompute"));
        r.put("ixg_over_forward", ixg / forward);
        r.put("attnlrp_over_forward", lrp / forward);
        r.put("ig_over_k_ixg", igMs / (steps * ixg));

        // the flip evaluation: the prefix cached once, 10 variants of the last eighth after forks of it
        int rest = Math.max(8, T / 8), p = T - rest;
        int[] prefix = Arrays.copyOf(ids, p);
        List<int[]> variants = new ArrayList<>();
        for (int v = 0; v < 10; v++) {
            int len = Math.max(1, rest / 4), from = v * (rest - len) / 9;        // a different quarter each
            int[] x = new int[rest - len];
            int n = 0;
            for (int i = 0; i < rest; i++) if (i < from || i >= from + len) x[n++] = ids[p + i];
            variants.add(x);
        }
        int[][] labels = {{1, 2}, {3}, {4, 5, 6}};
        double flip, flipWithPrefill;
        try (KvCache cache = b.newCache()) {
            b.forward(prefix, cache, LogitsMode.NONE);
            LabelLogits[] got = new LabelLogits[variants.size()];
            flip = millis(repeat, () -> b.forwardLabelLogits(cache, null, variants, 0, labels, (l, i) -> got[i] = l));
        }
        flipWithPrefill = millis(repeat, () -> {
            try (KvCache cache = b.newCache()) {
                b.forward(prefix, cache, LogitsMode.NONE);
                return b.forwardLabelLogits(cache, null, variants, 0, labels, (l, i) -> { });
            }
        });
        // the same 10 variants through the fused path (Backend#flipEvaluation): built on the device from rankings
        // (the last eighth's tokens as one field of one-token words, each variant deleting its quarter), label
        // probabilities and metrics on the device
        int[] fieldWords = {0, rest}, wordStart = new int[rest], wordEnd = new int[rest], none = new int[rest], next = new int[rest];
        boolean[] glue = new boolean[rest];
        for (int i = 0; i < rest; i++) {
            wordStart[i] = i;
            wordEnd[i] = i + 1;
            none[i] = -1;
            next[i] = rest;
        }
        int[] formStart = new int[rest * 2 * FlipBatch.BREAK * FlipBatch.BREAK], formLen = new int[formStart.length];
        Arrays.fill(formStart, FlipBatch.IDENTITY);
        int[][] rankings = new int[10][];
        int[] vr = new int[11], vs = new int[11], reqs = new int[10];
        boolean[] vk = new boolean[11];
        vr[0] = -1;
        for (int v = 0; v < 10; v++) {
            int len = Math.max(1, rest / 4), from = v * (rest - len) / 9;
            rankings[v] = new int[len];
            for (int i = 0; i < len; i++) rankings[v][i] = from + i;
            vr[v + 1] = v;
            vs[v + 1] = len;
            reqs[v] = v + 1;
        }
        FlipBatch fb = new FlipBatch(Arrays.copyOfRange(ids, p, T), glue, fieldWords, wordStart, wordEnd, none, next, FlipBatch.BREAK, false,
                new int[0], formStart, formLen, new int[]{FlipBatch.ABSENT}, new int[]{0}, rankings, vr, vs, vk, reqs, reqs);
        FlipBatch.Original orig = new FlipBatch.Original(new double[]{0.5, 0.25, 0.25}, 0);
        double fused;
        boolean samePredictions = true;
        try (KvCache cache = b.newCache()) {
            b.forward(prefix, cache, LogitsMode.NONE);
            LabelLogits[] got = new LabelLogits[variants.size()];
            b.forwardLabelLogits(cache, null, variants, 0, labels, (l, i) -> got[i] = l);
            FlipScores[] last = new FlipScores[1];
            fused = millis(repeat, () -> (last[0] = b.flipEvaluation(cache, fb, labels, 0, orig)).forwards());
            for (int v = 0; v < 10; v++) {
                samePredictions &= Arrays.equals(fb.tokens(v + 1), variants.get(v)) && last[0].predicted()[v + 1] == got[v].predicted();
            }
        }
        r.put("flip10_fused_ms", fused);
        r.put("flip10_fused_over_forward", fused / forward);
        r.put("flip10_fused_same_predictions", samePredictions);
        r.put("flip10_variant_tokens", variants.stream().mapToInt(x -> x.length).sum());
        r.put("flip10_ms", flip);
        r.put("flip10_with_prefill_ms", flipWithPrefill);
        r.put("flip10_over_forward", flip / forward);

        if (peerInput != null) {
            Attribution lrpOnce = at.attribute(in, TargetSpec.argmaxLogit(), Method.ATTNLRP, Options.defaults());
            Map<String, Object> peer = new LinkedHashMap<>();
            peer.put("ids", ids);
            peer.put("target_id", lrpOnce.target().spec().tokenId());
            peer.put("attnlrp", lrpOnce.scores());
            peer.put("attnlrp_ms", lrp);
            peer.put("forward_ms", forward);
            om.writeValue(peerInput.toFile(), peer);
            r.put("peer_input", peerInput.toString());
        }
        return r;
    }
}
