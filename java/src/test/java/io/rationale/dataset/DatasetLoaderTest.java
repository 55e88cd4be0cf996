package io.rationale.dataset;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
}
