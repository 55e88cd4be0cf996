package io.rationale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.attribution.AttributionBatch;
import io.rationale.attribution.AttributionInput;
import io.rationale.attribution.AttributionSet;
import io.rationale.attribution.Attributor;
import io.rationale.attribution.Method;
import io.rationale.attribution.Options;
import io.rationale.attribution.TargetSpec;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.DeviceProbe;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.perf.CostModel;
import io.rationale.perf.CpuCalibration;
import io.rationale.perf.MachineInfo;
import io.rationale.perf.MatrixReport;
import io.rationale.perf.Quantiles;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import io.rationale.dataset.Word;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * {@code bench matrix}: the cost of every operation over devices, input lengths and batch sizes, with a roofline.
 *
 * <p>Cells: device ({@code --device}, opened through {@link Backends#open}) × operation ({@code --ops}) × input
 * length ({@code --lengths}) × batch ({@code --batch}). Operations:
 * <ul>
 *   <li>{@code prefill}: one batched forward of B random prompts of T tokens from position 0, last-position logits —
 *       "one forward", the unit of {@code over_forward};</li>
 *   <li>{@code decode}: {@code --decode-tokens} greedy steps of B sequences after T prefilled positions (each run
 *       continues forks of the same caches); a call is one step;</li>
 *   <li>the attribution methods saliency, input_x_gradient, attnlrp, cplrp, attention, attention_rollout (B inputs in
 *       one {@link AttributionBatch}), pe_lrp, {@code integrated_gradients:k} for each {@code --steps} k and occlusion
 *       (these do not batch across inputs: B inputs one after another), on the bench's English text cut to T tokens
 *       (random ids when the model has no usable tokenizer), argmax-logit target;</li>
 *   <li>{@code flip}: the masked-batch flip evaluation's engine work: a prompt's first half prefilled once, then
 *       {@code --flip-variants} masked variants of its second half (every fifth token removed, shifted per variant)
 *       scored as label logits of 5 label tokens in packed batches ({@link Backend#forwardLabelLogits}); B prompts one
 *       after another.</li>
 * </ul>
 * Each cell warms up until its times settle ({@link Timing}), then reports the median of {@code --repeat} runs, the
 * interquartile range and median absolute deviation, tokens/s, the peak heap of the run (the JVM's heap pools'
 * peak usage, reset before the cell), the device memory in use after it (backends with a {@link DeviceProbe}), and
 * the {@link CostModel}: FLOPs and bytes per call, the fraction of the calibrated peaks reached and of the roofline
 * ({@code max(FLOPs / peak FLOP/s, bytes / peak bandwidth)} over the measured time).
 *
 * <p>Peaks: measured once per device and run ({@link CpuCalibration} for the CPU; the device's {@link DeviceProbe}
 * otherwise, e.g. cuBLAS GEMM and copy bandwidth on CUDA, the emulator's own on cuda-emu), kept in the results; a
 * resumed run reuses the peaks it stored.
 *
 * <p>Output: progress on stderr, a table on stdout at the end ({@code --json}: one JSON object instead),
 * {@code --out FILE} (JSON, rewritten after every cell; a rerun with the same file skips the cells it holds, so a
 * killed run resumes without losing or repeating a cell; the file must hold the same model and the same threads,
 * decode steps, flip variants and calibration buffer), {@code --csv FILE}, {@code --html FILE} (a self-contained
 * page with inline SVG plots), each rewritten after every cell.
 */
@Command(name = "matrix", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Time every operation over devices, input lengths and batch sizes, with FLOPs, bytes and the fraction of "
                + "calibrated peaks reached (roofline).",
                "Writes a table, JSON (--out, resumable), CSV (--csv) and a self-contained HTML page with plots (--html)."})
public final class BenchMatrixCommand implements Callable<Integer> {

    /** Operations in their default order. */
    static final List<String> OPS = List.of("prefill", "decode", "saliency", "input_x_gradient", "attnlrp", "cplrp", "pe_lrp",
            "attention", "attention_rollout", "integrated_gradients", "occlusion", "flip");

    @ArgGroup(exclusive = true, multiplicity = "1")
    BenchCommand.Source source;

    @Option(names = "--device", split = ",", defaultValue = "cpu", paramLabel = "DEVICE",
            description = "Devices, comma-separated: cpu, cuda, cuda:N, cuda-emu (default: ${DEFAULT-VALUE}).")
    List<String> devices;

    @Option(names = "--ops", split = ",", paramLabel = "OP",
            description = "Operations (default: all): prefill, decode, saliency, input_x_gradient, attnlrp, cplrp, pe_lrp, attention, "
                    + "attention_rollout, integrated_gradients (each --steps k), occlusion, flip.")
    List<String> ops;

    @Option(names = "--steps", split = ",", defaultValue = "8,32", paramLabel = "K", description = "Integrated gradients steps (default: ${DEFAULT-VALUE}).")
    int[] steps;

    @Option(names = "--lengths", split = ",", defaultValue = "64,512", paramLabel = "T", description = "Input lengths in tokens (default: ${DEFAULT-VALUE}).")
    int[] lengths;

    @Option(names = "--batch", split = ",", defaultValue = "1", paramLabel = "B", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    int[] batches;

    @Option(names = "--decode-tokens", defaultValue = "8", paramLabel = "N", description = "Decode steps per run (default: ${DEFAULT-VALUE}).")
    int decodeTokens;

    @Option(names = "--flip-variants", defaultValue = "16", paramLabel = "N", description = "Masked variants per flip prompt (default: ${DEFAULT-VALUE}).")
    int flipVariants;

    @Option(names = "--repeat", defaultValue = "5", paramLabel = "N", description = "Timed runs per cell (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N", description = "Fewest warm-up runs; more until two agree within 10%%; 0: no warm-up at all (cold times) (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--max-warmup", defaultValue = "20", paramLabel = "N", description = "Most warm-up runs per cell (default: ${DEFAULT-VALUE}).")
    int maxWarmup;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads of the engine and the CPU calibration (default: all processors).")
    Integer threads;

    @Option(names = "--calibration-mib", defaultValue = "256", paramLabel = "MIB",
            description = "Buffer of the CPU read-bandwidth calibration, much larger than the caches (default: ${DEFAULT-VALUE}).")
    int calibrationMib;

    @Option(names = "--json", description = "Print one JSON object at the end instead of the table (progress goes to stderr).")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "JSON results, rewritten after every cell; rerun with the same FILE to resume.")
    Path out;

    @Option(names = "--csv", paramLabel = "FILE", description = "CSV, one row per cell.")
    Path csv;

    @Option(names = "--html", paramLabel = "FILE", description = "Self-contained HTML page with plots.")
    Path html;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    private final Map<String, Object> results = new LinkedHashMap<>();
    private final List<Map<String, Object>> cells = new ArrayList<>();
    private final Map<String, Map<String, Object>> calibration = new LinkedHashMap<>();
    private final Set<String> done = new LinkedHashSet<>();
    private Timing timing;
    private int total, measured, skipped;

    /** One operation to run: its name, and k for integrated gradients (else 0). */
    record Op(String name, int k) {
        String label() { return k > 0 ? name + ":" + k : name; }
    }

    @Override
    public Integer call() throws IOException {
        List<Op> opList = Usage.check(spec, this::validate);
        List<Device> devs = Usage.check(spec, () -> devices.stream().map(Device::parse).toList());
        var preset = source.preset == null ? null : Usage.check(spec, () -> Presets.get(source.preset));
        timing = new Timing(warmup, maxWarmup, repeat, System::nanoTime);
        int maxLen = Arrays.stream(lengths).max().orElseThrow() + (opList.stream().anyMatch(o -> o.name.equals("decode")) ? decodeTokens : 0);
        if (source.model != null) {
            if (!Files.isDirectory(source.model)) throw new IllegalArgumentException(source.model + ": not a folder");
            checkLength(maxLen, ModelConfig.load(source.model).maxPositionEmbeddings());
            resume();
            run(source.model, opList, devs);
            return 0;
        }
        checkLength(maxLen, preset.maxPositions);
        resume();
        Path temporary = BenchCommand.temporaryModelFolder();
        try {
            System.err.printf("bench matrix: writing the %s preset (seed 0) to %s ...%n", source.preset, temporary);
            TinyModel.write(preset, 0, temporary, 0, Runtime.getRuntime().availableProcessors(), null);
            run(temporary, opList, devs);
            return 0;
        } finally {
            BenchCommand.deleteTemporary(temporary);
        }
    }

    private List<Op> validate() {
        for (int t : lengths) if (t < 2) throw new IllegalArgumentException("--lengths must all be >= 2, got " + t);
        for (int b : batches) if (b < 1) throw new IllegalArgumentException("--batch must all be >= 1, got " + b);
        for (int k : steps) if (k < 1 || k > 4096) throw new IllegalArgumentException("--steps must all be in [1, 4096], got " + k);
        if (lengths.length == 0 || batches.length == 0 || steps.length == 0) throw new IllegalArgumentException("--lengths, --batch and --steps need a value each");
        if (decodeTokens < 1) throw new IllegalArgumentException("--decode-tokens must be >= 1, got " + decodeTokens);
        if (flipVariants < 1) throw new IllegalArgumentException("--flip-variants must be >= 1, got " + flipVariants);
        if (repeat < 1) throw new IllegalArgumentException("--repeat must be >= 1, got " + repeat);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        if (maxWarmup < warmup) throw new IllegalArgumentException("--max-warmup must be >= --warmup (" + warmup + "), got " + maxWarmup);
        if (threads != null && threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        if (calibrationMib < 1) throw new IllegalArgumentException("--calibration-mib must be >= 1, got " + calibrationMib);
        List<Op> list = new ArrayList<>();
        for (String o : ops == null ? OPS : ops) {
            String n = o.strip().toLowerCase(Locale.ROOT).replace('-', '_');
            if (n.equals("ig")) n = "integrated_gradients";
            if (!OPS.contains(n)) throw new IllegalArgumentException("unknown operation '" + o + "' in --ops (valid: " + String.join(", ", OPS) + ")");
            if (n.equals("integrated_gradients")) for (int k : steps) list.add(new Op(n, k));
            else list.add(new Op(n, 0));
        }
        if (list.isEmpty()) throw new IllegalArgumentException("--ops is empty");
        return List.copyOf(new LinkedHashSet<>(list));
    }

    private void checkLength(int needed, int max) {
        if (needed > max)
            throw new IllegalArgumentException("--lengths (plus --decode-tokens for decode) need " + needed
                    + " positions, more than the model's max_position_embeddings " + max);
    }

    /** The model's identity in the results: a resumed run must be on the same model. */
    private Map<String, Object> modelId(Model model) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", sourceId());
        m.put("weights", model.weightDtype().toString());
        m.putAll(model.config().shape());
        return m;
    }

    /** Reads what a previous run left in --out: its cells (skipped now) and calibrations (reused). */
    private void resume() throws IOException {
        if (out == null || !Files.isRegularFile(out)) return;
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(out.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(out + ": cannot resume, not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (j == null || !j.isObject() || !j.has("cells") || !j.has("model"))
            throw new IllegalArgumentException(out + ": cannot resume, not the results of bench matrix (no 'cells' and 'model')");
        ObjectMapper m = new ObjectMapper();
        results.put("resumed_model", m.convertValue(j.get("model"), Map.class));
        for (JsonNode c : j.get("cells")) {
            @SuppressWarnings("unchecked") Map<String, Object> cell = m.convertValue(c, LinkedHashMap.class);
            if (done.add(String.valueOf(cell.get("key")))) cells.add(cell);
        }
        if (j.has("calibration")) j.get("calibration").fields().forEachRemaining(e -> {
            @SuppressWarnings("unchecked") Map<String, Object> cal = m.convertValue(e.getValue(), LinkedHashMap.class);
            calibration.put(e.getKey(), cal);
        });
        Object src = ((Map<?, ?>) results.get("resumed_model")).get("source");
        String want = sourceId();
        if (!want.equals(src))
            throw new IllegalArgumentException(out + " holds results of another model (" + src + "), not " + want + "; use another --out");
        // cells measured with other settings would be mixed with these, and the stored calibration (made on the stored
        // number of threads) would be reused for them
        JsonNode had = j.get("settings");
        List<String> diffs = new ArrayList<>();
        if (had != null && had.isObject())
            identity().forEach((k, v) -> {
                JsonNode h = had.get(k);
                if (h != null && !h.isNull() && h.asLong() != v) diffs.add(k + " " + h.asText() + " there, " + v + " now");
            });
        if (!diffs.isEmpty())
            throw new IllegalArgumentException(out + " holds cells measured with other settings (" + String.join(", ", diffs)
                    + "); rerun with those or use another --out");
    }

    /** The settings that change what a cell measures or the peaks it is held against: a resumed run must keep them. */
    private Map<String, Long> identity() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("threads", (long) (threads == null ? Runtime.getRuntime().availableProcessors() : threads));
        m.put("decode_tokens", (long) decodeTokens);
        m.put("flip_variants", (long) flipVariants);
        m.put("calibration_mib", (long) calibrationMib);
        return m;
    }

    /** The {@code source} of the model identity: {@code preset:NAME} or the folder's absolute path. */
    private String sourceId() {
        return source.preset != null ? "preset:" + source.preset : source.model.toAbsolutePath().normalize().toString();
    }

    private void run(Path dir, List<Op> opList, List<Device> devs) {
        try (Model model = Model.load(dir)) {
            ModelConfig c = model.config();
            Map<String, Object> id = modelId(model);
            Object previous = results.remove("resumed_model");
            if (previous != null && !previous.equals(id))
                throw new IllegalArgumentException(out + " holds results of another model (" + previous + "), not " + id + "; use another --out");
            results.put("model", id);
            if (previous != null) System.err.printf("bench matrix: resuming %s: %d cell(s) already measured%n", out, cells.size());
            results.put("machine", MachineInfo.machine());
            results.put("commit", MachineInfo.commit());
            Map<String, Object> settings = new LinkedHashMap<>();
            settings.put("repeat", repeat);
            settings.put("warmup", "at least " + warmup + ", until two runs agree within " + Math.round(100 * Timing.SETTLED) + "%, at most " + maxWarmup);
            settings.putAll(identity());
            results.put("settings", settings);
            results.put("calibration", calibration);
            results.put("cost_model", "FLOPs: 2 x multiply-adds of the matrix products (causal attention); bytes: compulsory traffic "
                    + "(weights once per pass, KV cache, embeddings, the backward's record); see io.rationale.perf.CostModel");
            results.put("cells", cells);
            total = devs.size() * opList.size() * lengths.length * batches.length;
            CostModel cost = new CostModel(c, model.weightDtype().bytes);
            Tokenizer tok = null;
            try {
                if (Files.isRegularFile(dir.resolve(Tokenizer.FILE_NAME))) tok = Tokenizer.load(dir);
            } catch (RuntimeException e) {
                System.err.println("bench matrix: tokenizer not usable (" + Errors.oneLine(e) + "): random ids without words");
            }
            try {
                for (Device d : devs) runDevice(model, d, opList, cost, tok);
            } finally {
                if (tok != null) tok.close();
            }
            results.put("process_peak_rss_bytes", vmHwm());
            save();
            System.err.printf("bench matrix: %d cell(s) measured%s%n", measured, out == null ? "" : ", " + skipped + " resumed from " + out);
            if (json) System.out.println(Json.write(results));
            else System.out.print(MatrixReport.table(cells));
        }
    }

    private void runDevice(Model model, Device d, List<Op> opList, CostModel cost, Tokenizer tok) {
        ModelConfig c = model.config();
        List<String> todo = new ArrayList<>();
        for (Op op : opList) for (int t : lengths) for (int b : batches) todo.add(key(d, op, t, b));
        if (done.containsAll(todo)) {
            skipped += todo.size();
            progress(todo.size(), d + ": all cells already in " + out);
            return;
        }
        try (Backend backend = Backends.open(model, d, threads == null ? 0 : threads).backend()) {
            var probe = DeviceProbe.find(backend);
            Map<String, Object> peaks = calibration.get(d.toString());
            if (peaks == null) {
                System.err.printf("bench matrix: calibrating %s ...%n", d);
                if (probe.isPresent()) {
                    peaks = new LinkedHashMap<>(probe.get().calibrate(backend, 2));
                    String driver = probe.get().driver(backend);
                    if (driver != null) peaks.put("driver", driver);
                } else {
                    peaks = new LinkedHashMap<>(CpuCalibration.measure(threads == null ? 0 : threads, (long) calibrationMib << 20).json());
                }
                peaks.put("backend", backend.device());
                calibration.put(d.toString(), peaks);
                System.err.printf("bench matrix: %s peaks: %.4g GFLOP/s, %.4g GB/s (%s)%n", d, num(peaks.get("flops_per_s")) / 1e9,
                        num(peaks.get("bytes_per_s")) / 1e9, peaks.get("kind"));
                save();
            }
            double peakF = num(peaks.get("flops_per_s")), peakB = num(peaks.get("bytes_per_s"));
            Attributor attributor = new Attributor(backend);
            for (Op op : opList)
                for (int t : lengths)
                    for (int b : batches) {
                        String k = key(d, op, t, b);
                        if (done.contains(k)) {
                            skipped++;
                            progress(1, k + " (already measured)");
                            continue;
                        }
                        if (needsBackward(op) && !backend.supportsBackward()) {
                            progress(1, k + " skipped: " + backend.device() + " has no backward pass");
                            continue;
                        }
                        Map<String, Object> cell = measure(backend, attributor, tok, c, cost, op, t, b, probe.orElse(null));
                        cell.put("key", k);
                        cell.put("device", d.toString());
                        cell.put("backend", backend.device());
                        finish(cell, peakF, peakB);
                        Map<String, Object> ordered = new LinkedHashMap<>();
                        ordered.put("key", k);
                        ordered.putAll(cell);
                        cells.add(ordered);
                        done.add(k);
                        measured++;
                        save();
                        progress(1, String.format(Locale.ROOT, "%s: %.4g s/call, %.4g tokens/s, %.1f%% of roofline", k,
                                num(cell.get("seconds_per_call")), num(cell.get("tokens_per_s")), 100 * num(cell.get("pct_roofline"))));
                    }
        }
    }

    private static boolean needsBackward(Op op) {
        return switch (op.name) {
            case "saliency", "input_x_gradient", "attnlrp", "cplrp", "pe_lrp", "integrated_gradients" -> true;
            default -> false;
        };
    }

    static String key(Device d, Op op, int t, int b) { return d + "|" + op.label() + "|T=" + t + "|B=" + b; }

    private int shown;

    private void progress(int n, String what) {
        shown += n;
        int width = 24, fill = total == 0 ? width : (int) Math.round(width * (double) Math.min(shown, total) / total);
        System.err.printf("[%s%s] %d/%d %s%n", "#".repeat(fill), ".".repeat(width - fill), Math.min(shown, total), total, what);
    }

    // ------------------------------------------------------------------ one cell

    /** Caches made for one run, closed after it. */
    private record Caches(List<KvCache> list) implements AutoCloseable {
        @Override
        public void close() { for (KvCache c : list) c.close(); }
    }

    private Map<String, Object> measure(Backend backend, Attributor attributor, Tokenizer tok, ModelConfig c, CostModel cost, Op op, int t, int b,
                                        DeviceProbe probe) {
        resetHeapPeaks();
        Map<String, Object> cell = new LinkedHashMap<>();
        cell.put("op", op.name);
        if (op.k > 0) cell.put("steps", op.k);
        cell.put("length", t);
        cell.put("batch", b);
        Map<String, Object> extras = new LinkedHashMap<>();
        Timing.Stat s;
        CostModel.Cost perCall;
        double callsPerRun = 1, tokensPerRun = (double) b * t;
        Options o = Options.defaults();
        TargetSpec target = TargetSpec.argmaxLogit();
        switch (op.name) {
            case "prefill" -> {
                List<int[]> seqs = new ArrayList<>();
                for (int i = 0; i < b; i++) seqs.add(BenchCommand.randomIds(t, c.vocabSize(), 42 + i));
                s = timing.time(() -> null, x -> backend.forward(seqs, null, ForwardOptions.of(LogitsMode.LAST)));
                perCall = cost.forward(b, t);
            }
            case "decode" -> {
                List<KvCache> base = new ArrayList<>();
                int[] first = new int[b];
                for (int i = 0; i < b; i++) {
                    KvCache kc = backend.newCache();
                    first[i] = backend.forward(BenchCommand.randomIds(t, c.vocabSize(), 42 + i), kc, LogitsMode.LAST).argmax(0, 0);
                    base.add(kc);
                }
                try {
                    s = timing.time(() -> new Caches(base.stream().map(KvCache::fork).toList()), forks -> {
                        int[] tokIds = first.clone();
                        for (int step = 0; step < decodeTokens; step++) {
                            List<int[]> in = new ArrayList<>(b);
                            for (int i = 0; i < b; i++) in.add(new int[]{tokIds[i]});
                            var l = backend.forward(in, forks.list(), ForwardOptions.of(LogitsMode.LAST));
                            for (int i = 0; i < b; i++) tokIds[i] = l.argmax(i, 0);
                        }
                        return tokIds;
                    });
                } finally {
                    for (KvCache kc : base) kc.close();
                }
                callsPerRun = decodeTokens;
                tokensPerRun = (double) b * decodeTokens;
                perCall = cost.decodeStep(t, b, decodeTokens);
                extras.put("context", t);
                extras.put("steps_per_run", decodeTokens);
            }
            case "flip" -> {
                int prefix = t / 2;
                int[] ids = BenchCommand.randomIds(t, c.vocabSize(), 11);
                int[] prefixIds = Arrays.copyOf(ids, prefix);
                List<int[]> rests = flipVariants(ids, prefix, flipVariants);
                int[][] labels = {{1}, {2}, {3}, {4}, {5}};
                for (int[] l : labels) if (l[0] >= c.vocabSize()) throw new IllegalStateException("vocabulary too small for flip's label tokens");
                int[] passes = new int[1];
                s = timing.time(() -> null, x -> {
                    for (int i = 0; i < b; i++)
                        try (KvCache base = backend.newCache()) {
                            backend.forward(prefixIds, base, LogitsMode.LAST);
                            passes[0] = backend.forwardLabelLogits(base, null, rests, 0, labels, (ll, v) -> { });
                        }
                    return passes[0];
                });
                List<CostModel.Seq> seqs = rests.stream().map(r -> new CostModel.Seq(prefix, r.length, 1)).toList();
                perCall = cost.continuations(prefix, seqs, passes[0]).times(b);
                extras.put("prefix", prefix);
                extras.put("variants", rests.size());
                extras.put("variant_tokens", seqs.stream().mapToInt(CostModel.Seq::tokens).sum());
                extras.put("passes", passes[0]);
            }
            default -> {
                AttributionInput in = BenchCommand.attributionInput(tok, c.vocabSize(), t);
                Method m = Method.parse(op.name).getFirst();
                Options om = op.k > 0 ? o.withSteps(op.k) : o;
                boolean batched = b > 1 && AttributionBatch.BATCHABLE.contains(m);
                AttributionSet[] last = new AttributionSet[1];
                Supplier<Object> once = batched
                        ? () -> AttributionBatch.run(backend, Collections.nCopies(b, new AttributionBatch.Item(in, target, List.of(m), om)))
                        : () -> {
                    for (int i = 0; i < b; i++) last[0] = attributor.run(in, target, List.of(m), om);
                    return last[0];
                };
                s = timing.time(() -> null, x -> once.get());
                Map<String, Object> ex = last[0] != null && last[0].get(m) != null ? last[0].get(m).extras() : Map.of();
                extras.put("inputs", batched ? "one batch of " + b : b == 1 ? "one" : b + " one after another (no batching across inputs)");
                extras.put("words", in.words().size());
                switch (m) {
                    case INTEGRATED_GRADIENTS -> {
                        int nb = ex.get("batches") instanceof Number n ? n.intValue() : 1;
                        extras.put("batches", nb);
                        extras.put("recompute", ex.get("recompute"));
                        perCall = cost.integratedGradients(t, op.k, nb).times(b);
                    }
                    case OCCLUSION -> {
                        int nb = ex.get("batches") instanceof Number n ? n.intValue() : 1;
                        List<CostModel.Seq> seqs = occlusionVariants(in);
                        extras.put("variants", seqs.size());
                        extras.put("batches", nb);
                        perCall = cost.continuations(t, seqs, nb).times(b);
                    }
                    case ATTENTION, ATTENTION_ROLLOUT -> perCall = batched ? cost.forward(b, t) : cost.forward(1, t).times(b);
                    default -> perCall = batched ? cost.gradientMethod(b, t) : cost.gradientMethod(1, t).times(b);
                }
            }
        }
        cell.putAll(stats(s, callsPerRun));
        cell.put("tokens_per_s", tokensPerRun / s.median());
        cell.put("flops_per_call", perCall.flops());
        cell.put("bytes_per_call", perCall.bytes());
        cell.put("flops_over_forward", perCall.flops() / cost.forward(b, t).flops());
        cell.put("peak_heap_bytes", heapPeak());
        if (probe != null) cell.put("device_memory_used_bytes", probe.memoryUsed(backend));
        if (!extras.isEmpty()) cell.put("extras", extras);
        return cell;
    }

    /** Variant v of the flip prompt's second half: every fifth token removed, starting at offset v mod 5. */
    static List<int[]> flipVariants(int[] ids, int prefix, int n) {
        List<int[]> out = new ArrayList<>(n);
        for (int v = 0; v < n; v++) {
            int[] rest = new int[ids.length - prefix];
            int m = 0;
            for (int i = prefix; i < ids.length; i++) if ((i - prefix + v) % 5 != 0) rest[m++] = ids[i];
            if (m == 0) rest[m++] = ids[ids.length - 1];
            out.add(Arrays.copyOf(rest, m));
        }
        return out;
    }

    /** The continuations occlusion runs (as the {@link Attributor} builds them): per word, from its first token on. */
    static List<CostModel.Seq> occlusionVariants(AttributionInput in) {
        int[] ids = in.ids();
        List<CostModel.Seq> out = new ArrayList<>();
        List<Word> words = in.words();
        for (int k = 0; k < words.size(); k++) {
            boolean[] drop = new boolean[ids.length];
            int p = ids.length;
            for (int t : in.wordTokens(k)) {
                drop[t] = true;
                p = Math.min(p, t);
            }
            int n = 0;
            for (int i = p; i < ids.length; i++) if (!drop[i]) n++;
            if (p + n == 0) continue;
            if (n == 0) {
                n = 1;
                p--;
            }
            out.add(new CostModel.Seq(p, n, 1));
        }
        return out;
    }

    private static Map<String, Object> stats(Timing.Stat s, double callsPerRun) {
        double[] x = s.runs();
        double med = s.median();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seconds_per_call", med / callsPerRun);
        m.putAll(s.json());
        double iqr = Quantiles.quantile(x, 0.75) - Quantiles.quantile(x, 0.25);
        m.put("iqr_s", iqr);                                 // of the runs, as median_s, min_s, max_s, runs_s
        m.put("mad_s", Quantiles.median(Arrays.stream(x).map(v -> Math.abs(v - med)).toArray()));
        m.put("iqr_s_per_call", iqr / callsPerRun);          // beside seconds_per_call (a decode run is several calls)
        return m;
    }

    /** The roofline fields: achieved rates and fractions of the calibrated peaks. */
    static void finish(Map<String, Object> cell, double peakF, double peakB) {
        double sec = num(cell.get("seconds_per_call")), f = num(cell.get("flops_per_call")), by = num(cell.get("bytes_per_call"));
        cell.put("flops_per_s", f / sec);
        cell.put("bytes_per_s", by / sec);
        cell.put("pct_flops_peak", f / sec / peakF);
        cell.put("pct_bandwidth_peak", by / sec / peakB);
        double bound = Math.max(f / peakF, by / peakB);
        cell.put("roofline_s", bound);
        cell.put("bound", f / peakF >= by / peakB ? "compute" : "memory");
        cell.put("pct_roofline", bound / sec);
    }

    static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }

    private static void resetHeapPeaks() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) p.resetPeakUsage();
    }

    /** Sum of the heap pools' peak usage since the reset (an upper bound of the heap's peak: pools peak at different times). */
    private static long heapPeak() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) sum += p.getPeakUsage().getUsed();
        return sum;
    }

    /** VmHWM of /proc/self/status in bytes (the process's peak resident memory), or -1. */
    private static long vmHwm() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.substring(6).strip().split("\\s+")[0]) * 1024;
        } catch (IOException | RuntimeException e) {
            // no /proc: unknown
        }
        return -1;
    }

    private void save() {
        MatrixReport.addOverForward(cells);
        try {
            if (out != null) write(out, Json.write(results) + "\n");
            if (csv != null) write(csv, MatrixReport.csv(cells));
            if (html != null) write(html, MatrixReport.html(results, cells));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write results: " + e.getMessage(), e);
        }
    }

    /** Writes a results file whole or not at all (its folder created first). */
    static void write(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        io.rationale.eval.AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
    }
}
