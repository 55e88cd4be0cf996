package io.rationale.dataset;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * MedicalBios (Eberle et al. 2023) with human rationales, Prodigy {@code ner_manual} JSONL: kind
 * {@code medicalbios} ({@code standard_biosbias_rationales.jsonl}) and kind {@code medicalbios-contrastive}
 * ({@code contrastive_biosbias_rationales.jsonl}, records with a {@code foil}). Kind {@code medicalbios} also
 * reads {@code biosbias.csv} ({@link #readCsv}).
 *
 * <p>Each record is one annotator's pass over one bio: {@code text} (a question, then {@code "\n\nBio: "}, then
 * the bio), {@code tokens} (Prodigy tokens with char offsets), {@code spans} ({@code start}/{@code end} char
 * offsets into {@code text}, label {@code EVIDENCE}), {@code annotator}, {@code answer}, {@code _timestamp},
 * {@code label}, {@code gender}, {@code second_best}, {@code _input_hash}, and in the contrastive file
 * {@code foil}.
 *
 * <ul>
 *   <li>Records are grouped into one example per bio by {@code _input_hash} (one hash per distinct text in the
 *       released files); id = the hash. Examples come in order of first appearance.</li>
 *   <li>The text under study is the bio: field {@code bio} = {@code text} after the first {@code "\n\nBio: "};
 *       the question before it is kept in meta {@code question}. Span offsets (Python's, in code points) are
 *       shifted by the bio's start and
 *       clipped to the bio (one released span starts on the question's ":"); a bio word is in the rationale when
 *       any of its characters is inside an EVIDENCE span (Prodigy's own tokens are not used).</li>
 *   <li>Only {@code answer == "accept"} records (and records without {@code answer}) are annotations ({@code reject}/{@code ignore} are dropped,
 *       counted in meta {@code dropped_not_accept}); an accepted record without spans is an annotator with an
 *       empty rationale. When one annotator has several accepted records for a bio, the one with the latest
 *       {@code _timestamp} wins (later in the file on ties), counted in meta {@code dropped_duplicates}.
 *       Annotators are sorted by id. A bio without accepted records has no annotators.</li>
 *   <li>Labels: the 5 occupations {@code [dentist, nurse, physician, psychologist, surgeon]}; {@code label} and
 *       {@code foil} are lower-cased (the contrastive file writes foils capitalised).</li>
 *   <li>Skips: records of one hash with different texts, labels or foils; a text without {@code "\n\nBio: "};
 *       a span outside the text or with start &gt; end; an unparseable or non-object line (skipped alone).</li>
 * </ul>
 * The first record decides the format: it must have {@code text}, {@code label} and {@code spans} or
 * {@code tokens}; with {@code foil} it is the contrastive file, which kind {@code medicalbios} refuses, and
 * without it kind {@code medicalbios-contrastive} refuses the file.
 */
public final class MedicalBiosReader {
    private MedicalBiosReader() {}

    public static final List<String> LABELS = List.of("dentist", "nurse", "physician", "psychologist", "surgeon");
    static final String BIO_MARK = "\n\nBio: ";

    /** Kind {@code medicalbios}: the standard rationale JSONL, or biosbias.csv when the file does not start with '{'. */
    public static Dataset readStandard(Path file) {
        if (!startsWithBrace(file)) return readCsv(file);
        return readJsonl(file, false);
    }

    /** Kind {@code medicalbios-contrastive}. */
    public static Dataset readContrastive(Path file) {
        if (!startsWithBrace(file)) {
            throw new DatasetException(file + ": not contrastive MedicalBios JSONL (biosbias.csv has no foils; use kind medicalbios)");
        }
        return readJsonl(file, true);
    }

    private static boolean startsWithBrace(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            int b;
            while ((b = in.read()) >= 0) {
                if (b == 0xEF || b == 0xBB || b == 0xBF || b == ' ' || b == '\n' || b == '\r' || b == '\t') continue;
                return b == '{';
            }
            return false;
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static Dataset readJsonl(Path file, boolean contrastive) {
        String kind = contrastive ? "medicalbios-contrastive" : "medicalbios";
        List<JsonLines.Line> lines = JsonLines.read(file);
        JsonNode first = JsonLines.first(file, lines, "MedicalBios Prodigy JSONL");
        if (!first.has("text") || !first.has("label") || !(first.has("spans") || first.has("tokens"))) {
            throw new DatasetException(file + ": not MedicalBios Prodigy JSONL (first record lacks text/label/spans)");
        }
        if (contrastive && !first.has("foil")) {
            throw new DatasetException(file + ": records have no 'foil': this is not the contrastive file, use kind medicalbios");
        }
        if (!contrastive && first.has("foil")) {
            throw new DatasetException(file + ": records have a 'foil': this is the contrastive file, use kind medicalbios-contrastive");
        }
        String name = file.getFileName().toString();
        Collector c = new Collector();
        Map<String, List<JsonLines.Line>> groups = new LinkedHashMap<>();
        for (JsonLines.Line l : lines) {
            if (l.value() == null || !l.value().isObject()) {
                c.skip(null, name + ":" + l.number(), l.error() != null ? l.error() : "not a JSON object");
                continue;
            }
            String key = JsonLines.idText(l.value(), "_input_hash");
            if (key == null) key = "text:" + JsonLines.text(l.value(), "text");
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(l);
        }
        for (Map.Entry<String, List<JsonLines.Line>> g : groups.entrySet()) {
            List<JsonLines.Line> recs = g.getValue();
            String id = JsonLines.idText(recs.get(0).value(), "_input_hash");
            String where = name + ":" + recs.get(0).number();
            c.add(id, where, () -> example(id, recs, contrastive));
        }
        return c.build(kind, file, LABELS);
    }

    private static Example example(String id, List<JsonLines.Line> recs, boolean contrastive) {
        if (id == null) throw new SkipException("missing _input_hash");
        JsonNode r0 = recs.get(0).value();
        String text = JsonLines.text(r0, "text");
        if (text == null) throw new SkipException("missing text");
        String label = lower(JsonLines.text(r0, "label"));
        String foil = contrastive ? lower(JsonLines.text(r0, "foil")) : null;
        if (label == null) throw new SkipException("missing label");
        if (contrastive && foil == null) throw new SkipException("missing foil");
        for (JsonLines.Line l : recs) {
            JsonNode r = l.value();
            if (!text.equals(JsonLines.text(r, "text"))) throw new SkipException("records of one _input_hash have different texts");
            if (!label.equals(lower(JsonLines.text(r, "label")))) throw new SkipException("records of one _input_hash have different labels");
            if (contrastive && !foil.equals(lower(JsonLines.text(r, "foil")))) {
                throw new SkipException("records of one _input_hash have different foils");
            }
        }
        int mark = text.indexOf(BIO_MARK);
        if (mark < 0) throw new SkipException("text has no \"\\n\\nBio: \" before the bio");
        int bioStart = mark + BIO_MARK.length();
        TextField bio = TextField.of("bio", text.substring(bioStart));

        // the latest accepted record per annotator
        TreeMap<String, JsonLines.Line> chosen = new TreeMap<>();
        int notAccepted = 0, duplicates = 0;
        for (JsonLines.Line l : recs) {
            JsonNode r = l.value();
            String answer = JsonLines.text(r, "answer");
            if (answer != null && !answer.equals("accept")) {
                notAccepted++;
                continue;
            }
            String who = JsonLines.text(r, "annotator");
            if (who == null) who = "line-" + l.number();
            JsonLines.Line prev = chosen.get(who);
            if (prev != null) {
                duplicates++;
                if (r.path("_timestamp").asLong() < prev.value().path("_timestamp").asLong()) continue;
            }
            chosen.put(who, l);
        }
        List<String> ids = new ArrayList<>();
        List<List<SortedSet<Integer>>> words = new ArrayList<>();
        for (Map.Entry<String, JsonLines.Line> e : chosen.entrySet()) {
            ids.add(e.getKey());
            words.add(List.of(spanWords(e.getValue().value(), text, bioStart, bio)));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("question", text.substring(0, mark));
        putIfText(meta, "gender", r0, "gender");
        putIfText(meta, "second_best", r0, "second_best");
        meta.put("records", String.valueOf(recs.size()));
        meta.put("dropped_not_accept", String.valueOf(notAccepted));
        meta.put("dropped_duplicates", String.valueOf(duplicates));
        return new Example(id, List.of(bio), label, LABELS, foil, new Annotations(ids, words), meta);
    }

    /**
     * The bio words inside the record's EVIDENCE spans. Prodigy writes {@code start}/{@code end} as Python string
     * offsets, that is in Unicode code points; they are turned into this text's UTF-16 indices before the words
     * (whose spans are UTF-16, {@link Words}) are matched, so a character outside the BMP (an emoji) before a span
     * does not shift it.
     */
    private static SortedSet<Integer> spanWords(JsonNode rec, String text, int bioStart, TextField bio) {
        TreeSet<Integer> out = new TreeSet<>();
        JsonNode spans = rec.get("spans");
        if (spans == null || spans.isNull()) return out;
        if (!spans.isArray()) throw new SkipException("spans is not a list");
        int codePoints = text.codePointCount(0, text.length());
        for (JsonNode s : spans) {
            String lab = JsonLines.text(s, "label");
            if (lab != null && !lab.equals("EVIDENCE")) continue;
            if (!s.path("start").isIntegralNumber() || !s.path("end").isIntegralNumber()) throw new SkipException("span without start/end");
            if (!s.get("start").canConvertToInt() || !s.get("end").canConvertToInt()
                    || s.get("start").intValue() < 0 || s.get("end").intValue() > codePoints || s.get("start").intValue() > s.get("end").intValue()) {
                throw new SkipException("span [" + s.get("start").asText() + ", " + s.get("end").asText() + ") outside the text ("
                        + codePoints + " chars)");
            }
            int start = text.offsetByCodePoints(0, s.get("start").intValue()), end = text.offsetByCodePoints(0, s.get("end").intValue());
            int a = Math.max(0, start - bioStart), b = end - bioStart;
            if (b > a) out.addAll(Words.overlapping(bio.words(), a, b));
        }
        return out;
    }

    private static void putIfText(Map<String, String> meta, String key, JsonNode o, String name) {
        String v = JsonLines.text(o, name);
        if (v != null) meta.put(key, v);
    }

    private static String lower(String s) { return s == null ? null : s.strip().toLowerCase(Locale.ROOT); }

    /**
     * {@code biosbias.csv} (kind {@code medicalbios} on a CSV file): columns {@code text} (field {@code bio}) and
     * {@code title} (the label, lower-cased), an unnamed first column used as the id (else {@code row <n>}),
     * {@code gender_name} and {@code 2nd best prediction} kept in meta as {@code gender} and {@code second_best}.
     * No rationales.
     */
    public static Dataset readCsv(Path file) {
        CsvRows.Table t = CsvRows.read(file, header -> {
            if (!header.contains("text") || !header.contains("title")) {
                throw new DatasetException(file + ": not biosbias.csv (no 'text' and 'title' columns)");
            }
        });
        int text = t.column("text"), title = t.column("title");
        int idCol = t.column("");
        int gender = t.column("gender_name"), second = t.column("2nd best prediction");
        String name = file.getFileName().toString();
        Collector c = new Collector();
        for (int r = 0; r < t.rows().size(); r++) {
            String[] row = t.rows().get(r);
            String where = name + " row " + (r + 1);
            String given = CsvRows.cell(row, idCol);
            String id = given == null || given.isBlank() ? "row " + (r + 1) : given;
            if (row.length != t.header().size()) {
                c.skip(id, where, row.length + " columns, the header has " + t.header().size());
                continue;
            }
            c.add(id, where, () -> {
                Map<String, String> meta = new LinkedHashMap<>();
                if (CsvRows.cell(row, gender) != null) meta.put("gender", CsvRows.cell(row, gender));
                if (CsvRows.cell(row, second) != null) meta.put("second_best", CsvRows.cell(row, second));
                return new Example(id, List.of(TextField.of("bio", CsvRows.cell(row, text))), lower(CsvRows.cell(row, title)),
                        LABELS, null, Annotations.none(), meta);
            });
        }
        return c.build("medicalbios", file, LABELS);
    }
}
