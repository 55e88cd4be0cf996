package io.rationale.eval;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.dataset.Dataset;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * {@code run.json}: what a results folder holds, so a restarted run can check that it continues the same evaluation.
 * The identity of a run ({@link #differences}) is the model folder and its fingerprint, the dataset spec and its
 * fingerprint, and the options; the limit may change between sessions (results are keyed by example index).
 *
 * @param format             file format version
 * @param model              absolute model folder, or a remote model's id ({@code openai:URL#MODEL (chat)})
 * @param modelFingerprint   SHA-256 of config.json and the total size of the weight files (null for a remote model)
 * @param dataset            {@code KIND:ABSOLUTE_PATH}
 * @param datasetFingerprint size, modification time and SHA-256 of the dataset file (or of each file of a folder);
 *                           only size and hash are compared
 * @param options            the evaluation options
 * @param datasetSize        usable examples in the dataset
 * @param datasetSkipped     entries the dataset loader skipped
 * @param limit              {@code --limit}, or null
 * @param selected           examples the run evaluates: min(limit, datasetSize)
 * @param started            when the run was first started (ISO-8601)
 * @param resumed            when it was resumed, in order
 * @param engine             engine version
 * @param javaVersion        Java runtime version
 * @param selection          how examples are chosen and ordered ({@link Selection.Mode}, with the options' seed);
 *                           null in files written before it existed, which took the first examples
 * @param adapters           LoRA adapters on top of the model ({@code --adapter}), each with its absolute folder,
 *                           scale and fingerprint (of adapter_config.json and adapter_model.safetensors); null for none
 * @param adapterMode        {@code merged} or {@code unmerged}; null without adapters
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record RunManifest(int format, String model, Fingerprint modelFingerprint, String dataset,
                          Fingerprint datasetFingerprint, EvalOptions options, int datasetSize, int datasetSkipped,
                          Integer limit, int selected, String started, List<String> resumed, String engine, String javaVersion,
                          String selection, List<AdapterEntry> adapters, String adapterMode) {
    public static final int FORMAT = 1;
    public static final String ENGINE = "rationale-engine 0.1.0";

    static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public RunManifest {
        resumed = resumed == null ? List.of() : List.copyOf(resumed);
        adapters = adapters == null || adapters.isEmpty() ? null : List.copyOf(adapters);
    }

    /** The manifest as it was before adapters existed (none). */
    public RunManifest(int format, String model, Fingerprint modelFingerprint, String dataset, Fingerprint datasetFingerprint,
                       EvalOptions options, int datasetSize, int datasetSkipped, Integer limit, int selected, String started,
                       List<String> resumed, String engine, String javaVersion, String selection) {
        this(format, model, modelFingerprint, dataset, datasetFingerprint, options, datasetSize, datasetSkipped, limit, selected, started,
                resumed, engine, javaVersion, selection, null, null);
    }

    /** One adapter of the run: its absolute folder, the {@code --adapter} scale, its files' fingerprint. */
    public record AdapterEntry(String dir, double scale, Fingerprint fingerprint) {}

    /** This manifest with the run's adapters (none: unchanged). */
    public RunManifest withAdapters(io.rationale.lora.Adapters a) {
        if (a == null || a.isEmpty()) return this;
        List<AdapterEntry> list = new ArrayList<>();
        for (io.rationale.lora.AdapterSpec s : a.specs()) list.add(new AdapterEntry(s.dir().toAbsolutePath().normalize().toString(), s.scale(), adapterFingerprint(s.dir())));
        return new RunManifest(format, model, modelFingerprint, dataset, datasetFingerprint, options, datasetSize, datasetSkipped, limit, selected,
                started, resumed, engine, javaVersion, selection, list, a.unmerged() ? "unmerged" : "merged");
    }

    /** SHA-256 over adapter_config.json and adapter_model.safetensors (name, hash), bytes their total size. */
    static Fingerprint adapterFingerprint(Path dir) {
        MessageDigest md = digest();
        long bytes = 0;
        for (String f : List.of(io.rationale.lora.PeftConfig.FILE, io.rationale.lora.PeftAdapter.WEIGHTS)) {
            Path p = dir.resolve(f);
            if (!Files.isRegularFile(p)) {
                md.update((f + "\0missing\n").getBytes(StandardCharsets.UTF_8));
                continue;
            }
            md.update((f + "\0" + sha256(p) + "\n").getBytes(StandardCharsets.UTF_8));
            try {
                bytes += Files.size(p);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
            }
        }
        return new Fingerprint(bytes, null, HexFormat.of().formatHex(md.digest()));
    }

    /**
     * A file fingerprint: {@code bytes} and {@code sha256} are compared, {@code modified} is informative.
     * For a model: sha256 of config.json ("missing" when absent), bytes = total size of *.safetensors files, and
     * {@code textSha256} of the files that decide the text around the weights ({@link #MODEL_TEXT_FILES}: tokenizer,
     * chat template, generation stops); null for other files and in manifests written before it was kept, which are
     * then compared without it.
     */
    public record Fingerprint(long bytes, String modified, String sha256,
                              @JsonInclude(JsonInclude.Include.NON_NULL) String textSha256) {
        /** A fingerprint without {@code textSha256}. */
        public Fingerprint(long bytes, String modified, String sha256) { this(bytes, modified, sha256, null); }
    }

    /** A model folder's files other than config.json and the weights that change what a run computes. */
    static final List<String> MODEL_TEXT_FILES = List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "generation_config.json", "special_tokens_map.json");

    public static RunManifest create(Path model, String datasetSpec, Dataset dataset, EvalOptions options, Integer limit, Instant now) {
        return create(model, datasetSpec, dataset, options, limit, Selection.Mode.FIRST, now);
    }

    public static RunManifest create(Path model, String datasetSpec, Dataset dataset, EvalOptions options, Integer limit,
                                     Selection.Mode selection, Instant now) {
        int selected = limit == null ? dataset.size() : Math.min(limit, dataset.size());
        return new RunManifest(FORMAT, model.toAbsolutePath().normalize().toString(), modelFingerprint(model),
                normalizeSpec(datasetSpec), fileFingerprint(dataset.path()), options, dataset.size(),
                dataset.skipped().size(), limit, selected, now.toString(), List.of(), ENGINE, Runtime.version().toString(),
                selection.cliName());
    }

    /** {@link #selection()}, reading an older run.json's missing value as what that version did. */
    public Selection.Mode selectionMode() {
        return selection == null ? Selection.Mode.FIRST : Selection.Mode.parse(selection);
    }

    /** A run of a model behind an API: {@code model} is its id ({@link RemoteEvaluator.Spec#id()}), no fingerprint. */
    public static RunManifest createRemote(String model, String datasetSpec, Dataset dataset, EvalOptions options, Integer limit,
                                           Selection.Mode selection, Instant now) {
        int selected = limit == null ? dataset.size() : Math.min(limit, dataset.size());
        return new RunManifest(FORMAT, model, null, normalizeSpec(datasetSpec), fileFingerprint(dataset.path()), options, dataset.size(),
                dataset.skipped().size(), limit, selected, now.toString(), List.of(), ENGINE, Runtime.version().toString(),
                selection.cliName());
    }

    /** The same run, resumed now with {@code limit} (and its selection). */
    public RunManifest resumedAt(Instant now, Integer newLimit, int newSelected) {
        List<String> r = new ArrayList<>(resumed);
        r.add(now.toString());
        return new RunManifest(format, model, modelFingerprint, dataset, datasetFingerprint, options, datasetSize,
                datasetSkipped, newLimit, newSelected, started, r, engine, javaVersion, selection, adapters, adapterMode);
    }

    /** What differs between this (the folder's) run and {@code other} (the requested one), one phrase each. */
    public List<String> differences(RunManifest other) { return differences(other, true); }

    /**
     * {@link #differences(RunManifest)}; without foils in the dataset the targets {@code auto} and {@code predicted}
     * explain the same scalar and are not a difference.
     */
    public List<String> differences(RunManifest other, boolean datasetHasFoils) {
        List<String> d = new ArrayList<>();
        if (!model.equals(other.model)) d.add("model " + model + " -> " + other.model);
        else if (!sameContent(modelFingerprint, other.modelFingerprint)) d.add(modelChange(modelFingerprint, other.modelFingerprint));
        if (!dataset.equals(other.dataset)) d.add("dataset " + dataset + " -> " + other.dataset);
        else if (!sameContent(datasetFingerprint, other.datasetFingerprint)) d.add("dataset file changed");
        EvalOptions a = options, b = other.options;
        if (a == null || b == null) {
            if (a != b) d.add("options missing");
            return d;
        }
        if (!Objects.equals(a.methods(), b.methods())) d.add("methods " + a.methods() + " -> " + b.methods());
        if (!Objects.equals(a.k(), b.k())) d.add("k " + a.k() + " -> " + b.k());
        if (!Objects.equals(a.mask(), b.mask())) d.add("mask " + a.mask() + " -> " + b.mask());
        if (!Objects.equals(a.annotators(), b.annotators())) d.add("annotators " + a.annotators() + " -> " + b.annotators());
        if (a.shots() != b.shots()) d.add("shots " + a.shots() + " -> " + b.shots());
        if (a.seed() != b.seed()) d.add("seed " + a.seed() + " -> " + b.seed());
        if (a.hasIntegratedGradients() || b.hasIntegratedGradients()) {   // they change nothing else
            if (a.igSteps() != b.igSteps()) d.add("ig-steps " + a.igSteps() + " -> " + b.igSteps());
            if (!a.igBaselineOrLegacy().equals(b.igBaselineOrLegacy()))
                d.add("ig-baseline " + a.igBaselineOrLegacy() + " -> " + b.igBaselineOrLegacy());
        }
        String ta = a.targetOrLegacy(), tb = b.targetOrLegacy();
        if (!datasetHasFoils) {
            ta = ta.equals("auto") ? "predicted" : ta;
            tb = tb.equals("auto") ? "predicted" : tb;
        }
        if ((a.hasAttribution() || b.hasAttribution()) && !ta.equals(tb))
            d.add("target " + a.targetOrLegacy() + " -> " + b.targetOrLegacy());
        List<AdapterEntry> aa = adapters == null ? List.of() : adapters, ab = other.adapters == null ? List.of() : other.adapters;
        if (aa.size() != ab.size() || !Objects.equals(adapterMode, other.adapterMode)) {
            d.add("adapters " + adapterLine(aa, adapterMode) + " -> " + adapterLine(ab, other.adapterMode));
        } else {
            for (int i = 0; i < aa.size(); i++) {
                AdapterEntry x = aa.get(i), y = ab.get(i);
                if (!x.dir().equals(y.dir()) || x.scale() != y.scale()) d.add("adapters " + adapterLine(aa, adapterMode) + " -> " + adapterLine(ab, other.adapterMode));
                else if (!sameContent(x.fingerprint(), y.fingerprint())) d.add("adapter files changed (" + x.dir() + ")");
            }
        }
        if (selectionMode() != other.selectionMode())
            d.add("select " + selectionMode().cliName() + " -> " + other.selectionMode().cliName());
        return d;
    }

    private static String adapterLine(List<AdapterEntry> a, String mode) {
        if (a.isEmpty()) return "none";
        List<String> s = new ArrayList<>();
        for (AdapterEntry e : a) s.add(e.dir() + (e.scale() == 1.0 ? "" : ":" + e.scale()));
        return String.join(",", s) + " (" + mode + ")";
    }

    /** What changed between two model fingerprints that are not {@link #sameContent}, as a phrase. */
    public static String modelChange(Fingerprint a, Fingerprint b) {
        boolean weights = a == null || b == null || a.bytes() != b.bytes() || !Objects.equals(a.sha256(), b.sha256());
        return weights ? "model files changed (config.json or weights)" : "model files changed (" + String.join(", ", MODEL_TEXT_FILES) + ")";
    }

    /** Whether two fingerprints are of the same content (size and SHA-256; the modification time aside). */
    public static boolean sameContent(Fingerprint a, Fingerprint b) {
        if (a == null || b == null) return a == b;
        return a.bytes() == b.bytes() && Objects.equals(a.sha256(), b.sha256()) && sameText(a, b);
    }

    /** Whether two model fingerprints have the same text files (true when either was written without them). */
    static boolean sameText(Fingerprint a, Fingerprint b) {
        return a.textSha256() == null || b.textSha256() == null || a.textSha256().equals(b.textSha256());
    }

    public static RunManifest read(Path file) {
        try {
            RunManifest m = MAPPER.readValue(file.toFile(), RunManifest.class);
            if (m.model() == null || m.dataset() == null || m.options() == null) throw new IOException("model, dataset or options missing");
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": not a readable run.json (" + firstLine(e.getMessage()) + "); use --restart to start over", e);
        }
    }

    public void write(Path file) {
        try {
            AtomicFiles.write(file, MAPPER.writeValueAsBytes(this));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code KIND:PATH} with the path made absolute. */
    public static String normalizeSpec(String spec) {
        int colon = spec.indexOf(':');
        if (colon <= 0) return spec;
        return spec.substring(0, colon) + ":" + Path.of(spec.substring(colon + 1)).toAbsolutePath().normalize();
    }

    public static Fingerprint modelFingerprint(Path model) {
        Path cfg = model.resolve("config.json");
        String sha = Files.isRegularFile(cfg) ? sha256(cfg) : "missing";
        long bytes = 0;
        if (Files.isDirectory(model)) {
            try (Stream<Path> s = Files.list(model)) {
                for (Path p : s.sorted().toList()) {
                    if (p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p)) bytes += Files.size(p);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + model + ": " + e.getMessage(), e);
            }
        }
        return new Fingerprint(bytes, null, sha, textSha256(model));
    }

    /** SHA-256 over {@link #MODEL_TEXT_FILES} in that order: each file's name, then its bytes or "missing". */
    private static String textSha256(Path model) {
        MessageDigest md = digest();
        for (String name : MODEL_TEXT_FILES) {
            Path f = model.resolve(name);
            md.update((name + "\n").getBytes(StandardCharsets.UTF_8));
            try {
                md.update(Files.isRegularFile(f) ? Files.readAllBytes(f) : "missing".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
            }
            md.update((byte) 0);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** A file: its size, mtime and SHA-256; a folder: the regular files in it, hashed in name order. */
    public static Fingerprint fileFingerprint(Path path) {
        try {
            if (Files.isDirectory(path)) {
                MessageDigest md = digest();
                long bytes = 0;
                String newest = null;
                try (Stream<Path> s = Files.list(path)) {
                    for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                        md.update((p.getFileName() + "\0" + sha256(p) + "\n").getBytes(StandardCharsets.UTF_8));
                        bytes += Files.size(p);
                        String m = Files.getLastModifiedTime(p).toInstant().toString();
                        if (newest == null || m.compareTo(newest) > 0) newest = m;
                    }
                }
                return new Fingerprint(bytes, newest, HexFormat.of().formatHex(md.digest()));
            }
            return new Fingerprint(Files.size(path), Files.getLastModifiedTime(path).toInstant().toString(), sha256(path));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    static String sha256(Path file) {
        MessageDigest md = digest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
