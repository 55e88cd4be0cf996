package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Datasets that cannot be used stop at once with one line naming the file. */
class DatasetLoaderTest {
    private static final Path ESNLI = Shared.dataset("esnli/train-highlight-sample/esnli_train_sample.csv");
    private static final Path FEVER = Shared.dataset("fever-claims/test.jsonl");
    private static final Path BIOS = Shared.dataset("medicalbios/standard_biosbias_rationales.jsonl");
    private static final Path BIOS_CSV = Shared.dataset("medicalbios/biosbias.csv");

    private static String fails(String spec) {
        DatasetException e = assertThrows(DatasetException.class, () -> DatasetLoader.load(spec));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void specErrors(@TempDir Path dir) {
        assertTrue(fails("esnli").startsWith("dataset 'esnli' is not KIND:PATH"));
        assertEquals(dir.resolve("x.csv") + ": unknown dataset kind 'snli' (kinds: esnli, esnli-plain, eraser, medicalbios, "
                + "medicalbios-contrastive, fever, jsonl)", fails("snli:" + dir.resolve("x.csv")));
        assertEquals(dir.resolve("missing.jsonl") + ": not found", fails("fever:" + dir.resolve("missing.jsonl")));
        assertEquals(dir + ": not a file (kind fever reads one file)", fails("fever:" + dir));
    }

    @Test
    void wrongKindForTheFile() {
        assertEquals(FEVER + ": not an e-SNLI CSV with highlights (no column 'pairID')", fails("esnli:" + FEVER));
        assertEquals(ESNLI + ": not FEVER claims JSONL (line 1 is not a JSON object)", fails("fever:" + ESNLI));
        assertEquals(BIOS + ": not rationale-engine JSONL (first record lacks id/label/fields or text)", fails("jsonl:" + BIOS));
        assertEquals(FEVER + ": not ERASER annotations JSONL (first record lacks annotation_id/classification/evidences)", fails("eraser:" + FEVER));
        assertEquals(FEVER + ": not MedicalBios Prodigy JSONL (first record lacks text/label/spans)", fails("medicalbios:" + FEVER));
        assertEquals(ESNLI + ": not biosbias.csv (no 'text' and 'title' columns)", fails("medicalbios:" + ESNLI));
        assertEquals(BIOS_CSV + ": not an e-SNLI CSV with highlights (no column 'pairID')", fails("esnli:" + BIOS_CSV));
        assertTrue(fails("esnli-plain:" + FEVER).startsWith(FEVER + ": not an e-SNLI plain split file"));
    }

    @Test
    void invalidCsvStopsAtOnce(@TempDir Path dir) {
        // an unterminated quote runs to the end of the file
        Path f = Shared.write(dir.resolve("bad.csv"), "pairID,gold_label\n\"p1,neutral\n");
        String m = fails("esnli:" + f);
        assertTrue(m.startsWith(f + ": "), m);
    }

    @Test
    void fileThatIsNotUtf8NamesItsFirstInvalidByteAndLine(@TempDir Path dir) throws Exception {
        // 3,000 lines of two-byte characters (over 64 KiB before the bad byte, so the scan crosses buffer
        // boundaries), then a Latin-1 "é" (the single byte 0xE9) on line 3,001
        StringBuilder ok = new StringBuilder();
        for (int i = 0; i < 3000; i++) ok.append("{\"id\": ").append(i).append(", \"text\": \"caf\u00e9 na\u00efve\", \"label\": \"x\"}\n");
        byte[] head = ok.toString().getBytes(StandardCharsets.UTF_8);
        byte[] bad = "{\"id\": \"z\", \"text\": \"caf".getBytes(StandardCharsets.US_ASCII);
        Path jsonl = dir.resolve("latin1.jsonl");
        Files.write(jsonl, concat(head, bad, new byte[] {(byte) 0xE9}, "\", \"label\": \"x\"}\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(jsonl + ": not UTF-8 text (invalid byte 0xE9 at line 3001); save it as UTF-8", fails("jsonl:" + jsonl));
        // a CSV (e-SNLI header, then a Latin-1 row 2 on line 3)
        Path csv = dir.resolve("latin1.csv");
        Files.write(csv, concat("pairID,gold_label,Sentence1,Sentence2,Sentence1_marked_1,Sentence2_marked_1\np1,neutral,a,b,a,*b*\np2,neutral,caf".getBytes(StandardCharsets.US_ASCII),
                new byte[] {(byte) 0xE9}, ",b,a,b\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(csv + ": not UTF-8 text (invalid byte 0xE9 at line 3); save it as UTF-8", fails("esnli:" + csv));
        // e-SNLI plain: the labels file is the one that is not UTF-8 (a truncated two-byte sequence at its end)
        Path plain = dir.resolve("plain");
        Files.createDirectories(plain);
        Files.writeString(plain.resolve("s1.test"), "a\nb\n");
        Files.writeString(plain.resolve("s2.test"), "c\nd\n");
        Files.write(plain.resolve("labels.test"), concat("neutral\nneutral".getBytes(StandardCharsets.US_ASCII), new byte[] {(byte) 0xC3}));
        assertEquals(plain.resolve("labels.test") + ": not UTF-8 text (invalid byte 0xC3 at line 2); save it as UTF-8", fails("esnli-plain:" + plain));
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
