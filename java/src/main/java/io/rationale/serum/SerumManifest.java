package io.rationale.serum;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.rationale.eval.AtomicFiles;
import io.rationale.eval.RunManifest;
import io.rationale.eval.RunManifest.Fingerprint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * {@code run.json} of a serum run: what the folder holds, so a resumed run checks that it continues the same run.
 * Identity ({@link #differences}): model folder and fingerprint, questions spec and fingerprint, judge model and its
 * fingerprint, options (everything in {@link SerumOptions}); the limit may change between sessions.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.ALWAYS)
public record SerumManifest(int format, String model, Fingerprint modelFingerprint, String questions, Fingerprint questionsFingerprint,
                            Fingerprint judgeFingerprint, SerumOptions options, int questionCount, Integer limit, int selected,
                            String device, String relevanceDevice, String started, List<String> resumed, String engine,
                            String javaVersion, String adapters) {
    public static final int FORMAT = 1;

    static final ObjectMapper MAPPER = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public SerumManifest {
        resumed = resumed == null ? List.of() : List.copyOf(resumed);
    }

    /**
     * This manifest with the evaluated model's LoRA adapters ({@code --adapter}): each folder, scale and content hash,
     * and the mode, in one line compared as a whole ({@code adapters}; null for none).
     */
    public SerumManifest withAdapters(io.rationale.lora.Adapters a) {
        if (a == null || a.isEmpty()) return this;
        List<String> parts = new ArrayList<>();
        RunManifest m = new RunManifest(0, "", null, "", null, null, 0, 0, null, 0, "", List.of(), "", "", null).withAdapters(a);
        for (RunManifest.AdapterEntry e : m.adapters()) parts.add(e.dir() + ":" + e.scale() + "#" + e.fingerprint().sha256());
        return new SerumManifest(format, model, modelFingerprint, questions, questionsFingerprint, judgeFingerprint, options, questionCount,
                limit, selected, device, relevanceDevice, started, resumed, engine, javaVersion, String.join(",", parts) + " (" + m.adapterMode() + ")");
    }

    public static SerumManifest create(Path model, String questionsSpec, SerumOptions options, int questionCount, Integer limit,
                                       String device, String relevanceDevice, Instant now) {
        int selected = limit == null ? questionCount : Math.min(limit, questionCount);
        String spec = RunManifest.normalizeSpec(questionsSpec);
        Path qpath = Path.of(spec.substring(spec.indexOf(':') + 1));
        return new SerumManifest(FORMAT, model.toAbsolutePath().normalize().toString(), RunManifest.modelFingerprint(model), spec,
                RunManifest.fileFingerprint(qpath), options.judgeModel() == null ? null : RunManifest.modelFingerprint(Path.of(options.judgeModel())),
                options, questionCount, limit, selected, device, relevanceDevice, now.toString(), List.of(), RunManifest.ENGINE,
                Runtime.version().toString(), null);
    }

    public SerumManifest resumedAt(Instant now, Integer newLimit, int newSelected, String newDevice, String newRelevanceDevice) {
        List<String> r = new ArrayList<>(resumed);
        r.add(now.toString());
        return new SerumManifest(format, model, modelFingerprint, questions, questionsFingerprint, judgeFingerprint, options, questionCount,
                newLimit, newSelected, newDevice, newRelevanceDevice, started, r, engine, javaVersion, adapters);
    }

    /** What differs between this (the folder's) run and {@code other} (the requested one), one phrase each. */
    public List<String> differences(SerumManifest other) {
        List<String> d = new ArrayList<>();
        if (!model.equals(other.model)) d.add("model " + model + " -> " + other.model);
        else if (!RunManifest.sameContent(modelFingerprint, other.modelFingerprint)) d.add(RunManifest.modelChange(modelFingerprint, other.modelFingerprint));
        if (!questions.equals(other.questions)) d.add("questions " + questions + " -> " + other.questions);
        else if (!RunManifest.sameContent(questionsFingerprint, other.questionsFingerprint)) d.add("questions file changed");
        if (!RunManifest.sameContent(judgeFingerprint, other.judgeFingerprint)) d.add("judge model files changed");
        if (!Objects.equals(adapters, other.adapters)) d.add("adapters " + (adapters == null ? "none" : adapters) + " -> " + (other.adapters == null ? "none" : other.adapters));
        SerumOptions a = options, b = other.options;
        if (a == null || b == null) {
            if (a != b) d.add("options missing");
            return d;
        }
        diff(d, "hints", a.hints(), b.hints());
        diff(d, "alpha", a.alphas(), b.alphas());
        diff(d, "layers", a.layers(), b.layers());
        diff(d, "method", a.method(), b.method());
        diff(d, "normalization", a.normalization(), b.normalization());
        diff(d, "operator", a.operator(), b.operator());
        diff(d, "rows", a.rows(), b.rows());
        diff(d, "explain", a.explain(), b.explain());
        diff(d, "keep", a.keep(), b.keep());
        diff(d, "seed", a.seed(), b.seed());
        diff(d, "answer-tokens", a.answerTokens(), b.answerTokens());
        diff(d, "explanation-tokens", a.explanationTokens(), b.explanationTokens());
        diff(d, "temperature", a.temperature(), b.temperature());
        diff(d, "top-p", a.topP(), b.topP());
        diff(d, "judge-model", a.judgeModel(), b.judgeModel());
        diff(d, "judge-tokens", a.judgeTokens(), b.judgeTokens());
        if (!Objects.equals(a.hintTemplates(), b.hintTemplates())) d.add("hint templates changed");
        return d;
    }

    private static void diff(List<String> d, String what, Object a, Object b) {
        if (!Objects.equals(a, b)) d.add(what + " " + a + " -> " + b);
    }

    public static SerumManifest read(Path file) {
        try {
            SerumManifest m = MAPPER.readValue(file.toFile(), SerumManifest.class);
            if (m.model() == null || m.questions() == null || m.options() == null) throw new IOException("model, questions or options missing");
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": not a readable serum run.json (" + RunManifest.firstLine(e.getMessage()) + "); use --restart to start over", e);
        }
    }

    public void write(Path file) {
        try {
            AtomicFiles.write(file, MAPPER.writeValueAsBytes(this));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
