package io.rationale.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static io.rationale.weights.StBytes.shape;
import static org.junit.jupiter.api.Assertions.*;

/** One malformed file per validation rule of the safetensors reader, plus the valid edge cases. */
class SafeTensorsFileTest {
    @TempDir
    Path dir;

    private Path file() { return dir.resolve("model.safetensors"); }

    /** Writes the bytes as model.safetensors, expects a one-line WeightsException naming the file and the phrases. */
    private WeightsException fails(byte[] bytes, String... phrases) {
        StBytes.write(dir, "model.safetensors", bytes);
        WeightsException e = assertThrows(WeightsException.class, () -> Checkpoint.open(dir).close());
        String m = e.getMessage();
        assertFalse(m.contains("\n") || m.contains("\r"), "one line: " + m);
        assertTrue(m.startsWith(file().toString() + ": "), "names the file: " + m);
        for (String p : phrases) assertTrue(m.contains(p), "message should contain <" + p + ">: " + m);
        return e;
    }

    private WeightsException failsHeader(String header, byte[] data, String... phrases) {
        return fails(StBytes.file(header, data), phrases);
    }

    private static String one(String body) { return "{\"w\":{" + body + "}}"; }

    // ---- file and header length

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7})
    void fileShorterThanEightBytes(int n) {
        fails(new byte[n], "is " + n + " bytes", "too short");
    }

    @Test
    void headerLengthBeyondFile() {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        fails(StBytes.file(1000, h, new byte[0]), "header length 1000", "beyond the end of the file");
    }

    @Test
    void headerLengthOneByteTooLong() {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        fails(StBytes.file(3, h, new byte[0]), "header length 3", "beyond the end");
    }

    @Test
    void headerLengthAbsurd() {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        fails(StBytes.file(100_000_001L, h, new byte[0]), "exceeds the limit");
        fails(StBytes.file(-1L, h, new byte[0]), "18446744073709551615", "exceeds the limit");
        fails(StBytes.file(Long.MIN_VALUE, h, new byte[0]), "exceeds the limit");
    }

    // ---- header text

    @Test
    void headerNotUtf8() {
        byte[] h = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        fails(StBytes.file(h.length, h, new byte[0]), "not valid UTF-8");
    }

    @Test
    void headerNotJson() {
        failsHeader("{\"w\": {\"dtype\": ", new byte[0], "not valid JSON");
        failsHeader("{} {}", new byte[0], "not valid JSON");
    }

    @Test
    void headerNestedTooDeep() {
        String deep = "[".repeat(5000) + "]".repeat(5000);
        failsHeader("{\"w\":" + deep + "}", new byte[0], "not valid JSON", "nesting depth");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "\"x\"", "42", " {}", "null", ""})
    void headerNotAnObject(String header) {
        failsHeader(header, new byte[0], "does not start with '{'");
    }

    @Test
    void duplicateTensorKey() {
        String e = StBytes.entry("w", "F32", shape(1), 0, 4);
        failsHeader("{" + e + "," + e + "}", new byte[4], "not valid JSON", "Duplicate field 'w'");
    }

    @Test
    void duplicateKeyInsideEntryAndMetadata() {
        failsHeader(one("\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]"), new byte[4], "Duplicate field 'dtype'");
        failsHeader("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", new byte[0], "Duplicate field 'a'");
    }

    // ---- metadata

    @ParameterizedTest
    @ValueSource(strings = {"\"text\"", "[]", "null", "3"})
    void metadataNotAnObject(String json) {
        fails(new StBytes().metadata(json).f32("w", shape(1), 1f).build(), "__metadata__ must be an object");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"k\":1}", "{\"k\":null}", "{\"k\":{}}", "{\"k\":[\"v\"]}", "{\"k\":true}"})
    void metadataValueNotString(String json) {
        fails(new StBytes().metadata(json).f32("w", shape(1), 1f).build(), "value of \"k\" must be a string");
    }

    // ---- entries

    @Test
    void entryNotAnObject() {
        failsHeader("{\"w\":[1,2]}", new byte[0], "tensor w", "must be an object");
    }

    @Test
    void entryMissingDtype() {
        failsHeader(one("\"shape\":[1],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "missing \"dtype\"");
    }

    @Test
    void entryMissingShape() {
        failsHeader(one("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), new byte[4], "tensor w", "missing \"shape\"");
    }

    @Test
    void entryMissingOffsets() {
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1]"), new byte[4], "tensor w", "missing \"data_offsets\"");
    }

    @Test
    void entryWrongTypes() {
        failsHeader(one("\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "\"dtype\" must be a string");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]"), new byte[4], "tensor w", "\"shape\" must be an array");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]"), new byte[4], "tensor w", "\"shape\" must be an array");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "shape[0] must be an integer");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "shape[0] must be an integer");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "shape[0] must be an integer");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]"), new byte[4], "tensor w", "two integers");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]"), new byte[4], "tensor w", "two integers");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0,4\""), new byte[4], "tensor w", "two integers");
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]"), new byte[4], "tensor w", "data_offsets[1] must be an integer");
    }

    @Test
    void negativeDimension() {
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]"), new byte[4], "tensor w", "shape[1] is negative");
    }

    @Test
    void negativeOffset() {
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]"), new byte[4], "tensor w", "data_offsets[0] is negative");
    }

    @Test
    void integerTooLarge() {
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[100000000000000000000000],\"data_offsets\":[0,4]"), new byte[4],
                "tensor w", "too large");
    }

    @Test
    void shapeOverflowsByteCount() {
        failsHeader(one("\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]"), new byte[4],
                "tensor w", "overflows");
    }

    @ParameterizedTest
    @ValueSource(strings = {"I64", "F8_E4M3", "F64", "BOOL", "U8", "f32", "FOO"})
    void unsupportedDtype(String dtype) {
        failsHeader("{" + StBytes.entry("model.w", dtype, shape(1), 0, 4) + "}", new byte[4],
                "tensor model.w", "unsupported dtype \"" + dtype + "\"");
    }

    @Test
    void shapeDisagreesWithByteRange() {
        failsHeader("{" + StBytes.entry("w", "F32", shape(2, 3), 0, 20) + "}", new byte[20],
                "tensor w", "shape [2, 3] of F32 needs 24 bytes", "hold 20");
        failsHeader("{" + StBytes.entry("h", "BF16", shape(3), 0, 12) + "}", new byte[12], "tensor h", "needs 6 bytes");
    }

    @Test
    void offsetsOutOfBounds() {
        failsHeader("{" + StBytes.entry("w", "F32", shape(2), 0, 8) + "}", new byte[4],
                "tensor w", "lie beyond the data section of 4 bytes");
    }

    @Test
    void beginAfterEnd() {
        failsHeader("{" + StBytes.entry("w", "F32", shape(1), 4, 0) + "}", new byte[4], "tensor w", "begin after end");
    }

    @Test
    void overlappingRanges() {
        String h = "{" + StBytes.entry("a", "F32", shape(2), 0, 8) + "," + StBytes.entry("b", "F32", shape(2), 4, 12) + "}";
        failsHeader(h, new byte[12], "tensor b", "overlap tensor a");
    }

    @Test
    void identicalRanges() {
        String h = "{" + StBytes.entry("a", "F32", shape(1), 0, 4) + "," + StBytes.entry("b", "F32", shape(1), 0, 4) + "}";
        failsHeader(h, new byte[4], "overlap");
    }

    @Test
    void gapBetweenRanges() {
        String h = "{" + StBytes.entry("a", "F32", shape(1), 0, 4) + "," + StBytes.entry("b", "F32", shape(1), 8, 12) + "}";
        failsHeader(h, new byte[12], "tensor b", "leave bytes [4, 8)", "gap");
    }

    @Test
    void firstRangeNotAtZero() {
        failsHeader("{" + StBytes.entry("a", "F32", shape(1), 4, 8) + "}", new byte[8], "tensor a", "leave bytes [0, 4)");
    }

    @Test
    void dataNotCoveredToTheEnd() {
        failsHeader("{" + StBytes.entry("a", "F32", shape(1), 0, 4) + "}", new byte[8],
                "tensors cover 4 bytes but the data section after the header is 8 bytes", "last tensor a");
        failsHeader("{}", new byte[1], "tensors cover 0 bytes");
    }

    // ---- folder level

    @Test
    void noCheckpointInFolder() {
        WeightsException e = assertThrows(WeightsException.class, () -> Checkpoint.open(dir));
        assertEquals(dir + ": no model.safetensors or model.safetensors.index.json in this folder", e.getMessage());
        Path none = dir.resolve("absent");
        e = assertThrows(WeightsException.class, () -> Checkpoint.open(none));
        assertEquals(none + ": no such folder", e.getMessage());
    }

    // ---- valid edge cases

    @Test
    void emptyHeaderNoData() {
        StBytes.write(dir, "model.safetensors", StBytes.file("{}", new byte[0]));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.names().isEmpty());
            assertEquals(1, c.files().size());
            assertEquals(2, c.files().getFirst().headerBytes());
        }
    }

    @Test
    void paddedHeaderMetadataZeroSizeAndUnknownFields() {
        String h = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":[1]},"
                + StBytes.entry("empty", "F16", shape(0, 3), 8, 8) + ","
                + StBytes.entry("scalar", "BF16", shape(), 8, 10) + "}     ";
        byte[] data = new byte[10];
        System.arraycopy(StBytes.f32(1.5f, -2f), 0, data, 0, 8);
        System.arraycopy(StBytes.u16(0x4040), 0, data, 8, 2); // bf16 3.0
        StBytes.write(dir, "model.safetensors", StBytes.file(h, data));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(java.util.List.of("a", "empty", "scalar"), java.util.List.copyOf(c.names()));
            assertEquals(java.util.Map.of("format", "pt"), c.files().getFirst().metadata());
            assertEquals(-2f, c.tensor("a").get(1));
            assertEquals(0, c.tensor("empty").numel());
            assertEquals(0, c.tensor("empty").byteSize());
            assertEquals(1, c.tensor("scalar").numel());
            assertEquals(3f, c.tensor("scalar").get(0));
            assertEquals(file(), c.fileOf("a"));
        }
    }

    @Test
    void tensorsAreSlicesOfTheMapping() {
        StBytes.write(dir, "model.safetensors", new StBytes().f32("a", shape(2), 1f, 2f).f32("b", shape(1, 3), 3f, 4f, 5f).build());
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tensor b = c.tensor("b");
            assertTrue(b.data().isMapped(), "a view of the mapped file, not a copy");
            assertArrayEquals(new float[]{3f, 4f, 5f}, b.toFloatArray());
            assertEquals(12, b.byteSize());
            assertThrows(WeightsException.class, () -> c.tensor("zzz"));
            assertNull(c.fileOf("zzz"));
        }
    }

    @Test
    void closedCheckpointRefusesReads() {
        StBytes.write(dir, "model.safetensors", new StBytes().f32("a", shape(1), 1f).build());
        Checkpoint c = Checkpoint.open(dir);
        Tensor a = c.tensor("a");
        c.close();
        c.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> a.get(0));
    }

    @Test
    void parseFromHeapSegment() {
        byte[] bytes = new StBytes().f32("a", shape(2), 7f, 8f).build();
        SafeTensorsFile f = SafeTensorsFile.parse(java.lang.foreign.MemorySegment.ofArray(bytes), Path.of("mem"));
        assertEquals(8f, f.tensors().get("a").get(1));
        assertEquals(bytes.length, f.size());
    }
}
