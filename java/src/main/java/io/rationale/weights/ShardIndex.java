package io.rationale.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * A {@code model.safetensors.index.json}: its {@code weight_map} from tensor name to shard file name. Checks
 * that the file is a JSON object (no duplicate keys) with a non-empty {@code weight_map} object of strings,
 * and that every shard name is a plain file name inside the checkpoint folder.
 */
public final class ShardIndex {
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path file;
    private final Map<String, String> weightMap;
    private final SortedSet<String> shards;

    private ShardIndex(Path file, Map<String, String> weightMap, SortedSet<String> shards) {
        this.file = file;
        this.weightMap = weightMap;
        this.shards = shards;
    }

    /** Reads and checks an index file; a WeightsException naming the file (and tensor) when it is unusable. */
    public static ShardIndex read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (JacksonException e) {
            throw new WeightsException(file + ": invalid JSON: " + String.valueOf(e.getOriginalMessage()).replace('\n', ' '));
        } catch (IOException e) {
            throw new WeightsException(file + ": cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) throw new WeightsException(file + ": not a JSON object");
        JsonNode map = root.get("weight_map");
        if (map == null) throw new WeightsException(file + ": no \"weight_map\"");
        if (!map.isObject()) throw new WeightsException(file + ": \"weight_map\" must be an object");
        if (map.isEmpty()) throw new WeightsException(file + ": \"weight_map\" is empty");
        Map<String, String> weightMap = new LinkedHashMap<>();
        SortedSet<String> shards = new TreeSet<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            String tensor = SafeTensorsHeader.printable(e.getKey());
            if (!e.getValue().isTextual())
                throw new WeightsException(file + ": tensor " + tensor + ": shard name must be a string, got " + e.getValue().getNodeType());
            String shard = e.getValue().textValue();
            if (!isPlainFileName(shard))
                throw new WeightsException(file + ": tensor " + tensor + ": shard \"" + SafeTensorsHeader.printable(shard)
                        + "\" is not a plain file name in the checkpoint folder");
            weightMap.put(e.getKey(), shard);
            shards.add(shard);
        }
        return new ShardIndex(file, Collections.unmodifiableMap(weightMap), Collections.unmodifiableSortedSet(shards));
    }

    private static boolean isPlainFileName(String s) {
        if (s.isEmpty() || s.equals(".") || s.equals("..")) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' || c == '\\' || c == 0 || c == ':') return false;
        }
        return true;
    }

    public Path file() { return file; }

    /** Tensor name to shard file name, in index order. */
    public Map<String, String> weightMap() { return weightMap; }

    /** The shard file names, sorted. */
    public SortedSet<String> shards() { return shards; }

    /** The path of a shard, beside the index. */
    public Path shardPath(String shard) { return file.resolveSibling(shard); }

    /** Some tensor the index places in {@code shard} (for error messages), or null. */
    public String firstTensorOf(String shard) {
        for (Map.Entry<String, String> e : weightMap.entrySet()) if (e.getValue().equals(shard)) return e.getKey();
        return null;
    }
}
