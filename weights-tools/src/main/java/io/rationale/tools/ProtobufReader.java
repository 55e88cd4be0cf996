package io.rationale.tools;

import java.nio.charset.StandardCharsets;

/**
 * A minimal protocol-buffers wire-format reader: varints, 32/64-bit fixed fields and
 * length-delimited fields, enough to walk a SentencePiece model. Errors name {@code source}.
 */
final class ProtobufReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final byte[] buf;
    private final int end;
    private final String source;
    private int pos;

    ProtobufReader(byte[] buf, int start, int end, String source) {
        this.buf = buf;
        this.pos = start;
        this.end = end;
        this.source = source;
    }

    boolean hasMore() {
        return pos < end;
    }

    /** Reads a tag; returns (field << 3) | wireType. */
    int readTag() {
        long t = readVarint();
        if (t <= 0 || t > Integer.MAX_VALUE) {
            throw bad("bad field tag " + t);
        }
        return (int) t;
    }

    long readVarint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) {
                throw bad("truncated varint");
            }
            int b = buf[pos++] & 0xff;
            result |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw bad("varint longer than 10 bytes");
    }

    int readFixed32() {
        need(4);
        int v = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    float readFloat() {
        return Float.intBitsToFloat(readFixed32());
    }

    /** Reads a length prefix and returns a reader over that sub-message, advancing past it. */
    ProtobufReader readMessage() {
        int len = readLength();
        ProtobufReader sub = new ProtobufReader(buf, pos, pos + len, source);
        pos += len;
        return sub;
    }

    String readString() {
        int len = readLength();
        String s = new String(buf, pos, len, StandardCharsets.UTF_8);
        pos += len;
        return s;
    }

    /** Skips a field of the given wire type. */
    void skip(int wireType) {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> {
                need(8);
                pos += 8;
            }
            case LENGTH_DELIMITED -> {
                int len = readLength();
                pos += len;
            }
            case FIXED32 -> {
                need(4);
                pos += 4;
            }
            default -> throw bad("unsupported wire type " + wireType);
        }
    }

    private int readLength() {
        long len = readVarint();
        if (len < 0 || len > end - pos) {
            throw bad("length " + len + " runs past the end");
        }
        return (int) len;
    }

    private void need(int n) {
        if (end - pos < n) {
            throw bad("truncated field");
        }
    }

    private ToolException bad(String what) {
        return new ToolException(source + ": not a valid SentencePiece model (" + what + " at byte " + pos + ")");
    }
}
