package io.rationale.tools;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The vocabulary of a SentencePiece BPE tokenizer: pieces with scores and types, read either from
 * a SentencePiece {@code .model} protobuf or from llama2.c's {@code tokenizer.bin} export.
 */
public final class SentencePieceModel {
    /** SentencePiece piece types (sentencepiece_model.proto). */
    public enum Type {
        NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

        static Type of(long code, String source) {
            return switch ((int) code) {
                case 1 -> NORMAL;
                case 2 -> UNKNOWN;
                case 3 -> CONTROL;
                case 4 -> USER_DEFINED;
                case 5 -> UNUSED;
                case 6 -> BYTE;
                default -> throw new ToolException(source + ": unknown SentencePiece piece type " + code);
            };
        }
    }

    /** One vocabulary entry. */
    public record Piece(String piece, float score, Type type) {
    }

    private final List<Piece> pieces;
    private final int unkId;
    private final int bosId;
    private final int eosId;

    public SentencePieceModel(List<Piece> pieces, int unkId, int bosId, int eosId) {
        this.pieces = Collections.unmodifiableList(new ArrayList<>(pieces));
        this.unkId = unkId;
        this.bosId = bosId;
        this.eosId = eosId;
    }

    public List<Piece> pieces() {
        return pieces;
    }

    public int size() {
        return pieces.size();
    }

    public int unkId() {
        return unkId;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** Reads a .model (protobuf) or a llama2.c tokenizer .bin, chosen by extension then by content. */
    public static SentencePieceModel read(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".bin")) {
            return readLlama2cBin(file);
        }
        return readModelProto(file);
    }

    /**
     * Reads a SentencePiece ModelProto: pieces (field 1: piece=1, score=2, type=3), trainer_spec
     * (field 2: model_type=3, unk_id=40, bos_id=41, eos_id=42). Only BPE models are accepted.
     */
    public static SentencePieceModel readModelProto(Path file) {
        byte[] bytes = readAll(file);
        String src = file.toString();
        ProtobufReader r = new ProtobufReader(bytes, 0, bytes.length, src);
        List<Piece> pieces = new ArrayList<>();
        int modelType = 1;
        int unk = 0;
        int bos = 1;
        int eos = 2;
        while (r.hasMore()) {
            int tag = r.readTag();
            int field = tag >>> 3;
            int wire = tag & 7;
            if (field == 1 && wire == ProtobufReader.LENGTH_DELIMITED) {
                pieces.add(readPiece(r.readMessage(), src));
            } else if (field == 2 && wire == ProtobufReader.LENGTH_DELIMITED) {
                ProtobufReader t = r.readMessage();
                while (t.hasMore()) {
                    int tt = t.readTag();
                    int f = tt >>> 3;
                    int w = tt & 7;
                    if (w == ProtobufReader.VARINT && (f == 3 || f == 40 || f == 41 || f == 42)) {
                        int v = (int) t.readVarint();
                        switch (f) {
                            case 3 -> modelType = v;
                            case 40 -> unk = v;
                            case 41 -> bos = v;
                            default -> eos = v;
                        }
                    } else {
                        t.skip(w);
                    }
                }
            } else {
                r.skip(wire);
            }
        }
        if (pieces.isEmpty()) {
            throw new ToolException(src + ": not a SentencePiece model (no pieces)");
        }
        if (modelType != 2) {
            throw new ToolException(src + ": SentencePiece model type " + modelType
                    + " is not BPE (2); only BPE tokenizers (as llama2.c and Llama 2 use) are supported");
        }
        return new SentencePieceModel(pieces, unk, bos, eos);
    }

    private static Piece readPiece(ProtobufReader m, String src) {
        String piece = null;
        float score = 0f;
        Type type = Type.NORMAL;
        while (m.hasMore()) {
            int tag = m.readTag();
            int f = tag >>> 3;
            int w = tag & 7;
            if (f == 1 && w == ProtobufReader.LENGTH_DELIMITED) {
                piece = m.readString();
            } else if (f == 2 && w == ProtobufReader.FIXED32) {
                score = m.readFloat();
            } else if (f == 3 && w == ProtobufReader.VARINT) {
                type = Type.of(m.readVarint(), src);
            } else {
                m.skip(w);
            }
        }
        if (piece == null) {
            throw new ToolException(src + ": SentencePiece entry without a piece string");
        }
        return new Piece(piece, score, type);
    }

    /**
     * Reads llama2.c's tokenizer export: int32 max_token_length, then per token float32 score,
     * int32 byte length, UTF-8 bytes; little-endian. The export wrote BOS/EOS as "\n<s>\n" and
     * "\n</s>\n" and spaces for '▁'; this undoes both. Types are inferred: id 0 unknown, ids 1 and 2
     * control, {@code <0xHH>} byte pieces, the rest normal.
     */
    public static SentencePieceModel readLlama2cBin(Path file) {
        byte[] bytes = readAll(file);
        String src = file.toString();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 4) {
            throw new ToolException(src + ": too short for a llama2.c tokenizer (" + bytes.length + " bytes)");
        }
        int maxLen = b.getInt();
        if (maxLen <= 0 || maxLen > 1 << 16) {
            throw new ToolException(src + ": bad max_token_length " + maxLen + " in llama2.c tokenizer header");
        }
        List<Piece> pieces = new ArrayList<>();
        var dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        while (b.hasRemaining()) {
            int id = pieces.size();
            if (b.remaining() < 8) {
                throw new ToolException(src + ": truncated at token " + id + " (byte " + b.position() + ")");
            }
            float score = b.getFloat();
            int len = b.getInt();
            if (len < 0 || len > maxLen || len > b.remaining()) {
                throw new ToolException(src + ": token " + id + " has bad length " + len + " (byte " + (b.position() - 4) + ")");
            }
            String s;
            try {
                s = dec.decode(b.slice(b.position(), len)).toString();
            } catch (CharacterCodingException e) {
                throw new ToolException(src + ": token " + id + " is not valid UTF-8");
            }
            b.position(b.position() + len);
            Type type = Type.NORMAL;
            if (id == 0) {
                type = Type.UNKNOWN;
            } else if (id == 1 || id == 2) {
                type = Type.CONTROL;
                s = s.strip();
            } else if (s.matches("<0x[0-9A-F]{2}>")) {
                type = Type.BYTE;
            } else {
                s = s.replace(' ', '\u2581');
            }
            pieces.add(new Piece(s, score, type));
        }
        if (pieces.size() < 3) {
            throw new ToolException(src + ": only " + pieces.size() + " tokens in llama2.c tokenizer");
        }
        return new SentencePieceModel(pieces, 0, 1, 2);
    }

    private static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ToolException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
    }
}
