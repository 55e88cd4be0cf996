package io.rationale.tools;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Writes safetensors files: an 8-byte little-endian header length, a JSON header (optional
 * {@code __metadata__} first, then one entry per tensor with dtype, shape and data_offsets)
 * padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back in header
 * order. Tensor values are generated and encoded chunk by chunk on a small thread pool and
 * written with positional writes, so a model of any size streams through bounded memory.
 *
 * <p>{@link #writeModel} writes a Hugging Face model folder's weights: one
 * {@code model.safetensors}, or, past a maximum shard size, {@code model-00001-of-0000N.safetensors}
 * files plus {@code model.safetensors.index.json} (metadata.total_size and a weight_map).
 */
public final class SafeTensorsWriter {
    /** File name of an unsharded checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** File name of a sharded checkpoint's index. */
    public static final String INDEX_FILE = "model.safetensors.index.json";
    /** Elements generated and written per task. */
    static final int CHUNK_ELEMENTS = 1 << 20;
    /** Below this many bytes in all, no progress is reported. */
    static final long PROGRESS_MIN_BYTES = 256L << 20;

    private int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    private Consumer<String> progress;
    private Map<String, String> metadata = Map.of("format", "pt");
    private boolean sortByName;
    private boolean durable;

    /** Number of worker threads (default: available processors). */
    public SafeTensorsWriter threads(int n) {
        if (n < 1) {
            throw new ToolException("threads must be at least 1, got " + n);
        }
        this.threads = n;
        return this;
    }

    /** Receives one progress line every 5% of a write of at least 256 MiB; null for none. */
    public SafeTensorsWriter progress(Consumer<String> sink) {
        this.progress = sink;
        return this;
    }

    /** The {@code __metadata__} string map (default {"format": "pt"}); null or empty writes none. */
    public SafeTensorsWriter metadata(Map<String, String> md) {
        this.metadata = md == null ? Map.of() : new LinkedHashMap<>(md);
        return this;
    }

    /**
     * When true, each file's tensors are put in name order, as the safetensors library does
     * (shards are still planned in the given order, as save_pretrained does). Default false:
     * tensors are written in the order given.
     */
    public SafeTensorsWriter sortByName(boolean sort) {
        this.sortByName = sort;
        return this;
    }

    /**
     * When true, each file's bytes are forced to the storage device before it is renamed into place, so that
     * after a crash of the machine the file is either the old one or the complete new one. Default false.
     */
    public SafeTensorsWriter durable(boolean d) {
        this.durable = d;
        return this;
    }

    /** Writes one safetensors file holding {@code tensors} (in the given order unless sorting by name). */
    public void writeFile(Path file, List<TensorEntry> tensors) {
        long total = totalBytes(tensors);
        Progress p = new Progress(total);
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads, daemonFactory()) : null;
        try {
            writeOne(file, tensors, pool, p);
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    /**
     * Writes a model folder's weights into {@code dir}: a single {@value #SINGLE_FILE} when
     * {@code maxShardBytes <= 0} or everything fits, else numbered shards plus {@value #INDEX_FILE}.
     * Earlier outputs of this kind in {@code dir} (model.safetensors, its index, model-*-of-*
     * shards) are removed first so that no stale file is left beside the new ones.
     *
     * @return the safetensors files written, in order
     */
    public List<Path> writeModel(Path dir, List<TensorEntry> tensors, long maxShardBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new ToolException("cannot create folder " + dir + ": " + e.getMessage(), e);
        }
        removeStale(dir);
        List<List<TensorEntry>> shards = planShards(tensors, maxShardBytes);
        List<Path> files = new ArrayList<>();
        long total = totalBytes(tensors);
        Progress p = new Progress(total);
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads, daemonFactory()) : null;
        try {
            if (shards.size() == 1) {
                Path f = dir.resolve(SINGLE_FILE);
                writeOne(f, shards.get(0), pool, p);
                files.add(f);
                return files;
            }
            Map<String, String> weightMap = new TreeMap<>();
            for (int i = 0; i < shards.size(); i++) {
                String name = shardName(i + 1, shards.size());
                Path f = dir.resolve(name);
                writeOne(f, shards.get(i), pool, p);
                files.add(f);
                for (TensorEntry t : shards.get(i)) {
                    weightMap.put(t.name(), name);
                }
            }
            ObjectNode index = Json.object();
            index.putObject("metadata").put("total_size", total);
            ObjectNode wm = index.putObject("weight_map");
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                wm.put(e.getKey(), e.getValue());
            }
            Json.write(dir.resolve(INDEX_FILE), index);
            return files;
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    /** The Hugging Face shard file name, e.g. {@code model-00002-of-00004.safetensors}. */
    public static String shardName(int index1, int count) {
        return String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", index1, count);
    }

    /**
     * Splits tensors into shards as Hugging Face does: in order, a new shard starts when adding
     * the next tensor would pass {@code maxShardBytes} and the current shard is not empty (so a
     * tensor larger than the limit gets a shard of its own). {@code maxShardBytes <= 0} means
     * one shard.
     */
    public static List<List<TensorEntry>> planShards(List<TensorEntry> tensors, long maxShardBytes) {
        List<List<TensorEntry>> shards = new ArrayList<>();
        List<TensorEntry> current = new ArrayList<>();
        long size = 0;
        for (TensorEntry t : tensors) {
            long b = t.byteSize();
            if (maxShardBytes > 0 && !current.isEmpty() && size + b > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += b;
        }
        shards.add(current);
        return shards;
    }

    /**
     * The header bytes for these tensors, without the 8-byte length and already padded with
     * spaces to a multiple of 8. Offsets are relative to the start of the data section.
     */
    public static byte[] header(List<TensorEntry> tensors, Map<String, String> metadata) {
        ObjectNode root = Json.object();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode md = root.putObject("__metadata__");
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                md.put(e.getKey(), e.getValue());
            }
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorEntry t : tensors) {
            if (!seen.add(t.name()) || t.name().equals("__metadata__")) {
                throw new ToolException("duplicate or reserved tensor name '" + t.name() + "'");
            }
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName);
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long end = offset + t.byteSize();
            ArrayNode off = e.putArray("data_offsets");
            off.add(offset);
            off.add(end);
            offset = end;
        }
        byte[] json = Json.compact(root).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /** Sum of the tensors' byte sizes. */
    public static long totalBytes(List<TensorEntry> tensors) {
        long total = 0;
        for (TensorEntry t : tensors) {
            total = Math.addExact(total, t.byteSize());
        }
        return total;
    }

    private void writeOne(Path file, List<TensorEntry> tensors, ExecutorService pool, Progress p) {
        if (sortByName) {
            List<TensorEntry> sorted = new ArrayList<>(tensors);
            sorted.sort((a, b) -> a.name().compareTo(b.name()));
            tensors = sorted;
        }
        byte[] header = header(tensors, metadata);
        Path tmp = file.resolveSibling(file.getFileName() + ".partial");
        try {
            writeData(file, tmp, header, tensors, pool, p);
        } catch (RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the first failure is the one to report
            }
            throw e;
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ToolException("cannot move " + tmp + " to " + file + ": " + e.getMessage(), e);
        }
        p.report();
    }

    private void writeData(Path file, Path tmp, byte[] header, List<TensorEntry> tensors, ExecutorService pool,
            Progress p) {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(header.length);
            head.put(header);
            head.flip();
            writeFully(ch, head, 0);
            long base = 8L + header.length;
            List<Future<?>> futures = new ArrayList<>();
            long pos = base;
            for (TensorEntry t : tensors) {
                long n = t.numel();
                for (long start = 0; start < n; start += CHUNK_ELEMENTS) {
                    int len = (int) Math.min(CHUNK_ELEMENTS, n - start);
                    long at = pos + start * t.dtype().bytes;
                    Chunk c = new Chunk(ch, t, start, len, at, p);
                    if (pool == null) {
                        c.run();
                    } else {
                        futures.add(pool.submit(c));
                    }
                }
                pos += t.byteSize();
            }
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    for (Future<?> g : futures) {
                        g.cancel(true);
                    }
                    Throwable cause = e.getCause();
                    if (cause instanceof ToolException te) {
                        throw te;
                    }
                    throw new ToolException("writing " + file + " failed: " + cause, cause);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ToolException("writing " + file + " interrupted");
                }
                p.report();
            }
            if (durable) {
                ch.force(true);
            }
            if (ch.size() != pos) {
                throw new ToolException("writing " + file + ": size " + ch.size() + " != expected " + pos);
            }
        } catch (IOException e) {
            throw new ToolException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long at = position;
        while (buf.hasRemaining()) {
            at += ch.write(buf, at);
        }
    }

    private static void removeStale(Path dir) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                String n = f.getFileName().toString();
                boolean shard = n.matches("model-\\d{5}-of-\\d{5}\\.safetensors");
                if (n.equals(SINGLE_FILE) || n.equals(INDEX_FILE) || shard) {
                    Files.delete(f);
                }
            }
        } catch (IOException e) {
            throw new ToolException("cannot clean old weights in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static java.util.concurrent.ThreadFactory daemonFactory() {
        return r -> {
            Thread t = new Thread(r, "safetensors-writer");
            t.setDaemon(true);
            return t;
        };
    }

    /** One chunk of one tensor: fill, encode, positional write. */
    private static final class Chunk implements Runnable {
        private static final ThreadLocal<float[]> FLOATS = ThreadLocal.withInitial(() -> new float[CHUNK_ELEMENTS]);
        private static final ThreadLocal<ByteBuffer> BYTES = ThreadLocal.withInitial(
                () -> ByteBuffer.allocateDirect(CHUNK_ELEMENTS * 4).order(ByteOrder.LITTLE_ENDIAN));

        private final FileChannel ch;
        private final TensorEntry t;
        private final long start;
        private final int len;
        private final long at;
        private final Progress p;

        Chunk(FileChannel ch, TensorEntry t, long start, int len, long at, Progress p) {
            this.ch = ch;
            this.t = t;
            this.start = start;
            this.len = len;
            this.at = at;
            this.p = p;
        }

        @Override
        public void run() {
            float[] f = FLOATS.get();
            ByteBuffer b = BYTES.get();
            b.clear();
            try {
                t.data().fill(start, f, len);
            } catch (RuntimeException e) {
                throw new ToolException("tensor " + t.name() + ": cannot produce values at element " + start
                        + ": " + e.getMessage(), e);
            }
            t.dtype().encode(f, len, b);
            b.flip();
            try {
                writeFully(ch, b, at);
            } catch (IOException e) {
                throw new ToolException("tensor " + t.name() + ": write failed: " + e.getMessage(), e);
            }
            p.add((long) len * t.dtype().bytes);
        }
    }

    /** Byte counter that prints a line each time another 5% is done. */
    private final class Progress {
        private final long total;
        private final AtomicLong done = new AtomicLong();
        private final long started = System.nanoTime();
        private int lastStep;

        Progress(long total) {
            this.total = total;
        }

        void add(long bytes) {
            done.addAndGet(bytes);
        }

        synchronized void report() {
            if (progress == null || total < PROGRESS_MIN_BYTES) {
                return;
            }
            long d = done.get();
            int step = (int) (d * 20 / total);
            if (step > lastStep) {
                lastStep = step;
                double secs = (System.nanoTime() - started) / 1e9;
                progress.accept(String.format(Locale.ROOT, "wrote %.2f / %.2f GB (%d%%) in %.1f s",
                        d / 1e9, total / 1e9, step * 5, secs));
            }
        }
    }
}
