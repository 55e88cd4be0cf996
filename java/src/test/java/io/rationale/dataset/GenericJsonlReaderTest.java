package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenericJsonlReaderTest {

    @Test
    void everyRationaleForm(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("mine.jsonl"), List.of(
                "{\"id\": \"a\", \"fields\": {\"premise\": \"A man sleeps .\", \"hypothesis\": \"He rests\"}, \"label\": \"yes\", "
                        + "\"labels\": [\"yes\", \"no\"], \"rationale\": {\"premise\": [2], \"hypothesis\": [1]}, \"meta\": {\"src\": \"x\", \"n\": 3}}",
                "{\"id\": \"b\", \"fields\": {\"premise\": \"A man sleeps .\", \"hypothesis\": \"He rests\"}, \"label\": \"no\", "
                        + "\"labels\": [\"yes\", \"no\"], \"rationale\": [{\"premise\": [1, 2]}, {\"premise\": [2], \"hypothesis\": [0]}]}",
                "{\"id\": 3, \"text\": \"good movie overall\", \"label\": \"pos\", \"labels\": [\"pos\", \"neg\"], \"foil\": \"neg\", \"rationale\": [0, 1]}",
                "{\"id\": \"d\", \"text\": \"bad movie\", \"label\": \"neg\", \"labels\": [\"pos\", \"neg\"], \"rationale\": [[0], [0, 1], []]}",
                "{\"id\": \"e\", \"text\": \"fine\", \"label\": \"pos\", \"labels\": [\"pos\", \"neg\"], "
                        + "\"rationale\": {\"annotators\": {\"alice\": {\"text\": [0]}, \"bob\": {\"text\": []}}}}",
                "{\"id\": \"f\", \"text\": \"no rationale here\", \"label\": \"pos\", \"labels\": [\"pos\", \"neg\"]}"));
        Dataset d = DatasetLoader.load("jsonl:" + f);
        assertEquals(List.of(), d.skipped());
        assertEquals(6, d.size());
        Example a = d.examples().get(0);
        assertEquals(List.of("premise", "hypothesis"), a.fields().stream().map(TextField::name).toList());
        assertEquals(List.of("1"), a.annotations().annotators());
        assertEquals(Optional.of(Set.of(2)), a.rationale(0, Aggregation.DEFAULT));
        assertEquals("3", a.meta().get("n"));
        Example b = d.examples().get(1);
        assertEquals(List.of("1", "2"), b.annotations().annotators());
        assertEquals(Optional.of(Set.of(2)), b.rationale(0, Aggregation.MAJORITY));
        assertEquals(Optional.of(Set.of(0)), b.rationale(1, Aggregation.UNION));
        Example c = d.examples().get(2);
        assertEquals("3", c.id());
        assertEquals(Optional.of("neg"), c.foilLabel());
        assertEquals(Optional.of(Set.of(0, 1)), c.rationale(0, Aggregation.DEFAULT));
        Example dd = d.examples().get(3);
        assertEquals(3, dd.annotations().count());
        // votes word0 2, word1 1 of 3 annotators: majority {0}
        assertEquals(Optional.of(Set.of(0)), dd.rationale(0, Aggregation.MAJORITY));
        Example e = d.examples().get(4);
        assertEquals(List.of("alice", "bob"), e.annotations().annotators());
        assertEquals(Optional.of(Set.of()), e.rationale(0, new Aggregation.Annotator("bob")));
        assertFalse(d.examples().get(5).hasRationales());
    }

    @Test
    void labelSetFromTheFileAndSkips(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("mine.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"one two\", \"label\": \"b\"}",
                "{\"id\": \"b\", \"text\": \"one two\", \"label\": \"a\", \"rationale\": [5]}",
                "{\"text\": \"one two\", \"label\": \"a\"}",
                "{\"id\": \"d\", \"text\": \"   \", \"label\": \"a\"}",
                "{\"id\": \"e\", \"fields\": {\"x\": \"one\"}, \"label\": \"a\", \"rationale\": {\"y\": [0]}}",
                "{\"id\": \"f\", \"text\": \"one\", \"label\": \"c\", \"labels\": [\"a\", \"b\"]}",
                "{\"id\": \"g\", \"text\": \"one\", \"label\": \"a\", \"foil\": \"z\"}",
                "{\"id\": \"h\", \"text\": \"one\", \"label\": \"a\", \"rationale\": [0.5]}",
                "[1, 2]"));
        Dataset d = DatasetLoader.load("jsonl:" + f);
        // the file's set is the first declared "labels" (line 6's), which the lines without "labels" use too
        assertEquals(List.of("a", "b"), d.labels());
        assertEquals(List.of("a"), d.examples().stream().map(Example::id).toList());
        assertEquals("rationale word index 5 out of range for field 'text' (2 words), annotator '1'", Shared.skip(d, "b").reason());
        assertEquals("missing id", d.skipped().get(1).reason());
        assertEquals("mine.jsonl:3", d.skipped().get(1).where());
        assertEquals("field 'text' is empty", Shared.skip(d, "d").reason());
        assertEquals("rationale names unknown field 'y'", Shared.skip(d, "e").reason());
        assertEquals("label 'c' is not in the label set [a, b]", Shared.skip(d, "f").reason());
        assertEquals("foil 'z' is not in the label set [a, b]", Shared.skip(d, "g").reason());
        assertEquals("rationale of field 'text' has a non-integer index 0.5", Shared.skip(d, "h").reason());
        assertEquals("not a JSON object", d.skipped().get(7).reason());
        assertEquals(8, d.skipped().size());
    }

    @Test
    void noDeclaredLabelsGiveTheSortedGoldLabels(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("mine.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"one two\", \"label\": \"b\"}",
                "{\"id\": \"b\", \"text\": \"one two\", \"label\": \"a\"}",
                "{\"id\": \"c\", \"text\": \"one\", \"label\": \"c\"}"));
        assertEquals(List.of("a", "b", "c"), DatasetLoader.load("jsonl:" + f).labels());
    }

    /** Item 3 of issue 10: every gold label the same, the declared labels are the label set. */
    @Test
    void declaredLabelsAreTheFilesLabelSetEvenWhenOneGoldLabelOccurs(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("mine.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"A man sleeps\", \"label\": \"entailment\", \"labels\": [\"entailment\", \"neutral\", \"contradiction\"]}",
                "{\"id\": \"b\", \"text\": \"He rests\", \"label\": \"entailment\", \"labels\": [\"entailment\", \"neutral\", \"contradiction\"]}",
                "{\"id\": \"c\", \"text\": \"He runs\", \"label\": \"entailment\"}"));
        Dataset d = DatasetLoader.load("jsonl:" + f);
        assertEquals(List.of("entailment", "neutral", "contradiction"), d.labels());
        for (Example e : d.examples()) assertEquals(d.labels(), e.labels(), e.id());
    }

    /** Item 9 of issue 10: a line that is not JSON is skipped at its own line, without the parser's "line: 1". */
    @Test
    void malformedLineIsReportedAtItsFileLine(@TempDir Path dir) {
        Path f = Shared.lines(dir.resolve("mine.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"one two\", \"label\": \"b\"}",
                "",
                "{\"id\": \"b\", \"text\": \"one\", \"label\": \"a\"",
                "{\"id\": \"c\", \"text\": x}"));
        Dataset d = DatasetLoader.load("jsonl:" + f);
        assertEquals(2, d.skipped().size());
        Skipped unclosed = d.skipped().get(0), bad = d.skipped().get(1);
        assertEquals("mine.jsonl:3", unclosed.where());
        assertEquals("mine.jsonl:4", bad.where());
        for (Skipped s : d.skipped()) {
            assertTrue(s.reason().startsWith("invalid JSON: "), s.reason());
            assertFalse(s.reason().contains("line: 1"), s.reason());
            assertFalse(s.reason().contains("Source"), s.reason());
            assertFalse(s.reason().contains("\n"), s.reason());
        }
        // the column points at or just after the x of {"id": "c", "text": x}
        var column = java.util.regex.Pattern.compile("\\(column (\\d+)\\)$").matcher(bad.reason());
        assertTrue(column.find(), bad.reason());
        int x = "{\"id\": \"c\", \"text\": x}".indexOf('x', 18) + 1;
        assertTrue(Integer.parseInt(column.group(1)) >= x && Integer.parseInt(column.group(1)) <= x + 1, bad.reason());
    }

    @Test
    void firstRecordMustLookRight(@TempDir Path dir) {
        // a MedicalBios record has text and label but no id
        Path f = Shared.lines(dir.resolve("x.jsonl"), List.of("{\"text\": \"a\", \"label\": \"nurse\", \"spans\": []}"));
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load("jsonl:" + f));
        assertEquals(f + ": not rationale-engine JSONL (first record lacks id/label/fields or text)", e.getMessage());
        Path g = Shared.lines(dir.resolve("y.jsonl"), List.of("not json at all"));
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("jsonl:" + g));
        assertTrue(e.getMessage().startsWith(g + ": not rationale-engine JSONL (line 1 is not a JSON object)"), e.getMessage());
    }
}
