package io.rationale.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.*;

/**
 * The safetensors files of one checkpoint folder, memory-mapped: {@code model.safetensors}, or the shards
 * named by {@code model.safetensors.index.json}. Tensors are views into the mapping; closing the checkpoint
 * unmaps them.
 *
 * <p>MINIMAL VERSION: parses and maps; strict validation is being added (see SafeTensors).
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final Arena arena;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, Path> fileOf = new LinkedHashMap<>();

    private Checkpoint(Path dir) {
        this.dir = dir;
        this.arena = Arena.ofShared();
    }

    public static Checkpoint open(Path dir) {
        Checkpoint c = new Checkpoint(dir);
        try {
            Path single = dir.resolve("model.safetensors");
            Path index = dir.resolve("model.safetensors.index.json");
            if (Files.exists(index)) {
                JsonNode map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
                for (String shard : new TreeSet<String>(collect(map))) c.mapFile(dir.resolve(shard));
            } else if (Files.exists(single)) {
                c.mapFile(single);
            } else {
                throw new WeightsException(dir + ": no model.safetensors or model.safetensors.index.json");
            }
            return c;
        } catch (IOException e) {
            c.close();
            throw new WeightsException(dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private static Set<String> collect(JsonNode map) {
        Set<String> files = new TreeSet<>();
        map.properties().forEach(e -> files.add(e.getValue().asText()));
        return files;
    }

    private void mapFile(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            byte[] hdr = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            JsonNode h = new ObjectMapper().readTree(new String(hdr, StandardCharsets.UTF_8));
            long base = 8 + n;
            for (var e : h.properties()) {
                if (e.getKey().equals("__metadata__")) continue;
                JsonNode t = e.getValue();
                DType dt = DType.fromSafetensors(t.get("dtype").asText());
                long[] shape = new long[t.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asLong();
                long a = t.get("data_offsets").get(0).asLong(), b = t.get("data_offsets").get(1).asLong();
                tensors.put(e.getKey(), new Tensor(e.getKey(), dt, shape, all.asSlice(base + a, b - a)));
                fileOf.put(e.getKey(), file);
            }
        }
    }

    public Path dir() { return dir; }

    public Set<String> names() { return Collections.unmodifiableSet(tensors.keySet()); }

    public boolean has(String name) { return tensors.containsKey(name); }

    /** The tensor, or a WeightsException naming the folder and the missing tensor. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new WeightsException(dir + ": tensor " + name + " is missing");
        return t;
    }

    /** The file a tensor lives in (for error messages). */
    public Path fileOf(String name) { return fileOf.get(name); }

    @Override
    public void close() { arena.close(); }
}
