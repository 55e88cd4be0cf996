package io.rationale.weights;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file, parsed and checked against the size of the data section that follows
 * it. Pure: no file access, so it can be fuzzed on bytes alone.
 *
 * <p>The rules are those of the reference safetensors implementation: the header is UTF-8 JSON starting with
 * {@code {}, an object whose keys are tensor names (each with {@code dtype}, {@code shape}, {@code data_offsets})
 * plus an optional {@code __metadata__} object of strings; no duplicate keys; each tensor's byte range matches
 * its shape and dtype; the ranges, sorted by start, begin at 0, touch one another without gap or overlap, and end
 * exactly at the end of the data section. Only the dtypes of {@link DType} are accepted.
 *
 * @param metadata the {@code __metadata__} strings (empty when absent), in header order
 * @param entries  the tensors in header order
 */
public record SafeTensorsHeader(Map<String, String> metadata, List<Entry> entries) {

    /** Largest header accepted, as in the reference implementation (100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** The reserved header key holding free-form string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * One tensor of the header.
     *
     * @param begin start of its bytes, relative to the start of the data section
     * @param end   end (exclusive) of its bytes, relative to the start of the data section
     */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long byteSize() { return end - begin; }

        @Override
        public String toString() { return name + " " + dtype + " " + Arrays.toString(shape) + " [" + begin + ", " + end + ")"; }
    }

    /**
     * Parses and validates a header.
     *
     * @param json      the header bytes (after the 8-byte length)
     * @param dataBytes size of the data section that follows the header
     * @param file      the file name, for error messages
     * @throws WeightsException one line naming the file and, where one is at fault, the tensor
     */
    public static SafeTensorsHeader parse(byte[] json, long dataBytes, String file) {
        String text = decodeUtf8(json, file);
        if (text.isEmpty() || text.charAt(0) != '{')
            throw new WeightsException(file + ": header does not start with '{' (not a safetensors JSON header)");
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JacksonException e) {
            throw new WeightsException(file + ": header is not valid JSON: " + oneLine(e.getOriginalMessage()));
        }
        if (root == null || !root.isObject()) throw new WeightsException(file + ": header is not a JSON object");

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> p : root.properties()) {
            if (p.getKey().equals(METADATA_KEY)) {
                readMetadata(p.getValue(), metadata, file);
            } else {
                entries.add(readEntry(p.getKey(), p.getValue(), dataBytes, file));
            }
        }
        checkCoverage(entries, dataBytes, file);
        return new SafeTensorsHeader(Collections.unmodifiableMap(metadata), List.copyOf(entries));
    }

    private static String decodeUtf8(byte[] json, String file) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new WeightsException(file + ": header is not valid UTF-8");
        }
    }

    private static void readMetadata(JsonNode m, Map<String, String> out, String file) {
        if (!m.isObject()) throw new WeightsException(file + ": " + METADATA_KEY + " must be an object of strings, got " + kind(m));
        for (Map.Entry<String, JsonNode> p : m.properties()) {
            if (!p.getValue().isTextual())
                throw new WeightsException(file + ": " + METADATA_KEY + " value of \"" + printable(p.getKey()) + "\" must be a string, got " + kind(p.getValue()));
            out.put(p.getKey(), p.getValue().textValue());
        }
    }

    private static Entry readEntry(String name, JsonNode t, long dataBytes, String file) {
        String where = file + ": tensor " + printable(name);
        if (!t.isObject()) throw new WeightsException(where + ": entry must be an object, got " + kind(t));
        JsonNode dt = t.get("dtype"), sh = t.get("shape"), off = t.get("data_offsets");
        if (dt == null) throw new WeightsException(where + ": missing \"dtype\"");
        if (sh == null) throw new WeightsException(where + ": missing \"shape\"");
        if (off == null) throw new WeightsException(where + ": missing \"data_offsets\"");
        if (!dt.isTextual()) throw new WeightsException(where + ": \"dtype\" must be a string, got " + kind(dt));
        if (!sh.isArray()) throw new WeightsException(where + ": \"shape\" must be an array, got " + kind(sh));
        if (!off.isArray() || off.size() != 2)
            throw new WeightsException(where + ": \"data_offsets\" must be an array of two integers, got " + kind(off));

        DType dtype = DType.fromSafetensors(dt.textValue());
        if (dtype == null)
            throw new WeightsException(where + ": unsupported dtype \"" + printable(dt.textValue()) + "\" (supported: F32, F16, BF16)");

        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) shape[i] = nonNegativeLong(sh.get(i), where, "shape[" + i + "]");
        long begin = nonNegativeLong(off.get(0), where, "data_offsets[0]");
        long end = nonNegativeLong(off.get(1), where, "data_offsets[1]");

        if (begin > end) throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] begin after end");
        if (end > dataBytes)
            throw new WeightsException(where + ": data_offsets [" + begin + ", " + end + "] lie beyond the data section of " + dataBytes + " bytes");
        long need = byteSize(shape, dtype, where);
        if (need != end - begin)
            throw new WeightsException(where + ": shape " + Arrays.toString(shape) + " of " + dtype + " needs " + need
                    + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long nonNegativeLong(JsonNode v, String where, String what) {
        if (!v.isIntegralNumber()) throw new WeightsException(where + ": " + what + " must be an integer, got " + kind(v));
        if (!v.canConvertToLong()) throw new WeightsException(where + ": " + what + " " + v + " is too large");
        long x = v.longValue();
        if (x < 0) throw new WeightsException(where + ": " + what + " is negative (" + x + ")");
        return x;
    }

    private static long byteSize(long[] shape, DType dtype, String where) {
        try {
            long n = dtype.bytes;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        } catch (ArithmeticException e) {
            throw new WeightsException(where + ": shape " + Arrays.toString(shape) + " overflows a 64-bit byte count");
        }
    }

    /** Sorted by start, the ranges must begin at 0, touch one another, and end at the end of the data section. */
    private static void checkCoverage(List<Entry> entries, long dataBytes, String file) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin() < covered)
                throw new WeightsException(file + ": tensor " + printable(e.name()) + ": data_offsets [" + e.begin() + ", " + e.end()
                        + "] overlap tensor " + printable(previous.name()) + " [" + previous.begin() + ", " + previous.end() + "]");
            if (e.begin() > covered)
                throw new WeightsException(file + ": tensor " + printable(e.name()) + ": data_offsets [" + e.begin() + ", " + e.end()
                        + "] leave bytes [" + covered + ", " + e.begin() + ") of the data section unused (gap)");
            covered = e.end();
            previous = e;
        }
        if (covered != dataBytes)
            throw new WeightsException(file + ": tensors cover " + covered + " bytes but the data section after the header is "
                    + dataBytes + " bytes" + (previous == null ? "" : " (last tensor " + printable(previous.name()) + ")"));
    }

    /** A name as it may appear in a one-line message: control characters replaced, at most 200 characters. */
    public static String printable(String name) {
        StringBuilder b = new StringBuilder(Math.min(name.length(), 201));
        for (int i = 0; i < name.length() && i < 200; i++) {
            char c = name.charAt(i);
            b.append(Character.isISOControl(c) || c == '\u2028' || c == '\u2029' ? '?' : c);
        }
        if (name.length() > 200) b.append('…');
        return b.toString();
    }

    private static String kind(JsonNode v) {
        if (v.isObject()) return "an object";
        if (v.isArray()) return "an array of " + v.size();
        if (v.isTextual()) return "a string";
        if (v.isNull()) return "null";
        if (v.isBoolean()) return "a boolean";
        if (v.isNumber()) return "the number " + v;
        return v.getNodeType().toString();
    }

    private static String oneLine(String s) {
        if (s == null) return "";
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}
