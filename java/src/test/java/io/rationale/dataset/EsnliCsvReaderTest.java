package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EsnliCsvReaderTest {
    private static final Path SAMPLE = Shared.dataset("esnli/train-highlight-sample/esnli_train_sample.csv");
    private static final Aggregation A1 = new Aggregation.Annotator("1");

    /*
     * Counts of the real sample, derived independently with Python's csv module:
     *   90 rows, 30 per gold label; only annotator 1 present (columns _2 and _3 all NA);
     *   words containing '*' (e-SNLI's own rule, which its *_Highlighted_1 columns follow apart from
     *   a spurious 2000+ offset): 169 in Sentence1_marked_1, 215 in Sentence2_marked_1;
     *   60 rows mark a premise word, 89 a hypothesis word; str.split() word totals 1212 (premises), 692.
     */
    @Test
    void realSampleCounts() {
        Dataset d = DatasetLoader.load("esnli:" + SAMPLE);
        assertEquals(90, d.size());
        assertEquals(List.of(), d.skipped());
        assertEquals(List.of("entailment", "neutral", "contradiction"), d.labels());
        Map<String, Integer> byLabel = new TreeMap<>();
        int premiseMarks = 0, hypothesisMarks = 0, premiseRows = 0, hypothesisRows = 0, premiseWords = 0, hypothesisWords = 0;
        for (Example e : d.examples()) {
            byLabel.merge(e.label(), 1, Integer::sum);
            assertEquals(List.of("1"), e.annotations().annotators());
            int p = e.rationale(0, A1).orElseThrow().size(), h = e.rationale(1, A1).orElseThrow().size();
            premiseMarks += p;
            hypothesisMarks += h;
            if (p > 0) premiseRows++;
            if (h > 0) hypothesisRows++;
            premiseWords += e.fields().get(0).wordCount();
            hypothesisWords += e.fields().get(1).wordCount();
        }
        assertEquals(Map.of("contradiction", 30, "entailment", 30, "neutral", 30), byLabel);
        assertEquals(169, premiseMarks);
        assertEquals(215, hypothesisMarks);
        assertEquals(60, premiseRows);
        assertEquals(89, hypothesisRows);
        assertEquals(1212, premiseWords);
        assertEquals(692, hypothesisWords);
        assertEquals(90, d.withRationales());
    }

    @Test
    void realSampleRows() {
        Dataset d = DatasetLoader.load("esnli:" + SAMPLE);
        // row 1: "a class of students is *learning*"
        Example e = d.examples().get(0);
        assertEquals("4815028934.jpg#3r1n", e.id());
        assertEquals("neutral", e.label());
        assertEquals("An Asian class participating using hand gestures.", e.field("premise").text());
        assertEquals("a class of students is learning", e.field("hypothesis").text());
        assertEquals(Optional.of(Set.of()), e.rationale(0, Aggregation.DEFAULT));
        assertEquals(Optional.of(Set.of(5)), e.rationale(1, Aggregation.DEFAULT));
        assertEquals("Participating does not imply learning.", e.meta().get("explanation_1"));
        // "... are part of a *team.*": the period is inside the mark, the word is "team." (index 9)
        Example team = Shared.example(d, "121800200.jpg#0r1n");
        assertEquals(Optional.of(Set.of(9)), team.rationale(1, A1));
        assertEquals("team.", team.field("hypothesis").words().get(9).text());
        // the marked cell has an extra leading space: " A band prepares ..., *under* *bright* *stage* *lights.*"
        Example band = Shared.example(d, "4796827555.jpg#4r1n");
        assertEquals("A band prepares as they stand on a platform, under bright stage lights.", band.field("hypothesis").text());
        assertEquals(Optional.of(Set.of(9, 10, 11, 12)), band.rationale(1, A1));
    }

    /** RFC 4180 quoting, marks next to punctuation, multi-word marks, NA annotators and every per-row skip. */
    @Test
    void fixtureWithQuotingMarksAndSkips(@TempDir Path dir) {
        String header = "pairID,gold_label,Sentence1,Sentence2,Explanation_1,Sentence1_marked_1,Sentence2_marked_1,"
                + "Explanation_2,Sentence1_marked_2,Sentence2_marked_2,Explanation_3,Sentence1_marked_3,Sentence2_marked_3";
        Path f = Shared.write(dir.resolve("esnli_fixture.csv"), header + "\n"
                // premise with a comma, a doubled quote and an embedded line break
                + "p1,neutral,\"A man, a \"\"plan\"\"\nin town.\",Kids are learning.,\"Because, well.\","
                + "\"A *man,* a \"\"plan\"\"\nin town.\",Kids are *learning*.,NA,NA,NA,,NA,*Kids* are learning.\n"
                + "p2,entailment,A man is preparing to buy a pet,A man shops,x,A man is *preparing to buy* a pet,A man shops,NA,NA,NA,NA,NA,NA\n"
                + "p3,-,A man,A man,x,*A* man,A man,NA,NA,NA,NA,NA,NA\n"
                + "p4,neutral,A man,A man,x,*A man,A man,NA,NA,NA,NA,NA,NA\n"
                + "p5,neutral,A man,A man,x,A *woman*,A man,NA,NA,NA,NA,NA,NA\n"
                + "p6,neutral,A man,A man\n"
                + "p7,happy,A man,A man,x,*A* man,A man,NA,NA,NA,NA,NA,NA\n"
                + "p8,neutral,,A man,x,,*A* man,NA,NA,NA,NA,NA,NA\n");
        Dataset d = DatasetLoader.load("esnli:" + f);
        assertEquals(2, d.size());
        Example p1 = d.examples().get(0);
        assertEquals("A man, a \"plan\"\nin town.", p1.field("premise").text());
        // premise words: A(0) man,(1) a(2) "plan"(3) in(4) town.(5); hypothesis: Kids(0) are(1) learning.(2)
        assertEquals(List.of("1", "3"), p1.annotations().annotators());
        assertEquals(Set.of(1), p1.annotations().of(0, 0));
        assertEquals(Set.of(2), p1.annotations().of(0, 1));   // *learning*. -> the word "learning."
        assertEquals(Set.of(), p1.annotations().of(1, 0));    // annotator 3 left Sentence1 empty
        assertEquals(Set.of(0), p1.annotations().of(1, 1));
        assertEquals(Optional.of(Set.of()), p1.rationale(1, Aggregation.MAJORITY)); // 2 annotators must both agree
        assertEquals(Optional.of(Set.of(0, 2)), p1.rationale(1, Aggregation.UNION));
        assertEquals("Because, well.", p1.meta().get("explanation_1"));
        Example p2 = d.examples().get(1);
        assertEquals(Optional.of(Set.of(3, 4, 5)), p2.rationale(0, A1)); // *preparing to buy*
        assertEquals(Optional.of(Set.of()), p2.rationale(1, A1));

        assertEquals(6, d.skipped().size());
        assertEquals("gold_label '-' (no consensus)", Shared.skip(d, "p3").reason());
        assertEquals("Sentence1_marked_1 has an unbalanced '*'", Shared.skip(d, "p4").reason());
        assertEquals("Sentence1_marked_1 without its '*' marks differs from the premise", Shared.skip(d, "p5").reason());
        assertEquals("4 columns, the header has 13", Shared.skip(d, "p6").reason());
        assertEquals("label 'happy' is not in the label set [entailment, neutral, contradiction]", Shared.skip(d, "p7").reason());
        assertEquals("field 'premise' is empty", Shared.skip(d, "p8").reason());
        // rows are counted as CSV records, so the embedded line break does not shift them
        assertEquals("esnli_fixture.csv row 3", Shared.skip(d, "p3").where());
        assertTrue(d.skipReasons().containsKey("gold_label '-' (no consensus)"));
    }
}
