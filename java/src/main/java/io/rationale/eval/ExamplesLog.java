package io.rationale.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;

/**
 * {@code examples.jsonl}: one {@link ExampleResult} per line (Jackson, the record's field names), keyed by example
 * index: a {@link ResultLog} (appended with one write per line and fsynced before the next example starts; a partial
 * last line cut off at open; a complete line that does not parse stops with its line number; a repeated index keeps
 * the first line; locked while open).
 */
public final class ExamplesLog implements Closeable {
    /** Reads and writes result lines; NaN and infinities are written as the strings "NaN", "Infinity". */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final ResultLog<Integer, ExampleResult> log;

    private ExamplesLog(ResultLog<Integer, ExampleResult> log) { this.log = log; }

    /** Opens (creating if needed) the file for appending, after reading and repairing what it holds. */
    public static ExamplesLog open(Path file) throws IOException {
        return new ExamplesLog(ResultLog.open(file, ExampleResult.class, MAPPER, ExampleResult::index, "eval"));
    }

    /** The results read at open and appended since, by index. */
    public SortedMap<Integer, ExampleResult> done() { return log.done(); }

    /** Bytes of a partial last line cut off at open (0 when the file ended cleanly). */
    public long truncatedBytes() { return log.truncatedBytes(); }

    /** Lines at open whose index was already on an earlier line (ignored). */
    public int duplicates() { return log.duplicates(); }

    public boolean isDone(int index) { return log.isDone(index); }

    /** Writes one result as one line and forces it to disk. */
    public void append(ExampleResult r) { log.append(r); }

    /** Every result line of a file, in file order (for tests and tools); a partial last line is ignored. */
    public static List<ExampleResult> readAll(Path file) throws IOException {
        List<ExampleResult> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            try {
                out.add(MAPPER.readValue(line, ExampleResult.class));
            } catch (JsonProcessingException e) {
                break;
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        log.close();
    }
}
