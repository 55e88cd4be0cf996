package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MedicalBiosReaderTest {
    private static final Path STANDARD = Shared.dataset("medicalbios/standard_biosbias_rationales.jsonl");
    private static final Path CONTRASTIVE = Shared.dataset("medicalbios/contrastive_biosbias_rationales.jsonl");
    private static final Path CSV = Shared.dataset("medicalbios/biosbias.csv");

    /** Totals over examples: annotators, annotator words, union words, majority words, bio words. */
    private static long[] totals(Dataset d) {
        long[] t = new long[5];
        for (Example e : d.examples()) {
            t[0] += e.annotations().count();
            for (int a = 0; a < e.annotations().count(); a++) t[1] += e.annotations().of(a, 0).size();
            t[2] += e.rationale(0, Aggregation.UNION).orElseThrow().size();
            t[3] += e.rationale(0, Aggregation.MAJORITY).orElseThrow().size();
            t[4] += e.fields().get(0).wordCount();
        }
        return t;
    }

    /*
     * Independent Python check (json + re.finditer(r'\S+') over the bio, spans shifted by the bio start and
     * clipped, a word counted when any character overlaps): 584 records over 113 _input_hash groups (one text
     * each); answers 562 accept, 14 reject, 8 ignore; annotator-12 has two accepted records for 10 bios; keeping
     * the latest leaves 552 annotator rationales, 5670 marked words, union 2939, majority (2·votes > n) 706,
     * bio words 6112; labels per bio: nurse 32, psychologist 28, physician 20, surgeon 17, dentist 16;
     * annotators per bio {3: 34, 4: 37, 5: 18, 6: 16, 9: 3, 17: 1, 18: 4}.
     */
    @Test
    void realStandardFile() {
        Dataset d = DatasetLoader.load("medicalbios:" + STANDARD);
        assertEquals(113, d.size());
        assertEquals(List.of(), d.skipped());
        assertEquals(113, d.withRationales());
        assertEquals(List.of("dentist", "nurse", "physician", "psychologist", "surgeon"), d.labels());
        long[] t = totals(d);
        assertEquals(552, t[0]);
        assertEquals(5670, t[1]);
        assertEquals(2939, t[2]);
        assertEquals(706, t[3]);
        assertEquals(6112, t[4]);
        Map<String, Integer> labels = new TreeMap<>();
        Map<Integer, Integer> annotators = new TreeMap<>();
        int notAccepted = 0, duplicates = 0, records = 0;
        for (Example e : d.examples()) {
            labels.merge(e.label(), 1, Integer::sum);
            annotators.merge(e.annotations().count(), 1, Integer::sum);
            notAccepted += Integer.parseInt(e.meta().get("dropped_not_accept"));
            duplicates += Integer.parseInt(e.meta().get("dropped_duplicates"));
            records += Integer.parseInt(e.meta().get("records"));
            assertTrue(e.meta().get("question").startsWith("Why is the person in the following short bio described as a \""));
            assertTrue(e.foilLabel().isEmpty());
        }
        assertEquals(Map.of("dentist", 16, "nurse", 32, "physician", 20, "psychologist", 28, "surgeon", 17), labels);
        assertEquals(Map.of(3, 34, 4, 37, 5, 18, 6, 16, 9, 3, 17, 1, 18, 4), annotators);
        assertEquals(22, notAccepted);
        assertEquals(10, duplicates);
        assertEquals(584, records);
    }

    @Test
    void realStandardExamples() {
        Dataset d = DatasetLoader.load("medicalbios:" + STANDARD);
        Example first = d.examples().get(0);
        assertEquals("-1431906091", first.id());
        assertEquals("surgeon", first.label());
        assertEquals("male", first.meta().get("gender"));
        assertTrue(first.field("bio").text().startsWith("After graduating from medical school he embarked"));
        assertEquals(54, first.field("bio").wordCount());
        assertEquals(18, first.annotations().count());
        assertEquals("annotator-01", first.annotations().annotators().get(0));
        // annotator-01's spans: [165,177) [179,186) [191,213) [218,230) [254,270) [423,438), bio starts at 77
        assertEquals(Optional.of(Set.of(13, 14, 16, 17, 19, 23, 24, 52, 53)), first.rationale(0, new Aggregation.Annotator("annotator-01")));
        // annotator-05 accepted the bio without marking anything
        assertEquals(Optional.of(Set.of()), first.rationale(0, new Aggregation.Annotator("annotator-05")));
        assertEquals("surgical", first.field("bio").words().get(9).text());

        // annotator-12 annotated this bio twice; the later record (spans [209,329)) wins over [297,329)
        Example dup = Shared.example(d, "-2042134609");
        assertEquals(6, dup.annotations().count());
        assertEquals("1", dup.meta().get("dropped_duplicates"));
        TreeSet<Integer> expected = new TreeSet<>();
        for (int w = 25; w <= 44; w++) expected.add(w);
        assertEquals(Optional.of(expected), dup.rationale(0, new Aggregation.Annotator("annotator-12")));

        // annotator-09's span [80,85) is ": Dr." and starts on the question's colon: clipped to the bio, word 0
        Example colon = Shared.example(d, "-722238135");
        assertTrue(colon.field("bio").text().startsWith("Dr. Michalczuk"));
        assertTrue(colon.rationale(0, new Aggregation.Annotator("annotator-09")).orElseThrow().contains(0));
    }

    /*
     * Python as above on the contrastive file: 339 records, all accepted, 113 bios with 3 annotators each,
     * 1621 marked words, union 1002, majority 448; foils per bio physician 47, nurse 38, surgeon 14,
     * psychologist 13, dentist 1; never equal to the label.
     */
    @Test
    void realContrastiveFile() {
        Dataset d = DatasetLoader.load("medicalbios-contrastive:" + CONTRASTIVE);
        assertEquals(113, d.size());
        assertEquals(List.of(), d.skipped());
        long[] t = totals(d);
        assertEquals(339, t[0]);
        assertEquals(1621, t[1]);
        assertEquals(1002, t[2]);
        assertEquals(448, t[3]);
        assertEquals(6112, t[4]);
        Map<String, Integer> foils = new TreeMap<>();
        for (Example e : d.examples()) foils.merge(e.foil(), 1, Integer::sum);
        assertEquals(Map.of("physician", 47, "nurse", 38, "surgeon", 14, "psychologist", 13, "dentist", 1), foils);
        Example first = d.examples().get(0);
        assertEquals("-468529858", first.id());
        assertEquals("psychologist", first.label());
        assertEquals(Optional.of("nurse"), first.foilLabel());
        assertEquals(Optional.of(Set.of(16, 17)), first.rationale(0, Aggregation.MAJORITY));
        assertEquals(29, first.field("bio").wordCount());
    }

    /* Python csv: 339 rows, title psychologist 133, dentist 58, surgeon 54, nurse 52, physician 42. */
    @Test
    void realBiosCsv() {
        Dataset d = DatasetLoader.load("medicalbios:" + CSV);
        assertEquals(339, d.size());
        assertEquals(List.of(), d.skipped());
        Map<String, Integer> labels = new TreeMap<>();
        for (Example e : d.examples()) {
            labels.merge(e.label(), 1, Integer::sum);
            assertFalse(e.hasRationales());
        }
        assertEquals(Map.of("psychologist", 133, "dentist", 58, "surgeon", 54, "nurse", 52, "physician", 42), labels);
        Example first = d.examples().get(0);
        assertEquals("0", first.id());
        assertEquals("dentist", first.label());
        assertEquals("female", first.meta().get("gender"));
        assertTrue(first.field("bio").text().startsWith("She is a member of Indian Dental Association."));
    }

    @Test
    void wrongVariantStopsAtOnce() {
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load("medicalbios:" + CONTRASTIVE));
        assertEquals(CONTRASTIVE + ": records have a 'foil': this is the contrastive file, use kind medicalbios-contrastive", e.getMessage());
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("medicalbios-contrastive:" + STANDARD));
        assertEquals(STANDARD + ": records have no 'foil': this is not the contrastive file, use kind medicalbios", e.getMessage());
        e = assertThrows(DatasetException.class, () -> DatasetLoader.load("medicalbios-contrastive:" + CSV));
        assertTrue(e.getMessage().startsWith(CSV + ": not contrastive MedicalBios JSONL"), e.getMessage());
    }

    @Test
    void fixtureGroupingAndSkips(@TempDir Path dir) {
        String q = "Why is the person in the following short bio described as a \\\"Nurse\\\"?\\n\\nBio: ";
        // bio "She cares for patients." starts at char 75 of the text (the question is 68 chars + "\n\nBio: ")
        String text = q + "She cares for patients.";
        Path f = Shared.lines(dir.resolve("bios.jsonl"), List.of(
                rec(1, text, "nurse", "a", "accept", 10, "[{\"start\": 79, \"end\": 84, \"label\": \"EVIDENCE\"}]"),
                rec(1, text, "nurse", "b", "accept", 10, "[{\"start\": 89, \"end\": 97, \"label\": \"EVIDENCE\"}, {\"start\": 75, \"end\": 78, \"label\": \"OTHER\"}]"),
                rec(1, text, "nurse", "c", "reject", 10, "[{\"start\": 75, \"end\": 78, \"label\": \"EVIDENCE\"}]"),
                rec(2, "no bio marker here", "nurse", "a", "accept", 10, "[]"),
                rec(3, text, "teacher", "a", "accept", 10, "[]"),
                rec(4, text, "nurse", "a", "accept", 10, "[{\"start\": 90, \"end\": 120, \"label\": \"EVIDENCE\"}]"),
                rec(5, text, "nurse", "a", "accept", 10, "[]"),
                rec(5, text, "surgeon", "b", "accept", 10, "[]")));
        Dataset d = DatasetLoader.load("medicalbios:" + f);
        assertEquals(1, d.size());
        Example e = d.examples().get(0);
        assertEquals("She cares for patients.", e.field("bio").text());
        // words She[0,3) cares[4,9) for[10,13) patients.[14,23) in bio coordinates (+75 in the text)
        assertEquals(List.of("a", "b"), e.annotations().annotators());
        assertEquals(Set.of(1), e.annotations().of(0, 0));
        assertEquals(Set.of(3), e.annotations().of(1, 0));   // OTHER-labelled span ignored
        assertEquals("1", e.meta().get("dropped_not_accept"));
        assertEquals("text has no \"\\n\\nBio: \" before the bio", Shared.skip(d, "2").reason());
        assertEquals("label 'teacher' is not in the label set [dentist, nurse, physician, psychologist, surgeon]", Shared.skip(d, "3").reason());
        assertEquals("span [90, 120) outside the text (98 chars)", Shared.skip(d, "4").reason());
        assertEquals("records of one _input_hash have different labels", Shared.skip(d, "5").reason());
    }

    @Test
    void spanOffsetsCountCodePointsAsProdigyWritesThem(@TempDir Path dir) {
        // Prodigy (Python) writes character offsets in code points. Python: the text below has 99 code points
        // (102 UTF-16 units: each emoji is a surrogate pair); "top" starts at 88 and "nurse" at 92; the bio's words
        // are She, 😀😀😀, is, a, top, nurse, . (indices 0..6).
        String q = "Why is the person in the following short bio described as a \\\"Nurse\\\"?\\n\\nBio: ";
        String text = q + "She \uD83D\uDE00\uD83D\uDE00\uD83D\uDE00 is a top nurse .";
        Path f = Shared.lines(dir.resolve("bios.jsonl"), List.of(
                rec(1, text, "nurse", "a", "accept", 10, "[{\"start\": 88, \"end\": 91, \"label\": \"EVIDENCE\"}]"),
                rec(1, text, "nurse", "b", "accept", 10, "[{\"start\": 92, \"end\": 99, \"label\": \"EVIDENCE\"}]"),
                rec(2, text, "nurse", "a", "accept", 10, "[{\"start\": 92, \"end\": 100, \"label\": \"EVIDENCE\"}]"),
                rec(3, text, "nurse", "a", "accept", 10, "[{\"start\": 4294967296, \"end\": 4294967297, \"label\": \"EVIDENCE\"}]")));
        Dataset d = DatasetLoader.load("medicalbios:" + f);
        Example e = Shared.example(d, "1");
        assertEquals(List.of("She", "\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00", "is", "a", "top", "nurse", "."), Words.texts(e.field("bio").words()));
        assertEquals(Set.of(4), e.annotations().of(0, 0));      // "top", not "a"
        assertEquals(Set.of(5, 6), e.annotations().of(1, 0));   // "nurse ." up to the text's end (99 code points)
        assertEquals("span [92, 100) outside the text (99 chars)", Shared.skip(d, "2").reason());
        // an offset beyond int range is out of range, not wrapped around to a small one
        assertEquals("span [4294967296, 4294967297) outside the text (99 chars)", Shared.skip(d, "3").reason());
    }

    private static String rec(int hash, String text, String label, String annotator, String answer, long ts, String spans) {
        return "{\"_input_hash\": " + hash + ", \"text\": \"" + text + "\", \"label\": \"" + label + "\", \"annotator\": \""
                + annotator + "\", \"answer\": \"" + answer + "\", \"_timestamp\": " + ts + ", \"tokens\": [], \"spans\": " + spans + "}";
    }
}
