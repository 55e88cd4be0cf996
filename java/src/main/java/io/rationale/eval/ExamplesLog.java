package io.rationale.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * {@code examples.jsonl}: one {@link ExampleResult} per line (Jackson, the record's field names), appended with one
 * write per line and fsynced before the next example starts, so a killed run loses at most the example in flight.
 *
 * <p>{@link #open} reads what is there: complete lines are results (keyed by index; a repeated index keeps the first
 * line), a last line without its newline is the write a kill interrupted and is cut off (the file is truncated to
 * the end of the last complete line). A complete line that does not parse stops with its line number. The file is
 * locked while open, so a second run on the same folder stops instead of writing the same examples again.
 */
public final class ExamplesLog implements Closeable {
    /** Reads and writes result lines; NaN and infinities are written as the strings "NaN", "Infinity". */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final Path file;
    private final FileChannel channel;
    private final SortedMap<Integer, ExampleResult> done;
    private final long truncatedBytes;
    private final int duplicates;

    private ExamplesLog(Path file, FileChannel channel, SortedMap<Integer, ExampleResult> done, long truncatedBytes, int duplicates) {
        this.file = file;
        this.channel = channel;
        this.done = done;
        this.truncatedBytes = truncatedBytes;
        this.duplicates = duplicates;
    }

    /** Opens (creating if needed) the file for appending, after reading and repairing what it holds. */
    public static ExamplesLog open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            // one writer per folder: a second eval on the same --out would duplicate examples (a killed process's lock goes with it)
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) throw new IOException(file + " is being written by another eval run; wait for it or choose another --out");
            long size = ch.size();
            byte[] all = new byte[Math.toIntExact(size)];
            ByteBuffer buf = ByteBuffer.wrap(all);
            while (buf.hasRemaining() && ch.read(buf, buf.position()) > 0) { }
            int end = all.length;
            while (end > 0 && all[end - 1] != '\n') end--;
            long truncated = all.length - end;
            if (truncated > 0) {
                ch.truncate(end);
                ch.force(true);
            }
            TreeMap<Integer, ExampleResult> done = new TreeMap<>();
            int dup = 0, lineNo = 0, start = 0;
            for (int i = 0; i < end; i++) {
                if (all[i] != '\n') continue;
                lineNo++;
                String line = new String(all, start, i - start, StandardCharsets.UTF_8);
                start = i + 1;
                if (line.isBlank()) continue;
                ExampleResult r;
                try {
                    r = MAPPER.readValue(line, ExampleResult.class);
                } catch (JsonProcessingException e) {
                    throw new IOException(file + ":" + lineNo + ": not a result line (" + RunManifest.firstLine(e.getOriginalMessage())
                            + "); remove that line or start over with --restart");
                }
                if (done.putIfAbsent(r.index(), r) != null) dup++;
            }
            ch.position(ch.size());
            return new ExamplesLog(file, ch, done, truncated, dup);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The results read at open and appended since, by index. */
    public SortedMap<Integer, ExampleResult> done() { return Collections.unmodifiableSortedMap(done); }

    /** Bytes of a partial last line cut off at open (0 when the file ended cleanly). */
    public long truncatedBytes() { return truncatedBytes; }

    /** Lines at open whose index was already on an earlier line (ignored). */
    public int duplicates() { return duplicates; }

    public boolean isDone(int index) { return done.containsKey(index); }

    /** Writes one result as one line and forces it to disk. */
    public void append(ExampleResult r) {
        if (done.containsKey(r.index())) throw new IllegalStateException("example " + r.index() + " is already in " + file);
        byte[] json;
        try {
            json = MAPPER.writeValueAsBytes(r);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the result of example " + r.index() + " as JSON: " + e.getOriginalMessage(), e);
        }
        byte[] line = new byte[json.length + 1];
        System.arraycopy(json, 0, line, 0, json.length);
        line[json.length] = '\n';
        try {
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) channel.write(b);
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + file + ": " + e.getMessage(), e);
        }
        done.put(r.index(), r);
    }

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
        channel.close();
    }
}
