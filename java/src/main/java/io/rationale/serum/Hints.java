package io.rationale.serum;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Builds hints: each hint type's template (default or the user's), the description the LLM judge sees and the keyword
 * judge's keywords, and the seeded draw of the hinted option.
 *
 * <p>User templates ({@code --hint-templates FILE}): a JSON object keyed by hint type, each with any of
 * {@code "template"} (must contain {@code {letter}}; {@code {index}} is the question's index),
 * {@code "description"} and {@code "keywords"} (an array of strings), e.g.
 * {@code {"sycophancy": {"template": "My teacher says {letter}.", "keywords": ["teacher"]}}}.
 *
 * <p>The hinted option X is drawn uniformly from the options other than the model's unhinted answer (from all options
 * when that answer could not be parsed) with {@code SplittableRandom(seed ⊕ mix(question index, hint type))}: the
 * draw of a case does not depend on which other cases ran, so a resumed run draws the same.
 */
public final class Hints {
    /** One hint type's texts. */
    public record Spec(String template, String description, List<String> keywords) {
        public Spec {
            if (template == null || !template.contains("{letter}"))
                throw new IllegalArgumentException("a hint template must contain {letter}, got '" + template + "'");
            keywords = List.copyOf(keywords);
        }
    }

    /** One built hint. */
    public record Hint(HintType type, int option, String letter, String text) {}

    private final Map<HintType, Spec> specs;
    private final long seed;

    public Hints(Map<HintType, Spec> overrides, long seed) {
        this.seed = seed;
        this.specs = new EnumMap<>(HintType.class);
        for (HintType t : HintType.values())
            specs.put(t, overrides != null && overrides.containsKey(t) ? overrides.get(t)
                    : new Spec(t.defaultTemplate(), t.defaultDescription(), t.defaultKeywords()));
    }

    public static Hints defaults(long seed) { return new Hints(null, seed); }

    public Spec spec(HintType t) { return specs.get(t); }

    /** Whether hint type t has the default texts. */
    public boolean isDefault(HintType t) {
        Spec s = specs.get(t);
        return s.template().equals(t.defaultTemplate()) && s.description().equals(t.defaultDescription()) && s.keywords().equals(t.defaultKeywords());
    }

    /** The option the hint of type {@code t} names for question {@code questionIndex}. */
    public int draw(HintType t, int questionIndex, int options, int unhintedAnswer) {
        List<Integer> candidates = new ArrayList<>();
        for (int i = 0; i < options; i++) if (i != unhintedAnswer) candidates.add(i);
        SplittableRandom r = new SplittableRandom(seed ^ mix(questionIndex * 31L + t.ordinal() + 1));
        return candidates.get(r.nextInt(candidates.size()));
    }

    /** The hint of type t naming option {@code option} for question {@code questionIndex}. */
    public Hint build(HintType t, int questionIndex, int option) {
        String letter = String.valueOf((char) ('A' + option));
        String text = specs.get(t).template().replace("{letter}", letter).replace("{index}", String.valueOf(questionIndex));
        return new Hint(t, option, letter, text);
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Reads user templates (see the class comment); unknown keys or types stop with the file's name. */
    public static Map<HintType, Spec> readOverrides(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": not a readable JSON file of hint templates (" + firstLine(e.getMessage()) + ")", e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": hint templates must be a JSON object keyed by hint type");
        Map<HintType, Spec> out = new EnumMap<>(HintType.class);
        for (var it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            HintType t;
            try {
                t = HintType.parse(e.getKey());
            } catch (IllegalArgumentException x) {
                throw new IllegalArgumentException(file + ": " + x.getMessage());
            }
            JsonNode o = e.getValue();
            if (!o.isObject()) throw new IllegalArgumentException(file + ": \"" + e.getKey() + "\" must be an object with template, description, keywords");
            for (var f = o.fieldNames(); f.hasNext(); ) {
                String k = f.next();
                if (!List.of("template", "description", "keywords").contains(k))
                    throw new IllegalArgumentException(file + ": \"" + e.getKey() + "\" has an unknown key \"" + k + "\" (template, description, keywords)");
            }
            String template = o.has("template") ? text(file, e.getKey(), o, "template") : t.defaultTemplate();
            String description = o.has("description") ? text(file, e.getKey(), o, "description") : t.defaultDescription();
            List<String> keywords = t.defaultKeywords();
            if (o.has("keywords")) {
                JsonNode k = o.get("keywords");
                if (!k.isArray() || k.isEmpty()) throw new IllegalArgumentException(file + ": \"" + e.getKey() + "\".keywords must be a non-empty array of strings");
                keywords = new ArrayList<>();
                for (JsonNode x : k) {
                    if (!x.isTextual() || x.textValue().isEmpty())
                        throw new IllegalArgumentException(file + ": \"" + e.getKey() + "\".keywords must be a non-empty array of strings");
                    keywords.add(x.textValue());
                }
            }
            try {
                out.put(t, new Spec(template, description, keywords));
            } catch (IllegalArgumentException x) {
                throw new IllegalArgumentException(file + ": \"" + e.getKey() + "\": " + x.getMessage());
            }
        }
        return out;
    }

    private static String text(Path file, String type, JsonNode o, String key) {
        JsonNode v = o.get(key);
        if (!v.isTextual() || v.textValue().isBlank()) throw new IllegalArgumentException(file + ": \"" + type + "\"." + key + " must be a non-empty string");
        return v.textValue();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int n = s.indexOf('\n');
        return n < 0 ? s : s.substring(0, n);
    }
}
