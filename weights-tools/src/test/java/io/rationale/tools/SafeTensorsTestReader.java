package io.rationale.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A test-only safetensors parser, written from the format description and independent of the
 * writer: reads the whole file, checks the framing, and decodes tensors to float32.
 */
final class SafeTensorsTestReader {
    record Info(String dtype, long[] shape, long begin, long end) {
        long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    final byte[] bytes;
    final long headerLength;
    final String headerText;
    final JsonNode header;
    final Map<String, String> metadata = new LinkedHashMap<>();
    final Map<String, Info> tensors = new LinkedHashMap<>();
    final long dataStart;

    SafeTensorsTestReader(Path file) throws IOException {
        bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        headerLength = b.getLong();
        if (headerLength < 2 || 8 + headerLength > bytes.length) {
            throw new IOException(file + ": bad header length " + headerLength);
        }
        headerText = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        header = new ObjectMapper().readTree(headerText);
        dataStart = 8 + headerLength;
        Iterator<Map.Entry<String, JsonNode>> it = header.properties().iterator();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                Iterator<Map.Entry<String, JsonNode>> m = e.getValue().properties().iterator();
                while (m.hasNext()) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    metadata.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            JsonNode v = e.getValue();
            JsonNode sh = v.get("shape");
            long[] shape = new long[sh.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = sh.get(i).asLong();
            }
            tensors.put(e.getKey(), new Info(v.get("dtype").asText(), shape, v.get("data_offsets").get(0).asLong(),
                    v.get("data_offsets").get(1).asLong()));
        }
    }

    /** Raw bytes of a tensor. */
    byte[] raw(String name) {
        Info i = tensors.get(name);
        byte[] out = new byte[(int) (i.end - i.begin)];
        System.arraycopy(bytes, (int) (dataStart + i.begin), out, 0, out.length);
        return out;
    }

    /** A tensor's values widened to float32. */
    float[] floats(String name) {
        Info i = tensors.get(name);
        ByteBuffer b = ByteBuffer.wrap(raw(name)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[(int) i.numel()];
        for (int k = 0; k < out.length; k++) {
            switch (i.dtype) {
                case "F32" -> out[k] = b.getFloat();
                case "F16" -> out[k] = Float.float16ToFloat(b.getShort());
                case "BF16" -> out[k] = Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
                default -> throw new IllegalStateException("dtype " + i.dtype);
            }
        }
        return out;
    }

    /** Element size of a dtype name. */
    static int size(String dtype) {
        return dtype.equals("F32") ? 4 : 2;
    }
}
