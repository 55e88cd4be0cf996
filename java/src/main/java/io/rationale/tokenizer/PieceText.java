package io.rationale.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns one vocabulary piece into the text it stands for, for display of a single token.
 *
 * <ul>
 *   <li>byte-level vocabularies (Llama 3): each char of the piece is one byte under the GPT-2 byte-to-unicode
 *       table ({@code Ġ} is a space, {@code Ċ} a newline);</li>
 *   <li>SentencePiece-style vocabularies (Llama 2): {@code ▁} is a space and a byte-fallback piece
 *       {@code <0xNN>} is the byte NN;</li>
 *   <li>the bytes are read as UTF-8; a byte that is not part of a complete UTF-8 character (half of an emoji)
 *       is shown as {@code <0xNN>}.</li>
 * </ul>
 * Unlike {@link Tokenizer#decode}, nothing is stripped: {@code ▁Once} displays as {@code " Once"}.
 */
final class PieceText {
    private static final Pattern BYTE_PIECE = Pattern.compile("<0x([0-9A-Fa-f]{2})>");
    private static final int[] UNICODE_TO_BYTE = unicodeToByte();

    private PieceText() {}

    static String display(String piece, boolean byteLevel, boolean byteFallback) {
        byte[] b = bytes(piece, byteLevel, byteFallback);
        return b == null ? piece : utf8OrHex(b);
    }

    /**
     * The bytes a piece stands for (a space for {@code ▁}, the byte of {@code <0xNN>}, GPT-2's byte table for a
     * byte-level piece); null for a piece of a byte-level vocabulary that is not made of byte characters (an added
     * token: its text is the piece itself).
     */
    static byte[] bytes(String piece, boolean byteLevel, boolean byteFallback) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        if (byteLevel) {
            for (int i = 0; i < piece.length(); i++) {
                char c = piece.charAt(i);
                int b = c < UNICODE_TO_BYTE.length ? UNICODE_TO_BYTE[c] : -1;
                if (b < 0) return null;
                bytes.write(b);
            }
        } else {
            Matcher m = BYTE_PIECE.matcher(piece);
            if (byteFallback && m.matches()) {
                bytes.write(Integer.parseInt(m.group(1), 16));
            } else {
                bytes.writeBytes(piece.replace('▁', ' ').getBytes(StandardCharsets.UTF_8));
            }
        }
        return bytes.toByteArray();
    }

    /** UTF-8 text, with each byte that is not part of a complete, valid character written as {@code <0xNN>}. */
    static String utf8OrHex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < b.length) {
            int len = sequenceLength(b[i] & 0xFF);
            String ch = len > 0 && i + len <= b.length ? decodeStrict(b, i, len) : null;
            if (ch != null) {
                sb.append(ch);
                i += len;
            } else {
                sb.append(String.format("<0x%02X>", b[i] & 0xFF));
                i++;
            }
        }
        return sb.toString();
    }

    private static int sequenceLength(int lead) {
        if (lead < 0x80) return 1;
        if (lead >= 0xC2 && lead <= 0xDF) return 2;
        if (lead >= 0xE0 && lead <= 0xEF) return 3;
        if (lead >= 0xF0 && lead <= 0xF4) return 4;
        return 0;
    }

    private static String decodeStrict(byte[] b, int off, int len) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, off, len)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** The inverse of GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to 256+n. */
    private static int[] unicodeToByte() {
        int[] inv = new int[512];
        java.util.Arrays.fill(inv, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (printable) {
                inv[b] = b;
            } else {
                inv[256 + n] = b;
                n++;
            }
        }
        return inv;
    }
}
