package io.rationale.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Deterministic property test: valid safetensors files, mutated at random (byte flips, truncations, header length
 * changes, edits of the JSON text), either open with consistent tensors or fail with a one-line
 * {@link WeightsException}; nothing else (no IndexOutOfBounds, no NumberFormatException, no crash).
 */
class SafeTensorsPropertyTest {
    private static final long SEED = 20240701L;
    private static final int ITERATIONS = 4000;
    private static final String[] DTYPES = {"F32", "F16", "BF16"};
    private static final String[] TOKENS = {"{", "}", "[", "]", ",", ":", "\"", "-", "0", "1", "9", "1e3", "null", "true",
            "\"I64\"", "\"F16\"", "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "18446744073709551616",
            "-1", "4611686018427387904", " ", "\\u0000", "\u00e9", "\"x\":{}"};

    @TempDir
    Path dir;

    @Test
    void mutatedFilesOpenConsistentlyOrFailCleanly() {
        Random r = new Random(SEED);
        int accepted = 0, rejected = 0;
        for (int it = 0; it < ITERATIONS; it++) {
            byte[] valid = validFile(r);
            assertAccepted(valid, it);                              // the generator itself makes valid files
            byte[] bytes = mutate(valid, r);
            boolean ok = check(bytes, it, it % 40 == 0);
            if (ok) accepted++;
            else rejected++;
        }
        // Both outcomes must be common, or the mutations are not exercising the parser.
        assertTrue(accepted > ITERATIONS / 50, "accepted " + accepted);
        assertTrue(rejected > ITERATIONS / 2, "rejected " + rejected);
    }

    private void assertAccepted(byte[] valid, int it) {
        SafeTensorsFile f = SafeTensorsFile.parse(MemorySegment.ofArray(valid), Path.of("gen.safetensors"));
        Consistency.check(f, valid.length);
        assertFalse(f.tensors().isEmpty() && valid.length > 8 + f.headerBytes(), "iteration " + it);
    }

    /** True when the bytes were accepted (and are consistent), false when cleanly rejected. */
    private boolean check(byte[] bytes, int it, boolean viaDisk) {
        try {
            if (viaDisk) {
                StBytes.write(dir, "model.safetensors", bytes);
                try (Checkpoint c = Checkpoint.open(dir)) {
                    Consistency.check(c.files().getFirst(), bytes.length);
                    for (String n : c.names()) assertEquals(c.fileOf(n), dir.resolve("model.safetensors"));
                }
            } else {
                Consistency.check(SafeTensorsFile.parse(MemorySegment.ofArray(bytes), Path.of("mutant.safetensors")), bytes.length);
            }
            return true;
        } catch (WeightsException e) {
            Consistency.checkMessage(e);
            return false;
        } catch (Throwable t) {
            throw new AssertionError("iteration " + it + ": " + t + " for bytes " + HexFormat.of().formatHex(bytes), t);
        }
    }

    /** A valid file: 0 to 5 tensors of random dtype and shape, maybe metadata, maybe padded header, any key order. */
    static byte[] validFile(Random r) {
        int n = r.nextInt(6);
        StringBuilder h = new StringBuilder("{");
        if (r.nextInt(3) == 0) h.append("\"__metadata__\":{\"format\":\"pt\",\"k").append(r.nextInt(9)).append("\":\"v\"}");
        long offset = 0;
        String[] entries = new String[n];
        for (int i = 0; i < n; i++) {
            String dtype = DTYPES[r.nextInt(DTYPES.length)];
            int rank = r.nextInt(4);
            long[] shape = new long[rank];
            long numel = 1;
            for (int d = 0; d < rank; d++) {
                shape[d] = r.nextInt(5);
                numel *= shape[d];
            }
            long size = numel * DType.fromSafetensors(dtype).bytes;
            entries[i] = StBytes.entry("t" + i + ".weight", dtype, shape, offset, offset + size);
            offset += size;
        }
        for (int i = n - 1; i > 0; i--) {                        // header order need not follow offset order
            int j = r.nextInt(i + 1);
            String t = entries[i];
            entries[i] = entries[j];
            entries[j] = t;
        }
        for (String e : entries) {
            if (h.length() > 1) h.append(',');
            h.append(e);
        }
        h.append('}');
        if (r.nextBoolean()) h.append(" ".repeat(r.nextInt(8)));
        byte[] data = new byte[(int) offset];
        r.nextBytes(data);
        return StBytes.file(h.toString(), data);
    }

    static byte[] mutate(byte[] valid, Random r) {
        int headerLen = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return switch (r.nextInt(6)) {
            case 0 -> flipBytes(valid, r);
            case 1 -> Arrays.copyOf(valid, r.nextInt(valid.length + 1));          // truncation
            case 2 -> Arrays.copyOf(valid, valid.length + 1 + r.nextInt(16));      // trailing bytes
            case 3 -> changeHeaderLength(valid, headerLen, r);
            default -> editJson(valid, headerLen, r);
        };
    }

    private static byte[] flipBytes(byte[] valid, Random r) {
        byte[] b = valid.clone();
        int flips = 1 + r.nextInt(4);
        for (int i = 0; i < flips; i++) {
            int at = r.nextInt(b.length);
            b[at] = r.nextBoolean() ? (byte) (b[at] ^ (1 << r.nextInt(8))) : (byte) r.nextInt(256);
        }
        return b;
    }

    private static byte[] changeHeaderLength(byte[] valid, int headerLen, Random r) {
        byte[] b = valid.clone();
        long len = switch (r.nextInt(4)) {
            case 0 -> headerLen + r.nextInt(9) - 4;
            case 1 -> r.nextLong();
            case 2 -> (long) valid.length - 8 + r.nextInt(3) - 1;
            default -> 100_000_000L + r.nextInt(3) - 1;
        };
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, len);
        return b;
    }

    /** Edits the header text, then writes the correct length for the new text so the JSON rules get exercised. */
    private static byte[] editJson(byte[] valid, int headerLen, Random r) {
        String json = new String(valid, 8, headerLen, StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(valid, 8 + headerLen, valid.length);
        StringBuilder s = new StringBuilder(json);
        int edits = 1 + r.nextInt(3);
        for (int i = 0; i < edits && !s.isEmpty(); i++) {
            int at = r.nextInt(s.length());
            switch (r.nextInt(5)) {
                case 0 -> s.deleteCharAt(at);
                case 1 -> s.insert(at, TOKENS[r.nextInt(TOKENS.length)]);
                case 2 -> s.replace(at, Math.min(s.length(), at + 1 + r.nextInt(4)), TOKENS[r.nextInt(TOKENS.length)]);
                case 3 -> replaceNumber(s, r);
                default -> replaceDtype(s, r);
            }
        }
        if (r.nextInt(4) == 0) data = Arrays.copyOf(data, Math.max(0, data.length + r.nextInt(9) - 4));
        return StBytes.file(s.toString(), data);
    }

    /** Replaces one integer in the text by a nearby or extreme value (offsets and dims stay well-formed JSON). */
    private static void replaceNumber(StringBuilder s, Random r) {
        int start = -1;
        for (int tries = 0; tries < 20 && start < 0; tries++) {
            int at = r.nextInt(s.length());
            if (Character.isDigit(s.charAt(at))) start = at;
        }
        if (start < 0) return;
        while (start > 0 && Character.isDigit(s.charAt(start - 1))) start--;
        int end = start;
        while (end < s.length() && Character.isDigit(s.charAt(end))) end++;
        BigInteger old = new BigInteger(s.substring(start, end));
        String replacement = switch (r.nextInt(5)) {
            case 0 -> old.add(BigInteger.ONE).toString();
            case 1 -> old.subtract(BigInteger.ONE).max(BigInteger.ZERO).toString();
            case 2 -> old.shiftLeft(1).toString();
            case 3 -> String.valueOf(r.nextInt(64));
            default -> "9223372036854775807";
        };
        s.replace(start, end, replacement);
    }

    private static void replaceDtype(StringBuilder s, Random r) {
        String[] choices = {"F32", "F16", "BF16", "I64", "F8_E4M3", "F64", ""};
        for (String d : DTYPES) {
            int at = s.indexOf("\"" + d + "\"");
            if (at >= 0 && r.nextBoolean()) {
                s.replace(at + 1, at + 1 + d.length(), choices[r.nextInt(choices.length)]);
                return;
            }
        }
    }
}
