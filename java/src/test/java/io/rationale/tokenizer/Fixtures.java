package io.rationale.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The shared tokenizers (loaded once per test JVM) and their reference encodings. */
final class Fixtures {
    private Fixtures() {}

    private static final Map<String, Tokenizer> LOADED = new HashMap<>();

    static Path shared() {
        String p = System.getProperty("rationale.shared");
        if (p == null) throw new IllegalStateException("system property rationale.shared is not set (run through Maven)");
        return Path.of(p);
    }

    static Path storiesDir() { return shared().resolve("data/models/stories260K-hf"); }

    static Path llama2Dir() { return shared().resolve("data/tokenizers/llama2"); }

    static Path llama3Dir() { return shared().resolve("data/tokenizers/llama3"); }

    static synchronized Tokenizer load(Path dir) {
        return LOADED.computeIfAbsent(dir.toString(), k -> Tokenizer.load(dir));
    }

    static Tokenizer stories() { return load(storiesDir()); }

    static Tokenizer llama2() { return load(llama2Dir()); }

    static Tokenizer llama3() { return load(llama3Dir()); }

    /** One case of a reference_encodings.json: the text, its ids without BOS, and the pieces when given. */
    record Case(String text, int[] ids, List<String> pieces) {}

    static List<Case> cases(Path dir) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(dir.resolve("reference_encodings.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Case> out = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            JsonNode ids = c.has("ids_no_bos") ? c.get("ids_no_bos") : c.get("ids");
            int[] a = new int[ids.size()];
            for (int i = 0; i < a.length; i++) a[i] = ids.get(i).asInt();
            List<String> pieces = null;
            if (c.has("pieces")) {
                pieces = new ArrayList<>();
                for (JsonNode p : c.get("pieces")) pieces.add(p.asText());
            }
            out.add(new Case(c.get("text").asText(), a, pieces));
        }
        if (out.isEmpty()) throw new IllegalStateException(dir + ": no reference cases");
        return out;
    }
}
