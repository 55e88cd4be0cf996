package io.rationale.dataset;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * An RFC 4180 CSV file read with Jackson's CSV parser (comma separated, {@code "} quotes, {@code ""} for a quote
 * inside quotes, commas and line breaks allowed inside quoted fields), UTF-8, blank lines skipped. The first row
 * is the header; rows are returned as string arrays, and a data row is addressed by its 1-based row number.
 */
final class CsvRows {
    private CsvRows() {}

    record Table(List<String> header, List<String[]> rows) {
        int column(String name) { return header.indexOf(name); }
    }

    /**
     * Reads the file. {@code checkHeader} sees the header before any data row is parsed, so a file of another
     * format is refused by its header (it throws a {@link DatasetException}) rather than by a parse error further
     * down. A CSV syntax error stops loading.
     */
    static Table read(Path file, Consumer<List<String>> checkHeader) {
        CsvMapper mapper = new CsvMapper();
        mapper.enable(CsvParser.Feature.WRAP_AS_ARRAY);
        mapper.enable(CsvParser.Feature.SKIP_EMPTY_LINES);
        List<String> header = null;
        List<String[]> rows = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8);
             MappingIterator<String[]> it = mapper.readerFor(String[].class).readValues(r)) {
            while (it.hasNextValue()) {
                String[] row = it.nextValue();
                if (header == null) {
                    header = new ArrayList<>();
                    for (int i = 0; i < row.length; i++) header.add(i == 0 && row[i].startsWith("\uFEFF") ? row[i].substring(1) : row[i]);
                    header = List.copyOf(header);
                    checkHeader.accept(header);
                } else {
                    rows.add(row);
                }
            }
        } catch (JacksonException e) {
            String at = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
            throw new DatasetException(file + ": invalid CSV" + at + " (" + DatasetException.oneLine(e.getOriginalMessage()) + ")", e);
        } catch (IOException e) {
            throw TextFiles.readError(file, e);
        }
        if (header == null) throw new DatasetException(file + ": empty file, expected a CSV header");
        return new Table(header, rows);
    }

    /** Cell {@code col} of {@code row}, or null when the column is absent or the row is short. */
    static String cell(String[] row, int col) {
        return col >= 0 && col < row.length ? row[col] : null;
    }
}
