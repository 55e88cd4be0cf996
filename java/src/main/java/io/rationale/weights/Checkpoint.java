package io.rationale.weights;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The safetensors files of one checkpoint folder, memory-mapped and validated: {@code model.safetensors}, or
 * else the shards named by {@code model.safetensors.index.json} (the order Hugging Face transformers looks for
 * them). Each file is checked by {@link SafeTensorsFile}; a sharded checkpoint must also agree with its index
 * (see {@link ShardIndex}). Tensors are views into the mappings; closing the checkpoint unmaps them, after which
 * reading a tensor throws {@link IllegalStateException}.
 */
public final class Checkpoint implements AutoCloseable {
    /** The single-file checkpoint name. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    private final Arena arena;
    private final List<SafeTensorsFile> files = new ArrayList<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, Path> fileOf = new LinkedHashMap<>();
    private boolean closed;

    private Checkpoint(Path dir) {
        this.dir = dir;
        this.arena = Arena.ofShared();
    }

    /**
     * Opens the checkpoint in {@code dir}.
     *
     * @throws WeightsException (one line, naming the file and tensor at fault) when no checkpoint is there or it
     *                          is malformed
     */
    public static Checkpoint open(Path dir) {
        Checkpoint c = new Checkpoint(dir);
        try {
            Path single = dir.resolve(SINGLE_FILE);
            Path index = dir.resolve(INDEX_FILE);
            if (Files.isRegularFile(single)) {
                c.add(SafeTensorsFile.map(single, c.arena), null);
            } else if (Files.isRegularFile(index)) {
                c.openShards(ShardIndex.read(index));
            } else if (!Files.isDirectory(dir)) {
                throw new WeightsException(dir + ": no such folder");
            } else {
                throw new WeightsException(dir + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in this folder");
            }
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private void openShards(ShardIndex index) {
        for (String shard : index.shards()) {
            Path file = index.shardPath(shard);
            if (!Files.isRegularFile(file))
                throw new WeightsException(index.file() + ": shard " + shard + " (holding e.g. tensor "
                        + SafeTensorsHeader.printable(index.firstTensorOf(shard)) + ") does not exist");
            add(SafeTensorsFile.map(file, arena), index);
        }
        for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
            if (!tensors.containsKey(e.getKey()))
                throw new WeightsException(index.file() + ": tensor " + SafeTensorsHeader.printable(e.getKey()) + " is placed in shard "
                        + e.getValue() + " but that shard does not contain it");
        }
    }

    private void add(SafeTensorsFile f, ShardIndex index) {
        files.add(f);
        String shard = f.file().getFileName().toString();
        for (Tensor t : f.tensors().values()) {
            String name = t.name();
            String shown = SafeTensorsHeader.printable(name);
            Path other = fileOf.get(name);
            if (other != null)
                throw new WeightsException(f.file() + ": tensor " + shown + " is also present in shard " + other.getFileName());
            if (index != null) {
                String placed = index.weightMap().get(name);
                if (placed == null)
                    throw new WeightsException(f.file() + ": tensor " + shown + " is in this shard but missing from " + INDEX_FILE);
                if (!placed.equals(shard))
                    throw new WeightsException(f.file() + ": tensor " + shown + " is found in shard " + shard
                            + " but " + INDEX_FILE + " places it in " + placed);
            }
            tensors.put(name, t);
            fileOf.put(name, f.file());
        }
    }

    public Path dir() { return dir; }

    /** Tensor names: file by file in the order the files were opened, header order within a file. */
    public Set<String> names() { return Collections.unmodifiableSet(tensors.keySet()); }

    public boolean has(String name) { return tensors.containsKey(name); }

    /** The tensor, or a WeightsException naming the folder and the missing tensor. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new WeightsException(dir + ": tensor " + name + " is missing");
        return t;
    }

    /** The file a tensor lives in (for error messages), or null when there is no such tensor. */
    public Path fileOf(String name) { return fileOf.get(name); }

    /** The mapped files, in the order they were opened (one, or the shards sorted by name). */
    public List<SafeTensorsFile> files() { return Collections.unmodifiableList(files); }

    /** Unmaps every file; tensors obtained from this checkpoint must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }
}
