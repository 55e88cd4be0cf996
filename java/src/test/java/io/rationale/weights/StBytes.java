package io.rationale.weights;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper that crafts safetensors bytes by hand (independent of the reader and of weights-tools): a builder
 * for valid files, and raw pieces (header length, header text, data) for broken ones.
 */
final class StBytes {
    private final List<String> entries = new ArrayList<>();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();
    private String metadata;

    /** Adds a tensor whose bytes follow the previous one. */
    StBytes add(String name, String dtype, long[] shape, byte[] bytes) {
        long begin = data.size();
        data.writeBytes(bytes);
        entries.add(entry(name, dtype, shape, begin, data.size()));
        return this;
    }

    StBytes f32(String name, long[] shape, float... values) { return add(name, "F32", shape, f32(values)); }

    /** Adds an F32 tensor of the shape filled with 0, 1, 2, ... */
    StBytes f32Seq(String name, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return f32(name, shape, v);
    }

    /** Sets the raw JSON of {@code __metadata__} (any JSON value, for broken cases too). */
    StBytes metadata(String json) {
        this.metadata = json;
        return this;
    }

    String headerJson() {
        StringBuilder b = new StringBuilder("{");
        if (metadata != null) b.append("\"__metadata__\":").append(metadata);
        for (String e : entries) {
            if (b.length() > 1) b.append(',');
            b.append(e);
        }
        return b.append('}').toString();
    }

    byte[] dataBytes() { return data.toByteArray(); }

    byte[] build() { return file(headerJson(), dataBytes()); }

    static String entry(String name, String dtype, long[] shape, long begin, long end) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < shape.length; i++) s.append(i == 0 ? "" : ",").append(shape[i]);
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + s + "],\"data_offsets\":[" + begin + "," + end + "]}";
    }

    /** Length prefix (the UTF-8 size of the header) + header + data. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return file(h.length, h, data);
    }

    /** Length prefix as given (possibly wrong) + header bytes + data. */
    static byte[] file(long declaredLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header).put(data);
        return b.array();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    static byte[] u16(int... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putShort((short) x);
        return b.array();
    }

    static long[] shape(long... dims) { return dims; }

    static Path write(Path dir, String name, byte[] bytes) {
        try {
            Files.createDirectories(dir);
            return Files.write(dir.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path dir, String name, String text) {
        return write(dir, name, text.getBytes(StandardCharsets.UTF_8));
    }
}
