package io.rationale.dataset;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The project's own JSONL (kind {@code jsonl}), for users' datasets. One JSON object per line (UTF-8, blank lines
 * ignored):
 * <pre>
 * {"id": "ex-1",                                   required, string or integer
 *  "fields": {"premise": "...", "hypothesis": "..."},  required: text fields in prompt order ...
 *  "text": "...",                                  ... or instead of "fields" one text (field name "text")
 *  "label": "entailment",                          required
 *  "labels": ["entailment", "neutral", "contradiction"],  optional label set
 *  "foil": "neutral",                              optional contrast label (in the label set, not the label)
 *  "rationale": ...,                               optional human rationale, see below
 *  "meta": {"source": "x"}}                        optional, string/number/boolean values kept as strings
 * </pre>
 * {@code rationale} holds 0-based WORD indices ({@link Words}: whitespace-separated words of the field's text):
 * <ul>
 *   <li>{@code {"premise": [0, 3], "hypothesis": [1]}}: one annotator, id {@code "1"}; a field left out is
 *       unmarked;</li>
 *   <li>{@code [{"premise": [0]}, {"premise": [0, 2]}]}: one object per annotator, ids {@code "1"}, {@code "2"}, ...;</li>
 *   <li>{@code {"annotators": {"alice": {"premise": [0]}, "bob": {...}}}}: named annotators, in the given order;</li>
 *   <li>with a single {@code text}: also {@code [0, 3]} (one annotator) or {@code [[0, 3], [3]]} (one list per
 *       annotator).</li>
 * </ul>
 * No {@code rationale} (or {@code null}) = no annotators; {@code []} = no annotators as well.
 *
 * <p>Label sets: each example's own {@code labels} when it has them. The file's label set (the dataset's, which an
 * evaluation run asks for) is the first valid {@code labels} an example declares, and examples without
 * {@code labels} use it too; when no example declares {@code labels}, it is the sorted distinct {@code label}
 * values of all lines. (A run evaluates the examples whose label set is the file's; one with another set is
 * skipped by the evaluator, with that reason.) Skips: missing id/label/text, a label or foil outside the label
 * set, an empty text, a rationale index that is not an integer or out of range, a rationale naming an unknown
 * field, an unparseable line. The first record decides the format: it must have {@code id}, {@code label} and
 * {@code fields} or {@code text}.
 */
public final class GenericJsonlReader {
    private GenericJsonlReader() {}

    public static Dataset read(Path file) {
        List<JsonLines.Line> lines = JsonLines.read(file);
        JsonNode first = JsonLines.first(file, lines, "rationale-engine JSONL");
        if (!first.has("id") || !first.has("label") || !(first.has("fields") || first.has("text"))) {
            throw new DatasetException(file + ": not rationale-engine JSONL (first record lacks id/label/fields or text)");
        }
        List<String> declared = firstDeclaredLabels(lines);
        List<String> fileLabels = declared != null ? declared : JsonLines.distinctTexts(lines, "label");
        Collector c = new Collector();
        JsonLines.forEachObject(file, lines, c, (o, where) -> {
            String id = JsonLines.idText(o, "id");
            c.add(id, where, () -> example(o, id, fileLabels));
        });
        return c.build("jsonl", file, fileLabels);
    }

    private static Example example(JsonNode o, String id, List<String> fileLabels) {
        if (id == null) throw new SkipException("missing id");
        String label = JsonLines.text(o, "label");
        if (label == null) throw new SkipException("missing label");
        List<TextField> fields = new ArrayList<>();
        JsonNode fs = o.get("fields");
        if (fs != null && !fs.isNull()) {
            if (!fs.isObject()) throw new SkipException("fields is not an object");
            for (Map.Entry<String, JsonNode> e : fs.properties()) {
                if (!e.getValue().isTextual()) throw new SkipException("field '" + e.getKey() + "' is not a string");
                fields.add(TextField.of(e.getKey(), e.getValue().textValue()));
            }
        } else {
            String text = JsonLines.text(o, "text");
            if (text == null) throw new SkipException("missing fields/text");
            fields.add(TextField.of("text", text));
        }
        List<String> labels = fileLabels;
        JsonNode ls = o.get("labels");
        if (ls != null && !ls.isNull()) labels = labelList(ls);
        String foil = null;
        JsonNode fo = o.get("foil");
        if (fo != null && !fo.isNull()) {
            if (!fo.isTextual()) throw new SkipException("foil is not a string");
            foil = fo.textValue();
        }
        Map<String, String> meta = new LinkedHashMap<>();
        JsonNode m = o.get("meta");
        if (m != null && m.isObject()) {
            for (Map.Entry<String, JsonNode> e : m.properties()) {
                if (e.getValue().isValueNode() && !e.getValue().isNull()) meta.put(e.getKey(), e.getValue().asText());
            }
        }
        return new Example(id, fields, label, labels, foil, rationale(o.get("rationale"), fields), meta);
    }

    /** The {@code labels} list of the first record that declares a valid one, or null when none does. */
    private static List<String> firstDeclaredLabels(List<JsonLines.Line> lines) {
        for (JsonLines.Line l : lines) {
            JsonNode v = l.value();
            if (v == null || !v.isObject() || !v.has("labels") || v.get("labels").isNull()) continue;
            try {
                List<String> ls = labelList(v.get("labels"));
                if (!ls.isEmpty() && new java.util.HashSet<>(ls).size() == ls.size()) return List.copyOf(ls);
            } catch (SkipException e) {
                // that record is skipped for it; the next one may declare them
            }
        }
        return null;
    }

    private static List<String> labelList(JsonNode ls) {
        if (!ls.isArray()) throw new SkipException("labels is not a list");
        List<String> labels = new ArrayList<>();
        for (JsonNode x : ls) {
            if (!x.isTextual()) throw new SkipException("labels has a non-string entry");
            labels.add(x.textValue());
        }
        return labels;
    }

    private static Annotations rationale(JsonNode r, List<TextField> fields) {
        if (r == null || r.isNull()) return Annotations.none();
        List<String> ids = new ArrayList<>();
        List<List<SortedSet<Integer>>> words = new ArrayList<>();
        boolean single = fields.size() == 1 && fields.get(0).name().equals("text");
        if (r.isObject() && r.has("annotators") && r.size() == 1 && r.get("annotators").isObject()) {
            for (Map.Entry<String, JsonNode> e : r.get("annotators").properties()) {
                ids.add(e.getKey());
                words.add(annotator(e.getValue(), fields, single));
            }
        } else if (r.isObject()) {
            ids.add("1");
            words.add(byField(r, fields));
        } else if (r.isArray()) {
            boolean flat = single && !r.isEmpty() && r.get(0).isNumber();
            if (flat) {
                ids.add("1");
                words.add(List.of(indices(r, "text")));
            } else {
                for (JsonNode a : r) {
                    ids.add(String.valueOf(ids.size() + 1));
                    words.add(annotator(a, fields, single));
                }
            }
        } else {
            throw new SkipException("rationale is neither an object nor a list");
        }
        return new Annotations(ids, words);
    }

    private static List<SortedSet<Integer>> annotator(JsonNode a, List<TextField> fields, boolean single) {
        if (a.isObject()) return byField(a, fields);
        if (a.isArray() && single) return List.of(indices(a, "text"));
        throw new SkipException("an annotator's rationale must be an object {field: [word indices]}");
    }

    private static List<SortedSet<Integer>> byField(JsonNode a, List<TextField> fields) {
        List<SortedSet<Integer>> out = new ArrayList<>();
        for (TextField f : fields) out.add(new TreeSet<>());
        for (Map.Entry<String, JsonNode> e : a.properties()) {
            int f = -1;
            for (int i = 0; i < fields.size(); i++) if (fields.get(i).name().equals(e.getKey())) f = i;
            if (f < 0) throw new SkipException("rationale names unknown field '" + e.getKey() + "'");
            out.set(f, indices(e.getValue(), e.getKey()));
        }
        return out;
    }

    private static SortedSet<Integer> indices(JsonNode list, String field) {
        if (!list.isArray()) throw new SkipException("rationale of field '" + field + "' is not a list of word indices");
        TreeSet<Integer> out = new TreeSet<>();
        for (JsonNode x : list) {
            if (!x.isIntegralNumber() || !x.canConvertToInt()) {
                throw new SkipException("rationale of field '" + field + "' has a non-integer index " + x);
            }
            out.add(x.intValue());
        }
        return out;
    }
}
