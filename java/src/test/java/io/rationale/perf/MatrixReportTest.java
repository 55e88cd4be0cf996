package io.rationale.perf;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link MatrixReport}: the spread shown beside the time per call is per call. A decode cell's run is
 * {@code --decode-tokens} steps: its {@code median_s} and {@code iqr_s} are of runs, its {@code seconds_per_call} of
 * one step, and the table's and page's IQR must be of one step too.
 */
class MatrixReportTest {

    /** A decode cell of 8 steps per run with runs 0.8, 0.9, 1.0, 1.1, 1.2 s. */
    static Map<String, Object> decodeCell(boolean withPerCall) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("key", "cpu|decode|T=8|B=1");
        c.put("op", "decode");
        c.put("length", 8);
        c.put("batch", 1);
        c.put("seconds_per_call", 0.125);                 // median 1.0 s / 8 steps
        if (withPerCall) c.put("iqr_s_per_call", 0.025);
        c.put("median_s", 1.0);
        c.put("iqr_s", 0.2);                              // R-7 quartiles of the runs: 1.1 − 0.9
        c.put("tokens_per_s", 8.0);
        c.put("device", "cpu");
        return c;
    }

    @Test
    void theTableAndPageShowTheIqrPerCall() {
        for (boolean withPerCall : new boolean[]{true, false}) {        // false: a cell resumed from an older file
            List<Map<String, Object>> cells = new java.util.ArrayList<>(List.of(decodeCell(withPerCall)));
            String row = MatrixReport.table(cells).lines().skip(1).findFirst().orElseThrow();
            String[] f = row.trim().split("\\s+");
            assertEquals(0.125, Double.parseDouble(f[4]), 1e-12, row);
            assertEquals(0.025, Double.parseDouble(f[5]), 1e-12, "IQR of one step (0.2 s over runs of 8 steps): " + row);
            String header = MatrixReport.table(cells).lines().findFirst().orElseThrow();
            assertTrue(header.contains("IQR s/call"), header);
            String page = MatrixReport.html(Map.of(), cells);
            assertTrue(page.contains("<th>iqr_s_per_call</th>"), page);
            assertTrue(page.contains("<td>0.1250</td><td>0.02500</td>"), "seconds_per_call then its IQR per call: " + page);
        }
        // the CSV too: a cell from an older file gets the same derived value, not an empty column
        List<Map<String, Object>> old = new java.util.ArrayList<>(List.of(decodeCell(false)));
        List<String> csv = MatrixReport.csv(old).lines().toList();
        int col = List.of(csv.get(0).split(",")).indexOf("iqr_s_per_call");
        assertEquals(0.025, Double.parseDouble(csv.get(1).split(",")[col]), 1e-15, csv.get(1));
    }

    @Test
    void aCellThatNeverSettledSaysSoInTheTable() {
        Map<String, Object> cold = decodeCell(true), warm = decodeCell(true);
        cold.put("settled", false);
        cold.put("warmup_runs", 20);
        warm.put("settled", true);
        List<String> lines = MatrixReport.table(new java.util.ArrayList<>(List.of(warm, cold, warm))).lines().toList();
        assertEquals(4, lines.size(), String.join("\n", lines));
        assertFalse(lines.get(1).contains("SETTLED"), lines.get(1));
        assertTrue(lines.get(2).endsWith("NOT SETTLED after 20 warm-up runs"), lines.get(2));
        assertFalse(lines.get(3).contains("SETTLED"), lines.get(3));
    }
}
