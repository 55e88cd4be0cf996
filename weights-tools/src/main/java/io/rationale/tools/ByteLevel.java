package io.rationale.tools;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2 / Llama 3 byte-level alphabet: each of the 256 byte values maps to one printable
 * character (printable Latin-1 bytes map to themselves, the others to U+0100 upwards).
 */
public final class ByteLevel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** Bytes in token-id order: '!'..'~', '¡'..'¬', '®'..'ÿ', then the rest ascending. */
    private static final int[] ORDER = new int[256];

    static {
        int n = 0;
        int extra = 0;
        boolean[] printable = new boolean[256];
        for (int b = 0; b < 256; b++) {
            printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        }
        for (int b = 0; b < 256; b++) {
            if (printable[b]) {
                BYTE_TO_CHAR[b] = (char) b;
                ORDER[n++] = b;
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!printable[b]) {
                BYTE_TO_CHAR[b] = (char) (256 + extra++);
                ORDER[n++] = b;
            }
        }
    }

    private ByteLevel() {
    }

    /** The character standing for byte {@code b} (0..255). */
    public static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xff];
    }

    /** The byte whose token id is {@code id} (0..255) in a Llama 3 style vocabulary. */
    public static int byteOfId(int id) {
        return ORDER[id];
    }

    /** The byte-level string of a text's UTF-8 bytes. */
    public static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) {
            sb.append(charOf(b));
        }
        return sb.toString();
    }
}
