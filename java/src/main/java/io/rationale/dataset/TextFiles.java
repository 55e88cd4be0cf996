package io.rationale.dataset;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What to say about a dataset file that is not UTF-8: Java's decoder only reports "Input length = 1", so the file is
 * scanned again for the first invalid byte and its line (1-based, counted by {@code \n}).
 */
final class TextFiles {
    private TextFiles() {}

    /**
     * The dataset error for a failed read of {@code file}: where it is not UTF-8 ({@link #notUtf8}), or why it
     * cannot be read.
     */
    static DatasetException readError(Path file, java.io.IOException e) {
        return new DatasetException(file + ": " + (e instanceof java.nio.charset.CharacterCodingException ? notUtf8(file)
                : "cannot read (" + e.getMessage() + ")"), e);
    }

    /** {@code not UTF-8 text (invalid byte 0xE9 at line 3)}, or a shorter phrase when the file cannot be scanned. */
    static String notUtf8(Path file) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.allocate(1 << 16).limit(0);
        CharBuffer out = CharBuffer.allocate(1 << 16);
        long line = 1;
        try (InputStream s = Files.newInputStream(file)) {
            boolean eof = false;
            while (true) {
                int n = eof ? -1 : s.read(in.array(), in.limit(), in.capacity() - in.limit());
                if (n < 0) eof = true;
                else in.limit(in.limit() + n);
                int from = in.position();
                CoderResult r = dec.decode(in, out, eof);
                for (int i = from; i < in.position(); i++) if (in.get(i) == '\n') line++;
                if (r.isError()) {
                    return String.format(Locale.ROOT, "not UTF-8 text (invalid byte 0x%02X at line %d); save it as UTF-8", in.get(in.position()) & 0xFF, line);
                }
                out.clear();
                if (eof && !in.hasRemaining()) break;
                in.compact().flip();
            }
        } catch (IOException e) {
            return "not UTF-8 text";
        }
        return "not UTF-8 text";
    }
}
