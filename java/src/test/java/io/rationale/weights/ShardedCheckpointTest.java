package io.rationale.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static io.rationale.weights.StBytes.shape;
import static org.junit.jupiter.api.Assertions.*;

/** Two-shard checkpoints with a model.safetensors.index.json, valid and broken. */
class ShardedCheckpointTest {
    private static final String A = "model-00001-of-00002.safetensors";
    private static final String B = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    private void shards(byte[] a, byte[] b) {
        StBytes.write(dir, A, a);
        StBytes.write(dir, B, b);
    }

    private void index(String weightMapJson) {
        StBytes.write(dir, Checkpoint.INDEX_FILE, "{\"metadata\":{\"total_size\":36},\"weight_map\":" + weightMapJson + "}");
    }

    private static byte[] shardA() { return new StBytes().f32("x.weight", shape(2), 1f, 2f).f32("y.weight", shape(1), 3f).build(); }

    private static byte[] shardB() { return new StBytes().f32("z.weight", shape(2, 2), 4f, 5f, 6f, 7f).build(); }

    private static final String GOOD_MAP = "{\"x.weight\":\"" + A + "\",\"y.weight\":\"" + A + "\",\"z.weight\":\"" + B + "\"}";

    private WeightsException fails(String... phrases) {
        WeightsException e = assertThrows(WeightsException.class, () -> Checkpoint.open(dir).close());
        String m = e.getMessage();
        assertFalse(m.contains("\n"), m);
        for (String p : phrases) assertTrue(m.contains(p), "message should contain <" + p + ">: " + m);
        return e;
    }

    @Test
    void twoShards() {
        shards(shardA(), shardB());
        index(GOOD_MAP);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("x.weight", "y.weight", "z.weight"), List.copyOf(c.names()));
            assertEquals(2, c.files().size());
            assertEquals(dir.resolve(A), c.fileOf("y.weight"));
            assertEquals(dir.resolve(B), c.fileOf("z.weight"));
            assertEquals(7f, c.tensor("z.weight").get(3));
            assertEquals(3f, c.tensor("y.weight").get(0));
        }
    }

    @Test
    void singleFileWinsOverIndex() {
        shards(shardA(), shardB());
        index(GOOD_MAP);
        StBytes.write(dir, Checkpoint.SINGLE_FILE, new StBytes().f32("only", shape(1), 9f).build());
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of("only"), List.copyOf(c.names()));
        }
    }

    @Test
    void indexNotJson() {
        shards(shardA(), shardB());
        StBytes.write(dir, Checkpoint.INDEX_FILE, "{\"weight_map\": {");
        fails(dir.resolve(Checkpoint.INDEX_FILE).toString(), "invalid JSON");
    }

    @Test
    void indexWithoutWeightMap() {
        shards(shardA(), shardB());
        StBytes.write(dir, Checkpoint.INDEX_FILE, "{\"metadata\":{}}");
        fails(Checkpoint.INDEX_FILE, "no \"weight_map\"");
        StBytes.write(dir, Checkpoint.INDEX_FILE, "[]");
        fails(Checkpoint.INDEX_FILE, "not a JSON object");
        StBytes.write(dir, Checkpoint.INDEX_FILE, "{\"weight_map\":[]}");
        fails(Checkpoint.INDEX_FILE, "\"weight_map\" must be an object");
        StBytes.write(dir, Checkpoint.INDEX_FILE, "{\"weight_map\":{}}");
        fails(Checkpoint.INDEX_FILE, "\"weight_map\" is empty");
    }

    @Test
    void indexBadShardNames() {
        shards(shardA(), shardB());
        index("{\"x.weight\":1}");
        fails("tensor x.weight", "shard name must be a string");
        index("{\"x.weight\":\"../" + A + "\"}");
        fails("tensor x.weight", "not a plain file name");
    }

    @Test
    void indexDuplicateKey() {
        shards(shardA(), shardB());
        index("{\"x.weight\":\"" + A + "\",\"x.weight\":\"" + B + "\"}");
        fails("invalid JSON", "Duplicate field 'x.weight'");
    }

    @Test
    void shardFileMissing() {
        StBytes.write(dir, A, shardA());
        index(GOOD_MAP);
        fails(Checkpoint.INDEX_FILE + ": shard " + B, "z.weight", "does not exist");
    }

    @Test
    void tensorFoundInOtherShard() {
        shards(shardA(), shardB());
        index("{\"x.weight\":\"" + A + "\",\"y.weight\":\"" + B + "\",\"z.weight\":\"" + B + "\"}");
        fails(dir.resolve(A) + ": tensor y.weight", "found in shard " + A, "places it in " + B);
    }

    @Test
    void tensorInIndexButNowhere() {
        shards(shardA(), shardB());
        index("{\"x.weight\":\"" + A + "\",\"y.weight\":\"" + A + "\",\"z.weight\":\"" + B + "\",\"w.weight\":\"" + B + "\"}");
        fails(Checkpoint.INDEX_FILE + ": tensor w.weight", "placed in shard " + B, "does not contain it");
    }

    @Test
    void tensorInTwoShards() {
        byte[] b = new StBytes().f32("z.weight", shape(2, 2), 4f, 5f, 6f, 7f).f32("x.weight", shape(2), 1f, 2f).build();
        shards(shardA(), b);
        index(GOOD_MAP);
        fails(dir.resolve(B) + ": tensor x.weight", "also present in shard " + A);
    }

    @Test
    void tensorInShardMissingFromIndex() {
        shards(shardA(), shardB());
        index("{\"x.weight\":\"" + A + "\",\"z.weight\":\"" + B + "\"}");
        fails(dir.resolve(A) + ": tensor y.weight", "missing from " + Checkpoint.INDEX_FILE);
    }

    @Test
    void malformedShardNamesItsFile() {
        shards(shardA(), new byte[3]);
        index(GOOD_MAP);
        fails(dir.resolve(B) + ": file is 3 bytes");
    }
}
