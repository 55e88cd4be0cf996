package io.rationale.eval;

import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.dataset.Annotations;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Model;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/** Shared models for the eval tests: stories260K (real, SentencePiece, no chat template) and the tiny random preset (byte-level BPE with a chat template). */
final class Fixtures {
    private Fixtures() {}

    static Path shared() {
        String p = System.getProperty("rationale.shared");
        if (p == null) throw new IllegalStateException("system property rationale.shared is not set (run through Maven)");
        return Path.of(p);
    }

    static Path stories() { return shared().resolve("data/models/stories260K-hf"); }

    static Path medicalBios() { return shared().resolve("data/datasets/medicalbios/standard_biosbias_rationales.jsonl"); }

    private static Tokenizer storiesTok;
    private static Model storiesModel;
    private static Backend storiesBackend;
    private static Path tinyDir;
    private static Tokenizer tinyTok;
    private static Model tinyModel;
    private static Backend tinyBackend;

    static synchronized Tokenizer storiesTokenizer() {
        if (storiesTok == null) storiesTok = Tokenizer.load(stories());
        return storiesTok;
    }

    /** The model of {@link #storiesBackend} (loaded with it). */
    static synchronized Model storiesModel() {
        storiesBackend();
        return storiesModel;
    }

    /** The model of {@link #tinyBackend} (loaded with it). */
    static synchronized Model tinyModel() {
        tinyBackend();
        return tinyModel;
    }

    static synchronized Backend storiesBackend() {
        if (storiesBackend == null) {
            storiesModel = Model.load(stories());
            storiesBackend = Backends.open(storiesModel, Device.CPU, 2).backend();
        }
        return storiesBackend;
    }

    /** The weights-tools tiny preset (seed 7), written once per JVM into a temp folder. */
    static synchronized Path tinyDir() {
        if (tinyDir == null) {
            try {
                Path d = Files.createTempDirectory("evalcore-tiny-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try (var s = Files.walk(d)) {
                        for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
                    } catch (IOException e) {
                        // best effort
                    }
                }));
                TinyModel.write(Presets.get("tiny"), 7, d, 0, 1, null);
                tinyDir = d;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tinyDir;
    }

    static synchronized Tokenizer tinyTokenizer() {
        if (tinyTok == null) tinyTok = Tokenizer.load(tinyDir());
        return tinyTok;
    }

    static synchronized Backend tinyBackend() {
        if (tinyBackend == null) {
            tinyModel = Model.load(tinyDir());
            tinyBackend = Backends.open(tinyModel, Device.CPU, 2).backend();
        }
        return tinyBackend;
    }

    /** An example with the given fields and one annotator's rationale (global indices split per field). */
    static Example example(String id, List<String> names, List<String> texts, String label, List<String> labels, int... rationale) {
        List<TextField> fields = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) fields.add(TextField.of(names.get(i), texts.get(i)));
        Annotations ann = Annotations.none();
        if (rationale.length > 0) {
            List<SortedSet<Integer>> perField = new ArrayList<>();
            int off = 0;
            for (TextField f : fields) {
                TreeSet<Integer> s = new TreeSet<>();
                for (int w : rationale) if (w >= off && w < off + f.wordCount()) s.add(w - off);
                perField.add(s);
                off += f.wordCount();
            }
            ann = new Annotations(List.of("1"), List.of(perField));
        }
        return new Example(id, fields, label, labels, null, ann, Map.of());
    }

    static final List<String> BIOS = List.of("dentist", "nurse", "physician", "psychologist", "surgeon");

    static Example bio(String id, String text, String label, int... rationale) {
        return example(id, List.of("bio"), List.of(text), label, BIOS, rationale);
    }
}
