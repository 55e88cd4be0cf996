package io.rationale.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A resumable JSON Lines results file: one result of type T per line, keyed by {@code key(result)}, appended with one
 * write per line and fsynced before the next result starts, so a killed run loses at most the result in flight.
 * {@link ExamplesLog} (eval) and the serum's {@code cases.jsonl} are this.
 *
 * <p>{@link #open} reads what is there: complete lines are results (a repeated key keeps the first line), a last line
 * without its newline is the write a kill interrupted and is cut off (the file is truncated to the end of the last
 * complete line). A complete line that does not parse stops with its line number. The file is locked while open, so
 * a second run on the same folder stops instead of writing the same results again.
 *
 * @param <K> the key (comparable: results are kept in key order)
 * @param <T> the result type (Jackson-mapped with {@code mapper})
 */
public final class ResultLog<K extends Comparable<K>, T> implements Closeable {
    private final Path file;
    private final FileChannel channel;
    private final SortedMap<K, T> done;
    private final long truncatedBytes;
    private final int duplicates;
    private final ObjectMapper mapper;
    private final Function<T, K> key;

    private ResultLog(Path file, FileChannel channel, SortedMap<K, T> done, long truncatedBytes, int duplicates, ObjectMapper mapper,
                      Function<T, K> key) {
        this.file = file;
        this.channel = channel;
        this.done = done;
        this.truncatedBytes = truncatedBytes;
        this.duplicates = duplicates;
        this.mapper = mapper;
        this.key = key;
    }

    /**
     * Opens (creating if needed) the file for appending, after reading and repairing what it holds.
     *
     * @param what the results' name in messages (e.g. "eval", "serum")
     */
    public static <K extends Comparable<K>, T> ResultLog<K, T> open(Path file, Class<T> type, ObjectMapper mapper, Function<T, K> key,
                                                                    String what) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            // one writer per folder: a second run on the same --out would duplicate results (a killed process's lock goes with it)
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) throw new IOException(file + " is being written by another " + what + " run; wait for it or choose another --out");
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
            TreeMap<K, T> done = new TreeMap<>();
            int dup = 0, lineNo = 0, start = 0;
            for (int i = 0; i < end; i++) {
                if (all[i] != '\n') continue;
                lineNo++;
                String line = new String(all, start, i - start, StandardCharsets.UTF_8);
                start = i + 1;
                if (line.isBlank()) continue;
                T r;
                try {
                    r = mapper.readValue(line, type);
                } catch (JsonProcessingException e) {
                    throw new IOException(file + ":" + lineNo + ": not a result line (" + RunManifest.firstLine(e.getOriginalMessage())
                            + "); remove that line or start over with --restart");
                }
                if (done.putIfAbsent(key.apply(r), r) != null) dup++;
            }
            ch.position(ch.size());
            return new ResultLog<>(file, ch, done, truncated, dup, mapper, key);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The results read at open and appended since, by key. */
    public SortedMap<K, T> done() { return Collections.unmodifiableSortedMap(done); }

    /** Bytes of a partial last line cut off at open (0 when the file ended cleanly). */
    public long truncatedBytes() { return truncatedBytes; }

    /** Lines at open whose key was already on an earlier line (ignored). */
    public int duplicates() { return duplicates; }

    public boolean isDone(K k) { return done.containsKey(k); }

    /** Writes one result as one line and forces it to disk. */
    public void append(T r) {
        K k = key.apply(r);
        if (done.containsKey(k)) throw new IllegalStateException("result " + k + " is already in " + file);
        byte[] json;
        try {
            json = mapper.writeValueAsBytes(r);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write result " + k + " as JSON: " + e.getOriginalMessage(), e);
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
        done.put(k, r);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
