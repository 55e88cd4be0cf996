package io.rationale.dataset;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * ERASER benchmark format (kind {@code eraser}; DeYoung et al. 2020, {@code rationale_benchmark/utils.py}).
 *
 * <p>PATH is a split file ({@code train.jsonl}, {@code val.jsonl} or {@code test.jsonl}); its documents are in
 * the sibling folder {@code docs/} (one file per docid) or the sibling {@code docs.jsonl}
 * ({@code {"docid": str, "document": str}} per line). A document is newline-separated sentences of
 * space-separated tokens, read as ERASER reads it: from {@code docs/} as {@code load_documents} does (lines
 * stripped, empty lines dropped, each line split on {@code ' '} with empty tokens dropped), from
 * {@code docs.jsonl} as {@code load_documents_from_file} does (each line stripped and split on {@code ' '}, nothing
 * dropped: an empty line or a repeated space is an empty token that takes up an index but is no word); the
 * sentences are flattened: token indices count over the whole document.
 *
 * <p>Each line of the split file is {@code {"annotation_id": str, "classification": str, "query": str,
 * "query_type": str|null, "docids": [str]|null, "evidences": [[{"docid": str, "start_token": int,
 * "end_token": int, "start_sentence": int, "end_sentence": int, "text": str}, ...], ...]}}; start_token is
 * inclusive, end_token exclusive.
 * <ul>
 *   <li>id = {@code annotation_id}; label = {@code classification}; label set = the distinct classifications of
 *       the file, sorted.</li>
 *   <li>Documents of an example: {@code docids} when given, then any other docid named by its evidences (in
 *       order); when neither names one, the document whose docid is the annotation_id (ERASER's movies).</li>
 *   <li>Fields: one per document, text = its sentences (tokens joined by {@code ' '}) joined by {@code "\n"}, so
 *       ERASER token i is word i ({@link Words}). Field name = the docid with a leading
 *       {@code "<annotation_id>_"} removed (ERASER's e-SNLI docs {@code <id>_premise}/{@code <id>_hypothesis}
 *       give fields {@code premise}/{@code hypothesis}), else the docid. The {@code query} (FEVER: the claim,
 *       BoolQ: the question) comes first as field {@code query}, except when every document field is named
 *       {@code premise} or {@code hypothesis} (e-SNLI's query is a fixed question); it is kept in meta
 *       {@code query} always.</li>
 *   <li>Rationale: ONE annotator, id {@code eraser}, holding the union of all evidence groups, as ERASER's scorer
 *       does ({@code Rationale.from_annotation}); the query field has none. No evidences = no annotators.</li>
 *   <li>Skips: a missing document, an evidence token range outside its document, start &gt; end, a document with
 *       tokens that contain other whitespace (tab, no-break space: indices could not be mapped onto words).</li>
 * </ul>
 * The first record decides the format: it must have {@code annotation_id}, {@code classification} and
 * {@code evidences}, and {@code docs/} or {@code docs.jsonl} must exist.
 */
public final class EraserReader {
    private EraserReader() {}

    public static Dataset read(Path file) {
        List<JsonLines.Line> lines = JsonLines.read(file);
        JsonNode first = JsonLines.first(file, lines, "ERASER annotations JSONL");
        if (!JsonLines.hasAll(first, "annotation_id", "classification", "evidences")) {
            throw new DatasetException(file + ": not ERASER annotations JSONL (first record lacks annotation_id/classification/evidences)");
        }
        Docs docs = Docs.open(file);
        List<String> labels = JsonLines.distinctTexts(lines, "classification");
        Collector c = new Collector();
        JsonLines.forEachObject(file, lines, c, (o, where) -> {
            String id = JsonLines.text(o, "annotation_id");
            c.add(id, where, () -> example(o, id, labels, docs));
        });
        return c.build("eraser", file, labels);
    }

    private static Example example(JsonNode o, String id, List<String> labels, Docs docs) {
        if (id == null || id.isEmpty()) throw new SkipException("missing annotation_id");
        String label = JsonLines.text(o, "classification");
        JsonNode evidences = o.get("evidences");
        if (evidences != null && !evidences.isNull() && !evidences.isArray()) throw new SkipException("evidences is not a list");
        List<JsonNode> evs = new ArrayList<>();
        if (evidences != null) {
            for (JsonNode group : evidences) {
                if (group.isObject()) evs.add(group);
                else if (group.isArray()) for (JsonNode e : group) evs.add(e);
                else throw new SkipException("evidence group is not a list");
            }
        }
        LinkedHashSet<String> docids = new LinkedHashSet<>();
        JsonNode d = o.get("docids");
        if (d != null && d.isArray()) for (JsonNode x : d) if (x.isTextual()) docids.add(x.textValue());
        for (JsonNode e : evs) {
            String docid = JsonLines.text(e, "docid");
            if (docid == null) throw new SkipException("evidence without docid");
            docids.add(docid);
        }
        if (docids.isEmpty()) docids.add(id);

        List<String> order = new ArrayList<>(docids);
        List<TextField> docFields = new ArrayList<>();
        List<int[]> tokenWords = new ArrayList<>();
        boolean nli = true;
        for (String docid : order) {
            List<String> tokens = docs.tokens(docid);
            String fname = docid.startsWith(id + "_") && docid.length() > id.length() + 1 ? docid.substring(id.length() + 1) : docid;
            if (!fname.equals("premise") && !fname.equals("hypothesis")) nli = false;
            TextField f = TextField.of(fname, docs.text(docid));
            // ERASER token i is word toWord[i]; an empty token (docs.jsonl only) is no word (-1)
            int[] toWord = new int[tokens.size()];
            List<String> nonEmpty = new ArrayList<>();
            for (int i = 0; i < toWord.length; i++) {
                toWord[i] = tokens.get(i).isEmpty() ? -1 : nonEmpty.size();
                if (!tokens.get(i).isEmpty()) nonEmpty.add(tokens.get(i));
            }
            if (!Words.texts(f.words()).equals(nonEmpty)) {
                throw new SkipException("document " + docid + " has tokens containing whitespace other than ' '");
            }
            docFields.add(f);
            tokenWords.add(toWord);
        }
        String query = JsonLines.text(o, "query");
        boolean queryField = query != null && !query.isBlank() && !nli;
        List<TextField> fields = new ArrayList<>();
        if (queryField) fields.add(TextField.of("query", query));
        fields.addAll(docFields);
        int shift = queryField ? 1 : 0;

        Annotations ann = Annotations.none();
        if (!evs.isEmpty()) {
            List<SortedSet<Integer>> perField = new ArrayList<>();
            for (int i = 0; i < fields.size(); i++) perField.add(new TreeSet<>());
            for (JsonNode e : evs) {
                String docid = JsonLines.text(e, "docid");
                if (!e.path("start_token").isIntegralNumber() || !e.path("end_token").isIntegralNumber()) {
                    throw new SkipException("evidence in " + docid + " without start_token/end_token");
                }
                JsonNode st = e.get("start_token"), et = e.get("end_token");
                int[] toWord = tokenWords.get(order.indexOf(docid));
                int f = order.indexOf(docid) + shift;
                int n = toWord.length;
                if (!st.canConvertToInt() || !et.canConvertToInt() || st.intValue() < 0 || et.intValue() > n || st.intValue() > et.intValue()) {
                    throw new SkipException("evidence tokens [" + st.asText() + ", " + et.asText() + ") out of range for document " + docid + " (" + n + " tokens)");
                }
                int s = st.intValue(), t = et.intValue();
                for (int w = s; w < t; w++) if (toWord[w] >= 0) perField.get(f).add(toWord[w]);
            }
            ann = new Annotations(List.of("eraser"), List.of(perField));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        if (query != null) meta.put("query", query);
        String qt = JsonLines.text(o, "query_type");
        if (qt != null) meta.put("query_type", qt);
        return new Example(id, fields, label, labels, null, ann, meta);
    }

    /**
     * ERASER documents from {@code docs/} or {@code docs.jsonl}, tokenised as ERASER does, cached. ERASER's two
     * loaders differ: {@code load_documents} (a {@code docs/} folder) drops empty lines and empty tokens,
     * {@code load_documents_from_file} ({@code docs.jsonl}) keeps them, so there an empty line or a repeated space
     * is an empty token that takes up a token index without being a word.
     */
    private static final class Docs {
        private final Path dir;
        private final Map<String, String> inline;
        private final Map<String, List<List<String>>> cache = new HashMap<>();

        private Docs(Path dir, Map<String, String> inline) {
            this.dir = dir;
            this.inline = inline;
        }

        static Docs open(Path split) {
            Path parent = split.toAbsolutePath().getParent();
            Path dir = parent.resolve("docs");
            Path jsonl = parent.resolve("docs.jsonl");
            if (Files.isDirectory(dir)) return new Docs(dir, null);
            if (Files.isRegularFile(jsonl)) {
                Map<String, String> m = new HashMap<>();
                for (JsonLines.Line l : JsonLines.read(jsonl)) {
                    if (l.value() == null) throw new DatasetException(jsonl + ":" + l.number() + ": " + l.error());
                    String id = JsonLines.text(l.value(), "docid"), doc = JsonLines.text(l.value(), "document");
                    if (id == null || doc == null) throw new DatasetException(jsonl + ":" + l.number() + ": record lacks docid/document");
                    m.put(id, doc);
                }
                return new Docs(null, m);
            }
            throw new DatasetException(split + ": ERASER documents not found (no " + dir + " folder and no " + jsonl + ")");
        }

        List<List<String>> sentences(String docid) {
            List<List<String>> s = cache.get(docid);
            if (s != null) return s;
            String raw;
            if (inline != null) {
                raw = inline.get(docid);
                if (raw == null) throw new SkipException("document " + docid + " not found");
            } else {
                Path p = dir.resolve(docid).normalize();
                if (!p.startsWith(dir.normalize()) || !Files.isRegularFile(p)) throw new SkipException("document " + docid + " not found");
                try {
                    raw = Files.readString(p, StandardCharsets.UTF_8);
                } catch (CharacterCodingException e) {
                    throw new SkipException("document " + docid + " is " + TextFiles.notUtf8(p));
                } catch (IOException e) {
                    throw new SkipException("document " + docid + " unreadable: " + e.getMessage());
                }
            }
            List<List<String>> out = new ArrayList<>();
            for (String line : raw.split("\n", -1)) {
                String st = line.strip();
                List<String> toks = new ArrayList<>();
                if (inline != null) {
                    // load_documents_from_file: every line, split on ' ' as is (empty lines and repeated spaces
                    // give empty tokens, which count in the token indices)
                    toks.addAll(List.of(st.split(" ", -1)));
                } else {
                    // load_documents (a docs/ folder): empty lines and empty tokens dropped
                    if (st.isEmpty()) continue;
                    for (String t : st.split(" ")) if (!t.isEmpty()) toks.add(t);
                }
                out.add(toks);
            }
            cache.put(docid, out);
            return out;
        }

        List<String> tokens(String docid) {
            List<String> out = new ArrayList<>();
            for (List<String> s : sentences(docid)) out.addAll(s);
            return out;
        }

        /** The document's non-empty tokens, joined by ' ' within a sentence and by a line break between sentences. */
        String text(String docid) {
            StringBuilder b = new StringBuilder();
            for (List<String> s : sentences(docid)) {
                List<String> words = s.stream().filter(t -> !t.isEmpty()).toList();
                if (words.isEmpty()) continue;
                if (!b.isEmpty()) b.append('\n');
                b.append(String.join(" ", words));
            }
            return b.toString();
        }
    }
}
