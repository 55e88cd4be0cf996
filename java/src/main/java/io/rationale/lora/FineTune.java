package io.rationale.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.ForwardRecord;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Lora;
import io.rationale.engine.Model;
import io.rationale.eval.AtomicFiles;
import io.rationale.eval.FewShot;
import io.rationale.eval.LabelWords;
import io.rationale.eval.PromptBuilder;
import io.rationale.eval.RunManifest;
import io.rationale.eval.TaskTemplate;
import io.rationale.model.ModelConfig;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.DType;
import io.rationale.tools.SafeTensorsWriter;
import io.rationale.tools.TensorEntry;
import io.rationale.weights.SafeTensorsFile;
import io.rationale.weights.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * LoRA fine-tuning of a label-word classifier, exactly as {@code eval} classifies: the dataset kind's
 * {@link TaskTemplate}, its label words ({@link LabelWords#resolve}), {@link PromptBuilder#forTokenizer} (the chat
 * template when the tokenizer has one), {@code shots} demonstrations ({@link FewShot}, drawn from the training
 * split); the loss is the cross-entropy of the softmax over the label logits at the answer position (each label's
 * logit the max over its tokens' logits, as eval reads it; its gradient goes to the token that gave the max).
 *
 * <h2>Data</h2>
 * The dataset's examples minus the held-out ones, shuffled once (Fisher–Yates, {@code java.util.Random(seed)}), the
 * first {@code limit} kept (0: all); the first {@code round(valFraction·n)} (at least 1) are the validation split,
 * the rest the training split. Held out, never trained nor validated on: every example with human rationales, and
 * every example whose text (fields joined, lower-cased, whitespace collapsed) is that of an example of a
 * {@code --hold-out KIND:PATH} dataset; for kind {@code medicalbios} the rationale files next to the dataset
 * ({@code standard_biosbias_rationales.jsonl}, {@code contrastive_biosbias_rationales.jsonl}) are held out by default.
 * Prompts longer than the model's positions, and examples whose label set is not the dataset's, are skipped (counted).
 *
 * <h2>Training</h2>
 * Adapter modules of rank r on the target projections of every layer, scale {@code alpha / r} (or {@code / sqrt(r)}
 * with rsLoRA); A uniform in ±1/sqrt(in) (PEFT's Kaiming-uniform default), B zero, drawn from
 * {@code Random(seed)} module by module. The model runs them unmerged on the CPU backend (or the one of
 * {@link #onDevice}: the CUDA backend runs the same branch); each step is one recorded
 * forward of a batch, the loss's logit gradients, {@link Backend#backwardLora} (the engine's own backward), global
 * gradient-norm clipping, and {@link AdamW}. Learning rate: linear warmup over {@code round(warmup·total)} steps,
 * then cosine or linear decay to 0 (or constant). Epoch e visits the training split in the order of a Fisher–Yates
 * shuffle by {@code Random(seed + 1000003·(e + 1))}.
 *
 * <h2>Validation, checkpoints, resuming</h2>
 * Validation accuracy (argmax of the label logits, first label on ties) and loss before training (step 0: the base
 * model), after each epoch, and every {@code evalEvery} steps. The best adapter by validation accuracy (strictly
 * better; the earliest of equals) is written into {@code out} as a PEFT folder ({@link PeftWriter}) whenever it
 * changes. The trainer state (A, B, AdamW moments, the best adapter, the step, the history, the options) is saved
 * atomically into {@code out/trainer_state.safetensors} every {@code saveEvery} steps, after each epoch and at the
 * end; a run started again with the same options continues from it (the epoch orders are functions of the seed and
 * the epoch, so nothing else is needed). The resumed run continues from the saved arrays exactly; it matches an
 * uninterrupted run up to the CPU engine's own run-to-run float noise (its Vector API reductions and exponentials
 * give results that differ in the last bits before and after the JIT compiles them, so two runs of the same command
 * differ at about 1e-7 relative, resumed or not). Different options are refused with one line naming the first that
 * differs.
 * {@code finetune.json} records the options, the data, the label words and the history.
 */
public final class FineTune {
    public static final String STATE = "trainer_state.safetensors", RECORD = "finetune.json";
    static final int STATE_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Learning-rate schedules after warmup. */
    public enum Schedule {
        COSINE, LINEAR, CONSTANT;

        public static Schedule parse(String s) {
            for (Schedule x : values()) if (x.name().equalsIgnoreCase(s)) return x;
            throw new IllegalArgumentException("--schedule must be cosine, linear or constant, got '" + s + "'");
        }
    }

    /**
     * What to fine-tune and how.
     *
     * @param holdOut      extra datasets whose texts are held out; null: the default (see the class comment);
     *                     empty: none besides the dataset's own rationale-annotated examples
     * @param threads      CPU threads (0: all); results are bit for bit reproducible on the same count
     * @param stopAfter    stop (after saving) once this many steps are done, as if killed (0: never); tests use it
     */
    public record Config(Path modelDir, String dataset, Path out, int epochs, int limit, int rank, double alpha, boolean rslora,
                         List<Lora.Projection> targets, double lr, long seed, int batchSize, double valFraction, double warmup,
                         Schedule schedule, double weightDecay, double maxGradNorm, int shots, int saveEvery, int evalEvery,
                         List<String> holdOut, int threads, long stopAfter, boolean fresh) {
        public Config {
            if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
            if (limit < 0) throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
            if (rank < 1) throw new IllegalArgumentException("--rank must be >= 1, got " + rank);
            if (!Double.isFinite(alpha) || alpha <= 0) throw new IllegalArgumentException("--alpha must be > 0, got " + alpha);
            if (targets == null || targets.isEmpty()) throw new IllegalArgumentException("--targets: no target module");
            targets = List.copyOf(new java.util.LinkedHashSet<>(targets));
            if (!Double.isFinite(lr) || lr <= 0) throw new IllegalArgumentException("--lr must be > 0, got " + lr);
            if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
            if (!(valFraction > 0 && valFraction < 1)) throw new IllegalArgumentException("--val-fraction must be in (0, 1), got " + valFraction);
            if (!(warmup >= 0 && warmup < 1)) throw new IllegalArgumentException("--warmup must be in [0, 1), got " + warmup);
            if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) throw new IllegalArgumentException("--weight-decay must be >= 0, got " + weightDecay);
            if (!(maxGradNorm >= 0) || !Double.isFinite(maxGradNorm)) throw new IllegalArgumentException("--max-grad-norm must be >= 0, got " + maxGradNorm);
            if (shots < 0) throw new IllegalArgumentException("--shots must be >= 0, got " + shots);
            if (saveEvery < 1) throw new IllegalArgumentException("--save-every must be >= 1, got " + saveEvery);
            if (evalEvery < 0) throw new IllegalArgumentException("--eval-every must be >= 0, got " + evalEvery);
            if (stopAfter < 0) throw new IllegalArgumentException("stop-after must be >= 0, got " + stopAfter);
            if (schedule == null) schedule = Schedule.COSINE;
            holdOut = holdOut == null ? null : List.copyOf(holdOut);
        }

        /** The options that shape the result, by option name (what a resumed run must repeat). */
        public Map<String, String> fingerprint() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("--model", modelDir.toAbsolutePath().normalize().toString());
            m.put("--dataset", datasetSpecAbsolute(dataset));
            m.put("--epochs", String.valueOf(epochs));
            m.put("--limit", String.valueOf(limit));
            m.put("--rank", String.valueOf(rank));
            m.put("--alpha", num(alpha));
            m.put("--rslora", String.valueOf(rslora));
            m.put("--targets", String.join(",", targets.stream().map(Lora.Projection::moduleName).toList()));
            m.put("--lr", num(lr));
            m.put("--seed", String.valueOf(seed));
            m.put("--batch-size", String.valueOf(batchSize));
            m.put("--val-fraction", num(valFraction));
            m.put("--warmup", num(warmup));
            m.put("--schedule", schedule.name().toLowerCase(Locale.ROOT));
            m.put("--weight-decay", num(weightDecay));
            m.put("--max-grad-norm", num(maxGradNorm));
            m.put("--shots", String.valueOf(shots));
            m.put("--eval-every", String.valueOf(evalEvery));
            m.put("--hold-out", holdOut == null ? "(default)" : holdOut.isEmpty() ? "none"
                    : String.join(",", holdOut.stream().map(FineTune::datasetSpecAbsolute).toList()));
            return m;
        }
    }

    /**
     * One validation.
     *
     * @param step        optimiser steps done
     * @param trainLoss   mean training loss since the previous validation (NaN at step 0)
     * @param predictions per label, how many validation examples were predicted as it
     */
    public record Validation(long step, int epoch, double lr, double trainLoss, double valLoss, double valAccuracy, int[] predictions) {}

    /**
     * What a run did.
     *
     * @param stopped     it stopped at {@code stopAfter} before the end
     * @param bestA       per module, the best adapter's A (copies), module order of {@link #targetsOrder}
     * @param majority    the validation split's majority-class rate
     */
    public record Outcome(boolean stopped, long step, long totalSteps, int trainSize, int valSize, int heldOut, double majority,
                          String majorityLabel, List<Validation> history, Validation best, float[][] bestA, float[][] bestB,
                          List<String> labels, Map<String, String> labelWords, double seconds) {}

    private final Config config;
    private final PrintStream log;
    private Device device = Device.CPU;
    /** The run's inputs' content fingerprints ({@link #inputs}), set by {@link #run}. */
    private Map<String, String> inputs = Map.of();

    public FineTune(Config config, PrintStream progress) {
        this.config = config;
        this.log = progress;
    }

    /**
     * Trains on {@code d} (default {@link Device#CPU}): any backend with {@link Backend#supportsLoraGradients} (the
     * CPU, and the CUDA backend on a GPU or the emulated device). Not part of the options a resumed run must repeat:
     * the backends agree within float rounding, not bit for bit.
     */
    public FineTune onDevice(Device d) {
        if (d == null) throw new IllegalArgumentException("no device");
        this.device = d;
        return this;
    }

    /** A training or validation item: prompt ids and the gold label's index. */
    record Item(String id, int[] ids, int label) {}

    /** The data of a run. */
    record Data(List<Item> train, List<Item> val, int heldOut, int skipped, Map<String, Integer> skipReasons) {}

    // ------------------------------------------------------------------------------------------------ data

    static String datasetSpecAbsolute(String spec) {
        int colon = spec.indexOf(':');
        if (colon <= 0) return spec;
        return spec.substring(0, colon + 1) + Path.of(spec.substring(colon + 1)).toAbsolutePath().normalize();
    }

    /** An example's text for hold-out matching: fields joined by a line break, lower-cased, whitespace collapsed. */
    static String normalized(Example e) {
        StringBuilder b = new StringBuilder();
        for (TextField f : e.fields()) b.append(f.text()).append('\n');
        return String.join(" ", b.toString().toLowerCase(Locale.ROOT).trim().split("\\s+"));
    }

    /** The hold-out datasets of a run: the given ones, or the default for the dataset. */
    static List<String> holdOutSpecs(Config c, Dataset ds) {
        if (c.holdOut() != null) return c.holdOut();
        List<String> out = new ArrayList<>();
        if (ds.kind().equals("medicalbios")) {
            Path dir = ds.path().toAbsolutePath().getParent();
            for (String[] f : new String[][]{{"medicalbios", "standard_biosbias_rationales.jsonl"},
                    {"medicalbios-contrastive", "contrastive_biosbias_rationales.jsonl"}}) {
                Path p = dir.resolve(f[1]);
                if (Files.isRegularFile(p) && !p.equals(ds.path().toAbsolutePath())) out.add(f[0] + ":" + p);
            }
        }
        return out;
    }

    /**
     * What a resumed run must find unchanged besides the options, by name: the model folder (config.json's SHA-256,
     * the size of its weights, the SHA-256 of its tokenizer and template files: {@link RunManifest#modelFingerprint},
     * as eval compares it), the dataset and each hold-out dataset (size and SHA-256 of the file or folder given).
     */
    static Map<String, String> inputs(Config c, Dataset ds) {
        Map<String, String> m = new LinkedHashMap<>();
        RunManifest.Fingerprint f = RunManifest.modelFingerprint(c.modelDir());
        m.put("model " + c.modelDir().toAbsolutePath().normalize(), f.bytes() + " " + f.sha256() + " " + f.textSha256());
        m.put("dataset " + ds.path().toAbsolutePath().normalize(), content(ds.path()));
        for (String h : holdOutSpecs(c, ds)) {
            Path p = io.rationale.dataset.DatasetLoader.spec(h).path().toAbsolutePath().normalize();
            m.put("hold-out dataset " + p, content(p));
        }
        return m;
    }

    private static String content(Path p) {
        RunManifest.Fingerprint f = RunManifest.fileFingerprint(p);
        return f.bytes() + " " + f.sha256();
    }

    static <T> void shuffle(List<T> list, Random rng) {
        for (int i = list.size() - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            T t = list.get(i);
            list.set(i, list.get(j));
            list.set(j, t);
        }
    }

    private Data data(Dataset ds, Tokenizer tok, PromptBuilder prompts, LabelWords words, int maxPositions) {
        Set<String> held = new HashSet<>();
        List<String> specs = holdOutSpecs(config, ds);
        for (String s : specs) for (Example e : DatasetLoader.load(s).examples()) held.add(normalized(e));
        List<Example> pool = new ArrayList<>();
        int heldOut = 0;
        for (Example e : ds.examples()) {
            if (e.hasRationales() || held.contains(normalized(e))) heldOut++;
            else pool.add(e);
        }
        log.printf(Locale.ROOT, "finetune: %s: %d examples, %d held out (human rationales%s)%n", ds.path(), ds.size(), heldOut,
                specs.isEmpty() ? "" : " here or in " + String.join(", ", specs));
        shuffle(pool, new Random(config.seed()));
        if (config.limit() > 0 && pool.size() > config.limit()) pool = new ArrayList<>(pool.subList(0, config.limit()));
        int nVal = Math.max(1, (int) Math.round(config.valFraction() * pool.size()));
        if (pool.size() - nVal < 1)
            throw new IllegalArgumentException(ds.path() + ": " + pool.size() + " usable examples leave none for training (--val-fraction "
                    + num(config.valFraction()) + ", --limit " + config.limit() + ")");
        List<Example> valEx = pool.subList(0, nVal), trainEx = pool.subList(nVal, pool.size());
        FewShot fewShot = new FewShot(trainEx, config.shots(), config.seed());
        Map<String, Integer> reasons = new LinkedHashMap<>();
        List<Item> train = items(trainEx, prompts, fewShot, words, maxPositions, reasons);
        List<Item> val = items(valEx, prompts, fewShot, words, maxPositions, reasons);
        int skipped = reasons.values().stream().mapToInt(Integer::intValue).sum();
        if (train.isEmpty() || val.isEmpty())
            throw new IllegalArgumentException(ds.path() + ": no " + (train.isEmpty() ? "training" : "validation") + " example left after skipping "
                    + skipped + " " + reasons);
        return new Data(train, val, heldOut, skipped, reasons);
    }

    private static List<Item> items(List<Example> examples, PromptBuilder prompts, FewShot fewShot, LabelWords words, int maxPositions,
                                    Map<String, Integer> reasons) {
        List<Item> out = new ArrayList<>();
        Set<String> labels = new HashSet<>(words.labels());
        for (Example e : examples) {
            if (!new HashSet<>(e.labels()).equals(labels)) {
                reasons.merge("label set differs", 1, Integer::sum);
                continue;
            }
            int[] ids;
            try {
                ids = prompts.layout(e, fewShot.demosFor(e)).classify(e.fields().stream().map(TextField::text).toList()).ids();
            } catch (RuntimeException ex) {
                reasons.merge("prompt: " + ex.getMessage(), 1, Integer::sum);
                continue;
            }
            if (maxPositions > 0 && ids.length > maxPositions) {
                reasons.merge("prompt longer than the model's " + maxPositions + " positions", 1, Integer::sum);
                continue;
            }
            out.add(new Item(e.id(), ids, words.indexOf(e.label())));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ run

    /** Per module: A, B, and their AdamW moments; plus the best adapter's A and B. */
    private static final class Params {
        final Lora lora;
        final float[][] ma, va, mb, vb, bestA, bestB;

        Params(Lora lora) {
            this.lora = lora;
            int n = lora.modules().size();
            ma = new float[n][]; va = new float[n][]; mb = new float[n][]; vb = new float[n][]; bestA = new float[n][]; bestB = new float[n][];
            for (Lora.Module m : lora.modules()) {
                int i = m.index();
                ma[i] = new float[m.a().length]; va[i] = new float[m.a().length];
                mb[i] = new float[m.b().length]; vb[i] = new float[m.b().length];
                bestA[i] = m.a().clone(); bestB[i] = m.b().clone();
            }
        }

        void keepBest() {
            for (Lora.Module m : lora.modules()) {
                System.arraycopy(m.a(), 0, bestA[m.index()], 0, m.a().length);
                System.arraycopy(m.b(), 0, bestB[m.index()], 0, m.b().length);
            }
        }

        /** A Lora over the best arrays (same modules, for writing). */
        Lora best(ModelConfig c) {
            List<Lora.Spec> specs = new ArrayList<>();
            for (Lora.Module m : lora.modules())
                specs.add(new Lora.Spec(m.name(), m.layer(), m.projection(), m.rank(), m.scale(), bestA[m.index()], bestB[m.index()]));
            return Lora.of(c, specs);
        }
    }

    /** The mutable progress a state file holds besides the arrays. */
    private static final class Progress {
        long step;
        double lossSum;
        int lossCount;
        Validation best;
        final List<Validation> history = new ArrayList<>();
    }

    /** The dataset's template, label words, prompt builder, and split. */
    record Setup(Dataset dataset, LabelWords words, PromptBuilder prompts, Data data) {}

    /** Reads the dataset and makes the split and the prompts (what {@link #run} trains on). */
    Setup setup(Tokenizer tok, ModelConfig mc) {
        Dataset ds = DatasetLoader.load(config.dataset());
        List<String> fieldNames = ds.examples().isEmpty() ? List.of() : ds.examples().get(0).fields().stream().map(TextField::name).toList();
        TaskTemplate template = TaskTemplate.forDataset(ds.kind(), ds.labels(), fieldNames);
        LabelWords words = LabelWords.resolve(tok, ds.labels(), template.labelWordCandidates());
        for (int id : words.allTokenIds())
            if (id >= mc.vocabSize()) throw new IllegalArgumentException("label token id " + id + " is outside the model's vocabulary");
        PromptBuilder prompts = PromptBuilder.forTokenizer(tok, template, words);
        return new Setup(ds, words, prompts, data(ds, tok, prompts, words, mc.maxPositionEmbeddings()));
    }

    /** Runs (or resumes) the fine-tuning. */
    public Outcome run() {
        long t0 = System.nanoTime();
        Config c = config;
        if (!Files.isDirectory(c.modelDir())) throw new IllegalArgumentException(c.modelDir() + ": not a folder (--model)");
        Path stateFile = c.out().resolve(STATE);
        try (Tokenizer tok = Tokenizer.load(c.modelDir())) {
            ModelConfig mc = ModelConfig.load(c.modelDir());
            Setup setup = setup(tok, mc);
            inputs = inputs(c, setup.dataset());
            prepareOut(stateFile);                 // after every input was read: a failed command leaves no folder
            LabelWords words = setup.words();
            PromptBuilder prompts = setup.prompts();
            Data data = setup.data();
            int[] valCounts = new int[words.size()];
            for (Item it : data.val()) valCounts[it.label()]++;
            int maj = 0;
            for (int i = 1; i < valCounts.length; i++) if (valCounts[i] > valCounts[maj]) maj = i;
            double majority = (double) valCounts[maj] / data.val().size();
            int spe = (data.train().size() + c.batchSize() - 1) / c.batchSize();
            long total = (long) spe * c.epochs();
            log.printf(Locale.ROOT, "finetune: %d training, %d validation examples (%d skipped%s); labels %s; prompts %s; majority class %s %.3f%n",
                    data.train().size(), data.val().size(), data.skipped(), data.skipped() == 0 ? "" : " " + data.skipReasons(), words.wordMap(),
                    prompts.chat() ? "chat template" : "plain completion", words.labels().get(maj), majority);

            Params params = new Params(initial(mc));
            Progress pr = new Progress();
            boolean resumed = Files.isRegularFile(stateFile);
            if (resumed) load(stateFile, params, pr, words.size(), total);

            Model base = Model.load(c.modelDir());
            try (Model model = base.withLora(params.lora);
                 Backend backend = Backends.open(model, device, c.threads()).backend()) {
                if (!backend.supportsLoraGradients()) throw new IllegalStateException(backend.device() + " has no LoRA weight gradients");
                log.printf(Locale.ROOT, "finetune: %s; %d steps (%d epochs of %d), batch %d; %s on %s; %,d trainable parameters%n",
                        backend.device(), total, c.epochs(), spe, c.batchSize(), params.lora.modules().size() + " modules of rank " + c.rank(),
                        String.join(",", c.targets().stream().map(Lora.Projection::moduleName).toList()), params.lora.parameters());
                if (resumed) log.printf(Locale.ROOT, "finetune: resuming %s at step %d of %d%n", stateFile, pr.step, total);
                Lora.Gradients grads = params.lora.newGradients();
                AdamW opt = AdamW.withWeightDecay(c.weightDecay());
                if (!resumed) {
                    Validation v0 = validate(backend, words, data.val(), 0, 0, 0, Double.NaN);
                    pr.history.add(v0);
                    pr.best = v0;
                    params.keepBest();
                    report(v0, pr.best, total, majority, words);
                    save(stateFile, params, pr, total, mc, words);
                }
                long firstStep = pr.step;
                int[] order = null;
                int orderEpoch = -1;
                boolean stopped = false;
                while (pr.step < total) {
                    int epoch = (int) (pr.step / spe), b = (int) (pr.step % spe);
                    if (epoch != orderEpoch) {
                        order = epochOrder(data.train().size(), epoch);
                        orderEpoch = epoch;
                    }
                    List<Item> batch = new ArrayList<>();
                    for (int i = b * c.batchSize(); i < Math.min(order.length, (b + 1) * c.batchSize()); i++) batch.add(data.train().get(order[i]));
                    double lr = lr(pr.step, total);
                    double loss = step(backend, params, grads, opt, batch, words, pr.step + 1, lr);
                    pr.step++;
                    pr.lossSum += loss;
                    pr.lossCount++;
                    boolean epochEnd = pr.step % spe == 0;
                    boolean validate = epochEnd || (c.evalEvery() > 0 && pr.step % c.evalEvery() == 0);
                    if (validate) {
                        Validation v = validate(backend, words, data.val(), pr.step, (int) ((pr.step - 1) / spe) + 1, lr,
                                pr.lossCount == 0 ? Double.NaN : pr.lossSum / pr.lossCount);
                        pr.lossSum = 0;
                        pr.lossCount = 0;
                        pr.history.add(v);
                        if (v.valAccuracy() > pr.best.valAccuracy()) {
                            pr.best = v;
                            params.keepBest();
                        }
                        report(v, pr.best, total, majority, words);
                    } else if (pr.step % Math.max(1, spe / 4) == 0) {
                        log.printf(Locale.ROOT, "step %d/%d (epoch %d/%d) loss %.4f lr %.3g%n", pr.step, total, epoch + 1, c.epochs(),
                                pr.lossSum / pr.lossCount, lr);
                    }
                    boolean stopHere = c.stopAfter() > 0 && pr.step == c.stopAfter() && pr.step < total;
                    if (validate || pr.step % c.saveEvery() == 0 || pr.step == total || stopHere) save(stateFile, params, pr, total, mc, words);
                    if (stopHere) {
                        log.printf(Locale.ROOT, "finetune: stopped after step %d of %d (state in %s); run the same command again to continue%n",
                                pr.step, total, stateFile);
                        stopped = true;
                        break;
                    }
                }
                // a run killed after its last state save but before the adapter was written resumes at the end: write it now
                if (pr.step == firstStep && !stopped) writeAdapter(params, mc);
                double secs = (System.nanoTime() - t0) / 1e9;
                Outcome o = new Outcome(stopped, pr.step, total, data.train().size(), data.val().size(), data.heldOut(), majority,
                        words.labels().get(maj), List.copyOf(pr.history), pr.best, copy(params.bestA), copy(params.bestB), words.labels(),
                        words.wordMap(), secs);
                writeRecord(o, data, backend.device(), prompts.chat());
                if (!stopped)
                    log.printf(Locale.ROOT, "finetune: done, %d steps; best validation accuracy %.4f at step %d (majority %.4f); adapter in %s%n",
                            pr.step, pr.best.valAccuracy(), pr.best.step(), majority, c.out());
                return o;
            }
        }
    }

    private void prepareOut(Path stateFile) {
        Path out = config.out();
        try {
            if (config.fresh()) {
                for (String f : List.of(STATE, RECORD, PeftAdapter.WEIGHTS, PeftConfig.FILE)) Files.deleteIfExists(out.resolve(f));
            } else if (!Files.isRegularFile(stateFile) && Files.isRegularFile(out.resolve(PeftConfig.FILE))) {
                throw new IllegalArgumentException(out + ": holds an adapter but no " + STATE + " to resume from: give another --out, or --fresh to overwrite");
            }
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + out + ": " + e.getMessage(), e);
        }
    }

    private Lora initial(ModelConfig mc) {
        Random r = new Random(config.seed());
        List<Lora.Spec> specs = new ArrayList<>();
        float scale = (float) (config.rslora() ? config.alpha() / Math.sqrt(config.rank()) : config.alpha() / config.rank());
        for (int l = 0; l < mc.numLayers(); l++)
            for (Lora.Projection p : Lora.Projection.values()) {
                if (!config.targets().contains(p)) continue;
                int[] shape = p.shape(mc);
                float[] a = new float[config.rank() * shape[1]], b = new float[shape[0] * config.rank()];
                double bound = 1 / Math.sqrt(shape[1]);
                for (int i = 0; i < a.length; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * bound);
                specs.add(new Lora.Spec("finetune: model.layers." + l + "." + p.path, l, p, config.rank(), scale, a, b));
            }
        return Lora.of(mc, specs);
    }

    int[] epochOrder(int n, int epoch) {
        List<Integer> idx = new ArrayList<>(n);
        for (int i = 0; i < n; i++) idx.add(i);
        shuffle(idx, new Random(config.seed() + 1000003L * (epoch + 1)));
        return idx.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The learning rate of step s (0-based) of total. */
    double lr(long s, long total) {
        long warm = Math.round(config.warmup() * total);
        if (s < warm) return config.lr() * (s + 1) / warm;
        double progress = total - warm <= 1 ? 0 : (double) (s - warm) / (total - warm);
        return switch (config.schedule()) {
            case COSINE -> config.lr() * 0.5 * (1 + Math.cos(Math.PI * progress));
            case LINEAR -> config.lr() * (1 - progress);
            case CONSTANT -> config.lr();
        };
    }

    /** One optimiser step on a batch; returns the batch's mean loss. */
    private double step(Backend backend, Params params, Lora.Gradients grads, AdamW opt, List<Item> batch, LabelWords words, long t, double lr) {
        List<int[]> seqs = new ArrayList<>(batch.size());
        for (Item it : batch) seqs.add(it.ids());
        int vocab = backend.model().config().vocabSize();
        double loss = 0;
        List<float[]> seeds = new ArrayList<>(batch.size());
        grads.zero();
        try (ForwardRecord rec = backend.newRecord(false, false)) {
            Logits l = backend.forward(seqs, null, LogitsMode.LAST, rec);
            for (int s = 0; s < batch.size(); s++) {
                LabelWords.Scores sc = words.score(l.last(s));
                int gold = batch.get(s).label();
                loss += -Math.log(Math.max(sc.probs()[gold], Double.MIN_NORMAL));
                float[] g = new float[vocab];
                for (int i = 0; i < sc.probs().length; i++) g[sc.bestTokens()[i]] += (float) ((sc.probs()[i] - (i == gold ? 1 : 0)) / batch.size());
                seeds.add(g);
            }
            backend.backwardLora(rec, seeds, grads);
        } catch (Exception e) {
            if (e instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e);
        }
        double clip = 1;
        if (config.maxGradNorm() > 0) {
            double sq = 0;
            for (Lora.Module m : params.lora.modules()) {
                for (float v : grads.a(m)) sq += (double) v * v;
                for (float v : grads.b(m)) sq += (double) v * v;
            }
            double norm = Math.sqrt(sq);
            if (norm > config.maxGradNorm()) clip = config.maxGradNorm() / (norm + 1e-6);
        }
        for (Lora.Module m : params.lora.modules()) {
            int i = m.index();
            opt.update(m.a(), grads.a(m), params.ma[i], params.va[i], t, lr, clip);
            opt.update(m.b(), grads.b(m), params.mb[i], params.vb[i], t, lr, clip);
        }
        return loss / batch.size();
    }

    private static final int VAL_BATCH = 16;

    /** Eval's reading of each item's answer position: the label logits of one forward of its prompt. */
    static LabelWords.Scores[] scores(Backend backend, LabelWords words, List<Item> items) {
        LabelWords.Scores[] out = new LabelWords.Scores[items.size()];
        for (int from = 0; from < items.size(); from += VAL_BATCH) {
            List<Item> batch = items.subList(from, Math.min(items.size(), from + VAL_BATCH));
            Logits l = backend.forward(batch.stream().map(Item::ids).toList(), LogitsMode.LAST);
            for (int s = 0; s < batch.size(); s++) out[from + s] = words.score(l.last(s));
        }
        return out;
    }

    private Validation validate(Backend backend, LabelWords words, List<Item> val, long step, int epoch, double lr, double trainLoss) {
        int correct = 0;
        double loss = 0;
        int[] pred = new int[words.size()];
        LabelWords.Scores[] sc = scores(backend, words, val);
        for (int i = 0; i < val.size(); i++) {
            pred[sc[i].predicted()]++;
            if (sc[i].predicted() == val.get(i).label()) correct++;
            loss += -Math.log(Math.max(sc[i].probs()[val.get(i).label()], Double.MIN_NORMAL));
        }
        return new Validation(step, epoch, lr, trainLoss, loss / val.size(), (double) correct / val.size(), pred);
    }

    private void report(Validation v, Validation best, long total, double majority, LabelWords words) {
        StringBuilder dist = new StringBuilder();
        for (int i = 0; i < v.predictions().length; i++) dist.append(i == 0 ? "" : " ").append(words.labels().get(i)).append('=').append(v.predictions()[i]);
        log.printf(Locale.ROOT, "step %d/%d%s%s val loss %.4f acc %.4f (best %.4f @ step %d; majority %.4f) predicted %s%n", v.step(), total,
                v.step() == 0 ? " (base model)" : " (epoch " + v.epoch() + ")", Double.isNaN(v.trainLoss()) ? "" : String.format(Locale.ROOT, " train loss %.4f", v.trainLoss()),
                v.valLoss(), v.valAccuracy(), best.valAccuracy(), best.step(), majority, dist);
    }

    private static float[][] copy(float[][] x) {
        float[][] out = new float[x.length][];
        for (int i = 0; i < x.length; i++) out[i] = x[i].clone();
        return out;
    }

    // ------------------------------------------------------------------------------------------------ state

    private static String num(double v) { return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v); }

    private static ObjectNode validationJson(Validation v) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", v.step());
        o.put("epoch", v.epoch());
        o.put("lr", v.lr());
        if (Double.isNaN(v.trainLoss())) o.putNull("train_loss");
        else o.put("train_loss", v.trainLoss());
        o.put("val_loss", v.valLoss());
        o.put("val_accuracy", v.valAccuracy());
        ArrayNode p = o.putArray("predicted");
        for (int x : v.predictions()) p.add(x);
        return o;
    }

    private static Validation validation(JsonNode o) {
        int[] p = new int[o.get("predicted").size()];
        for (int i = 0; i < p.length; i++) p[i] = o.get("predicted").get(i).asInt();
        return new Validation(o.get("step").asLong(), o.get("epoch").asInt(), o.get("lr").asDouble(),
                o.get("train_loss").isNull() ? Double.NaN : o.get("train_loss").asDouble(), o.get("val_loss").asDouble(),
                o.get("val_accuracy").asDouble(), p);
    }

    /** Saves the state (atomically), then the best adapter as a PEFT folder. */
    private void save(Path file, Params params, Progress pr, long total, ModelConfig mc, LabelWords words) {
        ObjectNode s = JSON.createObjectNode();
        s.put("version", STATE_VERSION);
        ObjectNode opts = s.putObject("options");
        config.fingerprint().forEach(opts::put);
        ObjectNode in = s.putObject("inputs");
        inputs.forEach(in::put);
        s.put("step", pr.step);
        s.put("total_steps", total);
        s.put("loss_sum", pr.lossSum);
        s.put("loss_count", pr.lossCount);
        s.put("labels", words.labels().size());
        s.set("best", validationJson(pr.best));
        ArrayNode h = s.putArray("history");
        for (Validation v : pr.history) h.add(validationJson(v));
        List<TensorEntry> entries = new ArrayList<>();
        for (Lora.Module m : params.lora.modules()) {
            int i = m.index();
            add(entries, "a." + i, m.a());
            add(entries, "b." + i, m.b());
            add(entries, "adam_m_a." + i, params.ma[i]);
            add(entries, "adam_v_a." + i, params.va[i]);
            add(entries, "adam_m_b." + i, params.mb[i]);
            add(entries, "adam_v_b." + i, params.vb[i]);
            add(entries, "best_a." + i, params.bestA[i]);
            add(entries, "best_b." + i, params.bestB[i]);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "rationale-finetune-state");
        meta.put("state", s.toString());
        new SafeTensorsWriter().threads(1).metadata(meta).durable(true)
                .writeFile(file, entries);
        writeAdapter(params, mc);
    }

    /** The best adapter so far as a PEFT folder in --out. */
    private void writeAdapter(Params params, ModelConfig mc) {
        PeftWriter.write(config.out(), params.best(mc), PeftConfig.json(config.modelDir().toAbsolutePath().normalize().toString(),
                config.rank(), config.alpha(), config.rslora(), config.targets()));
    }

    private static void add(List<TensorEntry> entries, String name, float[] v) {
        entries.add(TensorEntry.of(name, DType.F32, (start, dst, len) -> System.arraycopy(v, (int) start, dst, 0, len), v.length));
    }

    private void load(Path file, Params params, Progress pr, int labels, long total) {
        try (Arena arena = Arena.ofConfined()) {
            SafeTensorsFile st = SafeTensorsFile.map(file, arena);
            String text = st.metadata().get("state");
            if (text == null) throw new IllegalArgumentException(file + ": not a finetune trainer state (no 'state' metadata)");
            JsonNode s;
            try {
                s = JSON.readTree(text);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ": unreadable trainer state (" + e.getMessage() + ")");
            }
            if (s.path("version").asInt() != STATE_VERSION)
                throw new IllegalArgumentException(file + ": trainer state version " + s.path("version").asInt() + ", this build reads " + STATE_VERSION);
            Map<String, String> now = config.fingerprint();
            JsonNode was = s.get("options");
            for (Map.Entry<String, String> e : now.entrySet()) {
                JsonNode w = was.get(e.getKey());
                String before = w == null ? "(absent)" : w.asText();
                if (!before.equals(e.getValue()))
                    throw new IllegalArgumentException(file + ": this run was started with " + e.getKey() + " " + before + ", now " + e.getValue()
                            + ": rerun with the same options to continue, or give --fresh to start over");
            }
            for (Iterator<String> it = was.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!now.containsKey(k)) throw new IllegalArgumentException(file + ": this run was started with " + k + ", which this build does not know");
            }
            if (s.path("labels").asInt() != labels) throw new IllegalArgumentException(file + ": saved for " + s.path("labels").asInt() + " labels, the dataset has " + labels);
            JsonNode in = s.get("inputs");                 // absent in states written before it was kept: not compared
            if (in != null)
                for (Map.Entry<String, String> e : inputs.entrySet())
                    if (!e.getValue().equals(in.path(e.getKey()).asText(null)))
                        throw new IllegalArgumentException(file + ": the " + e.getKey() + " changed since this run started (" + (in.has(e.getKey())
                                ? "other content" : "not recorded then") + "): rerun on the same files to continue, or give --fresh to start over");
            if (s.path("total_steps").asLong(total) != total)
                throw new IllegalArgumentException(file + ": this run was started for " + s.path("total_steps").asLong() + " steps, the data now gives "
                        + total + ": rerun on the same files to continue, or give --fresh to start over");
            pr.step = s.get("step").asLong();
            pr.lossSum = s.get("loss_sum").asDouble();
            pr.lossCount = s.get("loss_count").asInt();
            pr.best = validation(s.get("best"));
            for (JsonNode v : s.get("history")) pr.history.add(validation(v));
            for (Lora.Module m : params.lora.modules()) {
                int i = m.index();
                read(st, file, "a." + i, m.a());
                read(st, file, "b." + i, m.b());
                read(st, file, "adam_m_a." + i, params.ma[i]);
                read(st, file, "adam_v_a." + i, params.va[i]);
                read(st, file, "adam_m_b." + i, params.mb[i]);
                read(st, file, "adam_v_b." + i, params.vb[i]);
                read(st, file, "best_a." + i, params.bestA[i]);
                read(st, file, "best_b." + i, params.bestB[i]);
            }
            if (st.tensors().size() != 8 * params.lora.modules().size())
                throw new IllegalArgumentException(file + ": holds " + st.tensors().size() + " tensors, expected " + 8 * params.lora.modules().size());
        }
    }

    private static void read(SafeTensorsFile st, Path file, String name, float[] into) {
        Tensor t = st.tensors().get(name);
        if (t == null) throw new IllegalArgumentException(file + ": no tensor " + name);
        if (t.numel() != into.length) throw new IllegalArgumentException(file + ": " + name + " holds " + t.numel() + " values, expected " + into.length);
        t.toFloat(0, into, 0, into.length);
    }

    private void writeRecord(Outcome o, Data data, String device, boolean chat) {
        ObjectNode r = JSON.createObjectNode();
        ObjectNode opts = r.putObject("options");
        config.fingerprint().forEach(opts::put);
        r.put("threads", config.threads());
        r.put("device", device);
        r.put("finished", !o.stopped());
        r.put("steps_done", o.step());
        r.put("total_steps", o.totalSteps());
        ObjectNode d = r.putObject("data");
        d.put("train", o.trainSize());
        d.put("validation", o.valSize());
        d.put("held_out", o.heldOut());
        d.put("skipped", data.skipped());
        ObjectNode sk = d.putObject("skip_reasons");
        data.skipReasons().forEach(sk::put);
        d.put("majority_label", o.majorityLabel());
        d.put("majority_rate", o.majority());
        ObjectNode lw = r.putObject("label_words");
        o.labelWords().forEach(lw::put);
        r.put("prompts", chat ? "chat template" : "plain completion");
        r.set("best", validationJson(o.best()));
        ArrayNode h = r.putArray("history");
        for (Validation v : o.history()) h.add(validationJson(v));
        r.put("seconds_this_process", o.seconds());
        try {
            AtomicFiles.write(config.out().resolve(RECORD),
                    (JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + config.out().resolve(RECORD) + ": " + e.getMessage(), e);
        }
    }

    /** Parses {@code --targets}: module names ({@code q_proj,...}), {@code all}, {@code attention} or {@code mlp}. */
    public static List<Lora.Projection> parseTargets(String s) {
        List<Lora.Projection> out = new ArrayList<>();
        for (String part : s.split(",")) {
            String p = part.trim();
            switch (p) {
                case "all", "all-linear" -> out.addAll(Arrays.asList(Lora.Projection.values()));
                case "attention" -> out.addAll(List.of(Lora.Projection.Q, Lora.Projection.K, Lora.Projection.V, Lora.Projection.O));
                case "mlp" -> out.addAll(List.of(Lora.Projection.GATE, Lora.Projection.UP, Lora.Projection.DOWN));
                default -> {
                    Lora.Projection x = Lora.Projection.ofModuleName(p);
                    if (x == null) throw new IllegalArgumentException("--targets: unknown module '" + p + "' (modules: "
                            + String.join(", ", Lora.Projection.moduleNames()) + "; or all, attention, mlp)");
                    out.add(x);
                }
            }
        }
        return out;
    }
}
