package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ERASER files are not available here; these fixtures follow the published format
 * (rationale_benchmark/utils.py: Annotation/Evidence dataclasses, docs/ or docs.jsonl, start_token inclusive,
 * end_token exclusive, token indices over the flattened document).
 */
class EraserReaderTest {

    private static String words(Example e, int field, Set<Integer> idx) {
        List<String> out = new ArrayList<>();
        for (int w : idx) out.add(e.fields().get(field).words().get(w).text());
        return String.join(" ", out);
    }

    @Test
    void esnliLayout(@TempDir Path dir) {
        Shared.write(dir.resolve("docs/abc_premise"), "A man , a plan .\n");
        Shared.write(dir.resolve("docs/abc_hypothesis"), "A person plans .\n");
        Shared.write(dir.resolve("docs/def_premise"), "A dog .\n");
        Shared.write(dir.resolve("docs/def_hypothesis"), "A cat .\n");
        Path f = Shared.lines(dir.resolve("test.jsonl"), List.of(
                "{\"annotation_id\": \"abc\", \"classification\": \"entailment\", \"docids\": [\"abc_premise\", \"abc_hypothesis\"], "
                        + "\"query\": \"What is the relationship between the premise and hypothesis?\", \"query_type\": null, \"evidences\": ["
                        + "[{\"docid\": \"abc_premise\", \"start_token\": 1, \"end_token\": 2, \"start_sentence\": 0, \"end_sentence\": 1, \"text\": \"man\"}], "
                        + "[{\"docid\": \"abc_hypothesis\", \"start_token\": 1, \"end_token\": 3, \"start_sentence\": 0, \"end_sentence\": 1, \"text\": \"person plans\"}], "
                        + "[{\"docid\": \"abc_premise\", \"start_token\": 4, \"end_token\": 5, \"start_sentence\": 0, \"end_sentence\": 1, \"text\": \"plan\"}]]}",
                "{\"annotation_id\": \"def\", \"classification\": \"contradiction\", \"docids\": [\"def_premise\", \"def_hypothesis\"], \"query\": \"q\", "
                        + "\"evidences\": [[{\"docid\": \"def_hypothesis\", \"start_token\": 2, \"end_token\": 9, \"text\": \"x\"}]]}",
                "{\"annotation_id\": \"ghi\", \"classification\": \"neutral\", \"docids\": [\"ghi_premise\", \"ghi_hypothesis\"], \"query\": \"q\", \"evidences\": []}"));
        Dataset d = DatasetLoader.load("eraser:" + f);
        assertEquals(List.of("contradiction", "entailment", "neutral"), d.labels());
        assertEquals(1, d.size());
        Example e = d.examples().get(0);
        // e-SNLI: no query field, premise then hypothesis
        assertEquals(List.of("premise", "hypothesis"), e.fields().stream().map(TextField::name).toList());
        assertEquals("A man , a plan .", e.field("premise").text());
        assertEquals(List.of("eraser"), e.annotations().annotators());
        // all evidence groups are united into one rationale, as ERASER's scorer does
        assertEquals(Optional.of(Set.of(1, 4)), e.rationale(0, Aggregation.DEFAULT));
        assertEquals(Optional.of(Set.of(1, 2)), e.rationale(1, Aggregation.DEFAULT));
        assertEquals("person plans", words(e, 1, e.rationale(1, Aggregation.DEFAULT).orElseThrow()));
        assertEquals("What is the relationship between the premise and hypothesis?", e.meta().get("query"));
        assertEquals("evidence tokens [2, 9) out of range for document def_hypothesis (3 tokens)", Shared.skip(d, "def").reason());
        assertEquals("document ghi_premise not found", Shared.skip(d, "ghi").reason());
    }

    @Test
    void feverLayoutWithDocsJsonl(@TempDir Path dir) {
        Shared.lines(dir.resolve("docs.jsonl"), List.of(
                "{\"docid\": \"Page_One\", \"document\": \"Page One is a page .\\nIt has two sentences .\"}",
                "{\"docid\": \"Page_Two\", \"document\": \"Another  page\\twith a tab .\"}"));
        Path f = Shared.lines(dir.resolve("val.jsonl"), List.of(
                "{\"annotation_id\": \"7\", \"classification\": \"SUPPORTS\", \"docids\": null, \"query\": \"Page One has two sentences.\", "
                        + "\"query_type\": null, \"evidences\": [[{\"docid\": \"Page_One\", \"start_token\": 6, \"end_token\": 10, "
                        + "\"start_sentence\": 1, \"end_sentence\": 2, \"text\": \"It has two sentences\"}]]}",
                "{\"annotation_id\": \"8\", \"classification\": \"REFUTES\", \"query\": \"Two is one.\", "
                        + "\"evidences\": [[{\"docid\": \"Page_Two\", \"start_token\": 0, \"end_token\": 1, \"text\": \"Another\"}]]}"));
        Dataset d = DatasetLoader.load("eraser:" + f);
        assertEquals(List.of("REFUTES", "SUPPORTS"), d.labels());
        Example e = d.examples().get(0);
        // the claim is the query and comes first; the document's sentences are joined by a line break
        assertEquals(List.of("query", "Page_One"), e.fields().stream().map(TextField::name).toList());
        assertEquals("Page One has two sentences.", e.field("query").text());
        assertEquals("Page One is a page .\nIt has two sentences .", e.field("Page_One").text());
        assertEquals(Optional.of(Set.of()), e.rationale(0, Aggregation.DEFAULT));
        assertEquals(Optional.of(Set.of(6, 7, 8, 9)), e.rationale(1, Aggregation.DEFAULT));
        assertEquals("It has two sentences", words(e, 1, e.rationale(1, Aggregation.DEFAULT).orElseThrow()));
        // ERASER splits on ' ' only: "page\twith" is one ERASER token but two words
        assertEquals("document Page_Two has tokens containing whitespace other than ' '", Shared.skip(d, "8").reason());
    }

    @Test
    void docsJsonlKeepsErasersEmptyTokens(@TempDir Path dir) {
        // ERASER's load_documents_from_file splits docs.jsonl documents on '\n' and ' ' without dropping anything:
        // Python gives "first line here .\n\nsecond  line ." the tokens first(0) line(1) here(2) .(3) ''(4)
        // second(5) ''(6) line(7) .(8): 9 token indices over 7 words
        Shared.lines(dir.resolve("docs.jsonl"), List.of("{\"docid\": \"d1\", \"document\": \"first line here .\\n\\nsecond  line .\"}"));
        Path f = Shared.lines(dir.resolve("test.jsonl"), List.of(
                "{\"annotation_id\": \"a\", \"classification\": \"x\", \"query\": \"q\", \"docids\": [\"d1\"], \"evidences\": ["
                        + "[{\"docid\": \"d1\", \"start_token\": 5, \"end_token\": 6}], [{\"docid\": \"d1\", \"start_token\": 7, \"end_token\": 9}]]}",
                "{\"annotation_id\": \"b\", \"classification\": \"x\", \"query\": \"q\", \"docids\": [\"d1\"], \"evidences\": ["
                        + "[{\"docid\": \"d1\", \"start_token\": 4, \"end_token\": 5}]]}",
                "{\"annotation_id\": \"c\", \"classification\": \"x\", \"query\": \"q\", \"docids\": [\"d1\"], \"evidences\": ["
                        + "[{\"docid\": \"d1\", \"start_token\": 8, \"end_token\": 10}]]}"));
        Dataset d = DatasetLoader.load("eraser:" + f);
        Example a = Shared.example(d, "a");
        assertEquals("first line here .\nsecond line .", a.field("d1").text());
        // tokens 5 and 7, 8 are the words second(4), line(5), .(6)
        assertEquals(Optional.of(Set.of(4, 5, 6)), a.rationale(1, Aggregation.DEFAULT));
        assertEquals("second line .", words(a, 1, a.rationale(1, Aggregation.DEFAULT).orElseThrow()));
        // token 4 is the empty line: no word
        assertEquals(Optional.of(Set.of()), Shared.example(d, "b").rationale(1, Aggregation.DEFAULT));
        assertEquals("evidence tokens [8, 10) out of range for document d1 (9 tokens)", Shared.skip(d, "c").reason());
    }

    @Test
    void moviesLayoutDocumentNamedByAnnotationId(@TempDir Path dir) {
        Shared.write(dir.resolve("docs/negR_000.txt"), "this is a bad film .\n\nreally bad .\n");
        Shared.write(dir.resolve("docs/posR_001.txt"), "great .\n");
        Path f = Shared.lines(dir.resolve("train.jsonl"), List.of(
                "{\"annotation_id\": \"negR_000.txt\", \"classification\": \"NEG\", \"query\": \"What is the sentiment of this review?\", "
                        + "\"evidences\": [[{\"docid\": \"negR_000.txt\", \"start_token\": 3, \"end_token\": 5, \"text\": \"bad film\"}], "
                        + "[{\"docid\": \"negR_000.txt\", \"start_token\": 7, \"end_token\": 8, \"text\": \"bad\"}]]}",
                "{\"annotation_id\": \"posR_001.txt\", \"classification\": \"POS\", \"query\": \"What is the sentiment of this review?\", \"evidences\": []}"));
        Dataset d = DatasetLoader.load("eraser:" + f);
        assertEquals(2, d.size());
        Example neg = d.examples().get(0);
        // the empty line is dropped: tokens this(0) is a bad(3) film(4) .(5) really(6) bad(7) .(8)
        assertEquals("this is a bad film .\nreally bad .", neg.field("negR_000.txt").text());
        assertEquals(Optional.of(Set.of(3, 4, 7)), neg.rationale(1, Aggregation.DEFAULT));
        assertFalse(d.examples().get(1).hasRationales());
        assertEquals("great .", d.examples().get(1).field("posR_001.txt").text());
    }

    @Test
    void tokenIndexBeyondIntRangeIsOutOfRange(@TempDir Path dir) {
        Shared.write(dir.resolve("docs/d"), "short doc .\n");
        // 4294967296 = 2^32: read as an int it would wrap around to 0, and [0, 2) would mark "short doc"
        Path f = Shared.lines(dir.resolve("test.jsonl"), List.of(
                "{\"annotation_id\": \"a\", \"classification\": \"x\", \"query\": \"q\", \"docids\": [\"d\"], "
                        + "\"evidences\": [[{\"docid\": \"d\", \"start_token\": 4294967296, \"end_token\": 4294967298}]]}"));
        Dataset d = DatasetLoader.load("eraser:" + f);
        assertEquals(0, d.size());
        assertEquals("evidence tokens [4294967296, 4294967298) out of range for document d (3 tokens)", Shared.skip(d, "a").reason());
    }

    @Test
    void formatErrors(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("test.jsonl"), List.of("{\"annotation_id\": \"a\", \"classification\": \"x\", \"evidences\": []}"));
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load("eraser:" + f));
        assertTrue(e.getMessage().startsWith(f + ": ERASER documents not found"), e.getMessage());
        Path g = Shared.lines(dir.resolve("other.jsonl"), List.of("{\"claim\": \"a\", \"label\": \"SUPPORTS\", \"evidence\": []}"));
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("eraser:" + g));
        assertEquals(g + ": not ERASER annotations JSONL (first record lacks annotation_id/classification/evidences)", e.getMessage());
    }
}
