package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Multiple-choice questions: the MMLU CSVs in ../shared (row counts from Python's csv module), JSONL, and every refusal. */
class MultipleChoiceTest {
    static final Path MMLU = Shared.dataset("mmlu");

    @Test
    void mmluRowsAndFolders() {
        List<MultipleChoice.Question> q = MultipleChoice.load("mmlu:" + MMLU.resolve("test/global_facts_test.csv"));
        assertEquals(100, q.size());
        MultipleChoice.Question first = q.get(0);
        assertEquals("As of 2016, about what percentage of adults aged 18 years or older were overweight?", first.question());
        assertEquals(List.of("10%", "20%", "40%", "80%"), first.options());
        assertEquals(2, first.answer());
        assertEquals("global_facts_test:0", first.id());
        assertEquals("global_facts", first.subject());
        assertEquals(List.of("About $300", "About $3k", "About $8k", "About $15k"), q.get(1).options(), "commas and dollars inside options");
        assertEquals(List.of("A", "B", "C", "D"), first.letters());
        // a folder: every CSV in name order (abstract_algebra 100, global_facts 100, high_school_biology 310)
        List<MultipleChoice.Question> all = MultipleChoice.load("mmlu:" + MMLU.resolve("test"));
        assertEquals(510, all.size());
        assertEquals("abstract_algebra_test:0", all.get(0).id());
        assertEquals("global_facts_test:0", all.get(100).id());
        assertEquals("high_school_biology", all.get(509).subject());
        assertEquals(15, MultipleChoice.load("mmlu:" + MMLU.resolve("dev")).size());
    }

    @Test
    void jsonlWithAnyNumberOfOptions(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("q.jsonl");
        Files.writeString(f, """
                {"id": "a", "question": "Two?", "options": ["x", "y"], "answer": 1}

                {"question": "Five?", "options": ["1", "2", "3", "4", "5"], "answer": "e", "subject": "count"}
                {"id": 7, "question": "No answer?", "options": ["p", "q", "r"]}
                """);
        List<MultipleChoice.Question> q = MultipleChoice.load("jsonl:" + f);
        assertEquals(3, q.size());
        assertEquals(1, q.get(0).answer());
        assertEquals("line 3", q.get(1).id());
        assertEquals(4, q.get(1).answer());
        assertEquals("count", q.get(1).subject());
        assertEquals("7", q.get(2).id());
        assertEquals(-1, q.get(2).answer());
    }

    @Test
    void badInputStopsWithFileAndLine(@TempDir Path tmp) throws Exception {
        String[][] jsonl = {
                {"{\"question\": \"q\", \"options\": [\"a\"]}", ":1: 1 options"},
                {"{\"question\": \"q\", \"options\": [\"a\", 3]}", ":1: option 1 is not a string"},
                {"{\"options\": [\"a\", \"b\"]}", ":1: no \"question\""},
                {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 2}", ":1: answer 2"},
                {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"C\"}", ":1: answer \"C\""},
                // 2^32 must not wrap around to option 0
                {"{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 4294967296}", ":1: answer 4294967296"},
                {"{\"question\": \"q\", \"options\": [\"a\", \"b\"]}\n{oops", ":2: invalid JSON"},
                {"[1, 2]", ":1: not a JSON object"}};
        for (String[] c : jsonl) {
            Path f = tmp.resolve("bad.jsonl");
            Files.writeString(f, c[0]);
            DatasetException e = assertThrows(DatasetException.class, () -> MultipleChoice.load("jsonl:" + f));
            assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(c[1]), c[1] + " in: " + e.getMessage());
        }
        Path csv = tmp.resolve("bad.csv");
        Files.writeString(csv, "question,choice0,choice1,choice2,choice3,answer\nq,a,b,c,d,4\n");
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load("mmlu:" + csv)).getMessage().contains("data row 1: answer '4'"));
        Files.writeString(csv, "question,choice0,choice1,choice2,choice3,answer\nq,a,b\n");
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load("mmlu:" + csv)).getMessage().contains("data row 1: 3 columns"));
        Files.writeString(csv, "premise,hypothesis,label\nx,y,z\n");
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load("mmlu:" + csv)).getMessage().contains("not an MMLU CSV"));
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load("mmlu:" + tmp.resolve("none.csv"))).getMessage().contains("no such file"));
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load("csv:" + csv)).getMessage().contains("unknown question kind"));
        assertTrue(assertThrows(DatasetException.class, () -> MultipleChoice.load(csv.toString())).getMessage().contains("KIND:PATH"));
    }
}
