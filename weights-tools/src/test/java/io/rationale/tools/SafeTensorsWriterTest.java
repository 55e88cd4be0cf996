package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsWriterTest {
    @TempDir
    Path tmp;

    private static TensorData values(float... v) {
        return (start, dst, len) -> System.arraycopy(v, (int) start, dst, 0, len);
    }

    private static TensorData index() {
        return (start, dst, len) -> {
            for (int i = 0; i < len; i++) {
                dst[i] = (float) ((start + i) % 100003);
            }
        };
    }

    @Test
    void roundTripsBytesExactly() throws Exception {
        List<TensorEntry> ts = List.of(
                TensorEntry.of("a.f32", DType.F32, values(1.5f, -2f, 0f, 3.25f, 1e-3f, -0f), 2, 3),
                TensorEntry.of("b.f16", DType.F16, values(1.5f, -2f, 65504f), 3),
                TensorEntry.of("c.bf16", DType.BF16, values(1.5f, -2f), 2));
        Path f = tmp.resolve("x.safetensors");
        new SafeTensorsWriter().writeFile(f, ts);
        SafeTensorsTestReader r = new SafeTensorsTestReader(f);

        assertEquals(0, r.headerLength % 8, "header padded to 8");
        assertEquals(Map.of("format", "pt"), r.metadata);
        assertTrue(r.headerText.startsWith("{\"__metadata__\""), r.headerText);
        assertEquals(List.of("a.f32", "b.f16", "c.bf16"), new ArrayList<>(r.tensors.keySet()));
        assertEquals("F32", r.tensors.get("a.f32").dtype());
        assertArrayEquals(new long[] {2, 3}, r.tensors.get("a.f32").shape());
        assertEquals(0, r.tensors.get("a.f32").begin());
        assertEquals(24, r.tensors.get("a.f32").end());
        assertEquals(24, r.tensors.get("b.f16").begin());
        assertEquals(30, r.tensors.get("b.f16").end());
        assertEquals(30, r.tensors.get("c.bf16").begin());
        assertEquals(34, r.tensors.get("c.bf16").end());
        assertEquals(8 + r.headerLength + 34, Files.size(f));

        // little-endian bytes worked out by hand: 1.5f = 0x3FC00000, -2f = 0xC0000000,
        // f16 1.5 = 0x3E00, -2 = 0xC000, 65504 = 0x7BFF; bf16 1.5 = 0x3FC0, -2 = 0xC000
        byte[] a = r.raw("a.f32");
        assertArrayEquals(new byte[] {0, 0, (byte) 0xC0, 0x3F, 0, 0, 0, (byte) 0xC0}, Arrays.copyOf(a, 8));
        assertArrayEquals(new byte[] {0, 0x3E, 0, (byte) 0xC0, (byte) 0xFF, 0x7B}, r.raw("b.f16"));
        assertArrayEquals(new byte[] {(byte) 0xC0, 0x3F, 0, (byte) 0xC0}, r.raw("c.bf16"));
        assertArrayEquals(new float[] {1.5f, -2f, 0f, 3.25f, 1e-3f, -0f}, r.floats("a.f32"));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(r.floats("a.f32")[5]));
    }

    @Test
    void headerIsSpacePaddedForEveryNameLength() throws Exception {
        for (int n = 1; n <= 9; n++) {
            String name = "t".repeat(n);
            Path f = tmp.resolve("p" + n + ".safetensors");
            new SafeTensorsWriter().metadata(null).writeFile(f, List.of(TensorEntry.of(name, DType.F32, values(7f), 1)));
            SafeTensorsTestReader r = new SafeTensorsTestReader(f);
            assertEquals(0, r.headerLength % 8, "name length " + n);
            String trimmed = r.headerText.stripTrailing();
            assertTrue(r.headerLength - trimmed.length() < 8, "at most 7 pad bytes");
            assertTrue(r.headerText.substring(trimmed.length()).chars().allMatch(c -> c == ' '), "pads with spaces");
            assertTrue(r.metadata.isEmpty());
            assertFalse(r.headerText.contains("__metadata__"));
            assertArrayEquals(new float[] {7f}, r.floats(name));
            byte[] h = SafeTensorsWriter.header(List.of(TensorEntry.of(name, DType.F32, values(7f), 1)), null);
            assertEquals(r.headerLength, h.length);
        }
    }

    @Test
    void scalarAndEmptyTensors() throws Exception {
        Path f = tmp.resolve("s.safetensors");
        new SafeTensorsWriter().writeFile(f, List.of(
                new TensorEntry("scalar", DType.F32, new long[0], values(42f)),
                TensorEntry.of("empty", DType.BF16, values(), 0, 4),
                TensorEntry.of("after", DType.F16, values(1f), 1)));
        SafeTensorsTestReader r = new SafeTensorsTestReader(f);
        assertArrayEquals(new float[] {42f}, r.floats("scalar"));
        assertEquals(r.tensors.get("empty").begin(), r.tensors.get("empty").end());
        assertEquals(4, r.tensors.get("after").begin());
        assertArrayEquals(new float[] {1f}, r.floats("after"));
    }

    @Test
    void streamsManyChunksIdenticallyWithAnyThreadCount() throws Exception {
        int n = SafeTensorsWriter.CHUNK_ELEMENTS * 2 + 12345;
        List<TensorEntry> ts = List.of(
                TensorEntry.of("big", DType.F32, index(), n),
                TensorEntry.of("big16", DType.BF16, index(), n / 7, 7));
        Path one = tmp.resolve("one.safetensors");
        Path four = tmp.resolve("four.safetensors");
        new SafeTensorsWriter().threads(1).writeFile(one, ts);
        new SafeTensorsWriter().threads(4).writeFile(four, ts);
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(four));
        SafeTensorsTestReader r = new SafeTensorsTestReader(one);
        float[] big = r.floats("big");
        for (int i = 0; i < n; i++) {
            if (big[i] != (float) (i % 100003)) {
                throw new AssertionError("element " + i + " = " + big[i]);
            }
        }
        float[] b16 = r.floats("big16");
        assertEquals(n / 7 * 7, b16.length);
        for (int i = 0; i < b16.length; i++) {
            float want = Float.intBitsToFloat((DType.toBf16((float) (i % 100003)) & 0xffff) << 16);
            if (b16[i] != want) {
                throw new AssertionError("bf16 element " + i);
            }
        }
    }

    @Test
    void plansShardsLikeHuggingFace() {
        TensorData d = values();
        List<TensorEntry> ts = List.of(
                TensorEntry.of("a", DType.F32, d, 10), // 40 bytes
                TensorEntry.of("b", DType.F32, d, 10), // 40
                TensorEntry.of("c", DType.F32, d, 30), // 120, over the limit alone
                TensorEntry.of("d", DType.F32, d, 5), // 20
                TensorEntry.of("e", DType.F32, d, 20)); // 80
        List<List<TensorEntry>> s = SafeTensorsWriter.planShards(ts, 100);
        assertEquals(List.of(List.of("a", "b"), List.of("c"), List.of("d", "e")), names(s));
        assertEquals(1, SafeTensorsWriter.planShards(ts, 0).size());
        assertEquals(1, SafeTensorsWriter.planShards(ts, 1000).size());
        assertEquals(5, SafeTensorsWriter.planShards(ts, 1).size());
        assertEquals("model-00002-of-00010.safetensors", SafeTensorsWriter.shardName(2, 10));
    }

    private static List<List<String>> names(List<List<TensorEntry>> shards) {
        List<List<String>> out = new ArrayList<>();
        for (List<TensorEntry> s : shards) {
            out.add(s.stream().map(TensorEntry::name).toList());
        }
        return out;
    }

    @Test
    void writesShardsAndIndex() throws Exception {
        List<TensorEntry> ts = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            ts.add(TensorEntry.of("layer." + i + ".w", DType.F32, index(), 100 + i));
        }
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("model.safetensors"), "stale");
        List<Path> files = new SafeTensorsWriter().writeModel(dir, ts, 900);
        assertEquals(4, files.size());
        assertFalse(Files.exists(dir.resolve("model.safetensors")), "stale single file removed");
        JsonNode index = new ObjectMapper().readTree(dir.resolve("model.safetensors.index.json").toFile());
        long total = 0;
        for (TensorEntry t : ts) {
            total += t.byteSize();
        }
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        JsonNode wm = index.get("weight_map");
        assertEquals(7, wm.size());
        int seen = 0;
        for (int k = 1; k <= 4; k++) {
            String name = String.format("model-%05d-of-%05d.safetensors", k, 4);
            assertEquals(dir.resolve(name), files.get(k - 1));
            SafeTensorsTestReader r = new SafeTensorsTestReader(dir.resolve(name));
            long bytes = 0;
            for (Map.Entry<String, SafeTensorsTestReader.Info> e : r.tensors.entrySet()) {
                assertEquals(name, wm.get(e.getKey()).asText(), e.getKey());
                bytes += e.getValue().end() - e.getValue().begin();
                float[] v = r.floats(e.getKey());
                assertEquals(100 + Integer.parseInt(e.getKey().split("\\.")[1]), v.length);
                assertEquals(v.length - 1, (int) v[v.length - 1]);
                seen++;
            }
            assertTrue(bytes <= 900, "shard within limit");
        }
        assertEquals(7, seen);
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".partial")));
        }

        // writing again unsharded removes the shards and the index
        new SafeTensorsWriter().writeModel(dir, ts, 0);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("model.safetensors"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void sortsByNameWithinAFileWhenAsked() throws Exception {
        List<TensorEntry> ts = List.of(
                TensorEntry.of("model.layers.10.w", DType.F32, values(10f), 1),
                TensorEntry.of("model.layers.2.w", DType.F32, values(2f), 1),
                TensorEntry.of("lm_head.weight", DType.F32, values(-1f), 1));
        Path f = tmp.resolve("sorted");
        new SafeTensorsWriter().sortByName(true).writeModel(f, ts, 0);
        SafeTensorsTestReader r = new SafeTensorsTestReader(f.resolve("model.safetensors"));
        assertEquals(List.of("lm_head.weight", "model.layers.10.w", "model.layers.2.w"), new ArrayList<>(r.tensors.keySet()));
        assertArrayEquals(new float[] {2f}, r.floats("model.layers.2.w"));
        assertEquals(4, r.tensors.get("model.layers.10.w").begin());
    }

    @Test
    void rejectsDuplicateNames() {
        List<TensorEntry> ts = List.of(TensorEntry.of("w", DType.F32, values(1f), 1), TensorEntry.of("w", DType.F32, values(1f), 1));
        ToolException e = assertThrows(ToolException.class, () -> new SafeTensorsWriter().writeFile(tmp.resolve("d"), ts));
        assertTrue(e.getMessage().contains("'w'"), e.getMessage());
    }

    @Test
    void reportsAFailingTensorAndLeavesNoPartialFile() throws Exception {
        TensorData broken = (start, dst, len) -> {
            throw new IllegalStateException("boom");
        };
        for (int threads : new int[] {1, 3}) {
            Path f = tmp.resolve("broken" + threads + ".safetensors");
            ToolException e = assertThrows(ToolException.class, () -> new SafeTensorsWriter().threads(threads)
                    .writeFile(f, List.of(TensorEntry.of("ok", DType.F32, values(1f), 1), TensorEntry.of("bad.weight", DType.F32, broken, 3))));
            assertTrue(e.getMessage().contains("bad.weight") && e.getMessage().contains("boom"), e.getMessage());
            assertFalse(Files.exists(f));
            assertFalse(Files.exists(tmp.resolve("broken" + threads + ".safetensors.partial")));
        }
    }

    @Test
    void reportsProgressForBigWrites() {
        List<String> lines = new ArrayList<>();
        long n = SafeTensorsWriter.PROGRESS_MIN_BYTES / 4;
        TensorData zeros = (start, dst, len) -> Arrays.fill(dst, 0, len, 0f);
        Path f = tmp.resolve("big.safetensors");
        new SafeTensorsWriter().threads(2).progress(lines::add)
                .writeFile(f, List.of(new TensorEntry("z", DType.F32, new long[] {n}, zeros)));
        assertTrue(lines.size() >= 5 && lines.size() <= 20, String.join("\n", lines));
        assertTrue(lines.get(lines.size() - 1).contains("(100%)"), String.join("\n", lines));
        List<String> none = new ArrayList<>();
        new SafeTensorsWriter().progress(none::add).writeFile(tmp.resolve("small"), List.of(TensorEntry.of("z", DType.F32, zeros, 10)));
        assertTrue(none.isEmpty());
    }

    @Test
    void headerJsonIsUtf8() throws Exception {
        Path f = tmp.resolve("u.safetensors");
        new SafeTensorsWriter().writeFile(f, List.of(TensorEntry.of("naïve.wéight", DType.F32, values(1f), 1)));
        SafeTensorsTestReader r = new SafeTensorsTestReader(f);
        assertTrue(r.tensors.containsKey("naïve.wéight"));
        assertEquals(r.headerLength, r.headerText.getBytes(StandardCharsets.UTF_8).length);
    }
}
