package io.rationale.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/** JSON Lines reading: one JSON value per line, blank lines ignored, UTF-8 (a leading BOM is dropped). */
final class JsonLines {
    private JsonLines() {}

    static final ObjectMapper MAPPER = new ObjectMapper();

    /** One non-blank line: its 1-based number and its value, or the parse error (one line) when it is not JSON. */
    record Line(int number, JsonNode value, String error) {}

    static List<Line> read(Path file) {
        List<Line> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String s;
            int n = 0;
            while ((s = r.readLine()) != null) {
                n++;
                if (n == 1 && !s.isEmpty() && s.charAt(0) == '\uFEFF') s = s.substring(1);
                if (s.isBlank()) continue;
                try {
                    out.add(new Line(n, MAPPER.readTree(s), null));
                } catch (JacksonException e) {
                    out.add(new Line(n, null, "invalid JSON: " + parseError(e)));
                }
            }
        } catch (IOException e) {
            throw TextFiles.readError(file, e);
        }
        return out;
    }

    /**
     * Jackson's message for a line that does not parse, without what only confuses here: the parser's own source
     * and line (each line is parsed alone, so it always says "line: 1"; the file's line number is in the skip's
     * location instead), character codes and the list of JSON value kinds; the column is kept.
     */
    static String parseError(JacksonException e) {
        String m = DatasetException.oneLine(e.getOriginalMessage());
        m = m.replaceAll("\\s*\\(start marker at \\[Source:[^\\]]*\\]\\)", "")
                .replaceAll("\\s*at \\[Source:[^\\]]*\\]", "")
                .replaceAll("\\[Source:[^\\]]*\\]", "")
                .replaceAll(" \\(code \\d+\\)", "")
                .replaceAll(" ?\\(JSON String, Number, Array, Object or token 'null', 'true' or 'false'\\)", " a JSON value")
                .replaceAll("\\s+", " ").strip();
        if (!m.isEmpty()) m = Character.toLowerCase(m.charAt(0)) + m.substring(1);
        var at = e.getLocation();
        return at != null && at.getColumnNr() > 0 ? m + " (column " + at.getColumnNr() + ")" : m;
    }

    /**
     * The first record, which decides whether the file is of the expected kind: the file must have one and it
     * must be a JSON object, else the whole dataset fails.
     */
    static JsonNode first(Path file, List<Line> lines, String kindDescription) {
        if (lines.isEmpty()) throw new DatasetException(file + ": empty file, expected " + kindDescription);
        Line l = lines.get(0);
        if (l.value() == null || !l.value().isObject()) {
            throw new DatasetException(file + ": not " + kindDescription + " (line " + l.number() + " is not a JSON object)");
        }
        return l.value();
    }

    /** The text of a string member, or null when absent, null or not a string. */
    static String text(JsonNode o, String name) {
        JsonNode v = o.get(name);
        return v != null && v.isTextual() ? v.textValue() : null;
    }

    /** The text of a member for use as an id: strings as is, numbers in their JSON form; else null. */
    static String idText(JsonNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null) return null;
        if (v.isTextual()) return v.textValue();
        if (v.isIntegralNumber()) return v.asText();
        return null;
    }

    static boolean hasAll(JsonNode o, String... names) {
        for (String n : names) if (!o.has(n)) return false;
        return true;
    }

    /** The distinct non-empty values of {@code key} over the lines that are JSON objects, sorted (a file's label set). */
    static List<String> distinctTexts(List<Line> lines, String key) {
        TreeSet<String> out = new TreeSet<>();
        for (Line l : lines) {
            if (l.value() != null && l.value().isObject()) {
                String v = text(l.value(), key);
                if (v != null && !v.isEmpty()) out.add(v);
            }
        }
        return List.copyOf(out);
    }

    /**
     * Calls {@code each} with every line that is a JSON object and its location ({@code file:line}); every other
     * line goes to {@code c} as skipped with its parse error.
     */
    static void forEachObject(Path file, List<Line> lines, Collector c, BiConsumer<JsonNode, String> each) {
        String name = file.getFileName().toString();
        for (Line l : lines) {
            String where = name + ":" + l.number();
            if (l.value() == null || !l.value().isObject()) c.skip(null, where, l.error() != null ? l.error() : "not a JSON object");
            else each.accept(l.value(), where);
        }
    }
}
