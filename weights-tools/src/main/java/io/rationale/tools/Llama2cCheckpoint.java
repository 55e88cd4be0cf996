package io.rationale.tools;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A llama2.c checkpoint in the legacy (version 0) format of Karpathy's run.c: seven int32 header
 * fields (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
 * vocab_size means a separate classifier), then float32 arrays, each matrix stored [out][in]
 * like a PyTorch Linear weight: token_embedding_table[vocab][dim], rms_att_weight[L][dim],
 * wq[L][heads*hs][dim], wk[L][kv*hs][dim], wv[L][kv*hs][dim], wo[L][dim][heads*hs],
 * rms_ffn_weight[L][dim], w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim],
 * rms_final_weight[dim], freq_cis_real[seq_len][hs/2], freq_cis_imag[seq_len][hs/2],
 * then wcls[vocab][dim] when not shared. Little-endian throughout.
 */
public final class Llama2cCheckpoint implements AutoCloseable {
    /** The magic that starts llama2.c's newer (version 1 and 2) exports: "ak42". */
    public static final int MAGIC_V1 = 0x616b3432;
    private static final int HEADER_BYTES = 28;

    public final Path file;
    public final int dim;
    public final int hiddenDim;
    public final int layers;
    public final int heads;
    public final int kvHeads;
    public final int vocab;
    public final boolean shared;
    public final int seqLen;
    public final int headSize;

    private final FileChannel channel;
    private final long[] offsets = new long[11];

    /** Opens and validates {@code file}; every failure names the file. */
    public Llama2cCheckpoint(Path file) {
        this.file = file;
        try {
            this.channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new ToolException("cannot open llama2.c checkpoint " + file + ": " + e.getMessage(), e);
        }
        try {
            long size = channel.size();
            if (size < HEADER_BYTES) {
                throw bad("is " + size + " bytes, shorter than the 28-byte header");
            }
            ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (h.hasRemaining()) {
                if (channel.read(h, h.position()) < 0) {
                    throw bad("ends inside the header");
                }
            }
            h.flip();
            int[] v = new int[7];
            for (int i = 0; i < 7; i++) {
                v[i] = h.getInt();
            }
            if (v[0] == MAGIC_V1) {
                throw bad("is a version-1/2 llama2.c export (magic \"ak42\"); only the legacy version-0 format is supported");
            }
            dim = positive(v[0], "dim");
            hiddenDim = positive(v[1], "hidden_dim");
            layers = positive(v[2], "n_layers");
            heads = positive(v[3], "n_heads");
            kvHeads = positive(v[4], "n_kv_heads");
            if (v[5] == 0 || v[5] == Integer.MIN_VALUE) {
                throw bad("has bad vocab_size " + v[5]);
            }
            shared = v[5] > 0;
            vocab = Math.abs(v[5]);
            seqLen = positive(v[6], "seq_len");
            if (dim % heads != 0) {
                throw bad("has dim " + dim + " not divisible by n_heads " + heads);
            }
            if (heads % kvHeads != 0) {
                throw bad("has n_heads " + heads + " not divisible by n_kv_heads " + kvHeads);
            }
            headSize = dim / heads;
            if (headSize % 2 != 0) {
                throw bad("has odd head size " + headSize + " (dim / n_heads)");
            }
            long expected = layout();
            if (size != expected) {
                throw bad("is " + size + " bytes but its header (dim " + dim + ", hidden_dim " + hiddenDim + ", n_layers "
                        + layers + ", n_heads " + heads + ", n_kv_heads " + kvHeads + ", vocab_size " + v[5] + ", seq_len "
                        + seqLen + ") implies " + expected + (size < expected ? " (truncated?)" : " (trailing data?)"));
            }
        } catch (IOException e) {
            close();
            throw new ToolException("cannot read llama2.c checkpoint " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Array indices, in file order. */
    static final int EMB = 0, RMS_ATT = 1, WQ = 2, WK = 3, WV = 4, WO = 5, RMS_FFN = 6, W1 = 7, W2 = 8, W3 = 9, RMS_FINAL = 10;

    private long layout() {
        long l = layers;
        long q = (long) heads * headSize;
        long kv = (long) kvHeads * headSize;
        long[] counts = {
            (long) vocab * dim, l * dim, l * q * dim, l * kv * dim, l * kv * dim, l * dim * q, l * dim,
            l * hiddenDim * dim, l * dim * hiddenDim, l * hiddenDim * dim, dim
        };
        long pos = HEADER_BYTES;
        for (int i = 0; i < counts.length; i++) {
            offsets[i] = pos;
            pos += counts[i] * 4;
        }
        pos += 2L * seqLen * (headSize / 2) * 4;
        wclsOffset = shared ? offsets[EMB] : pos;
        if (!shared) {
            pos += (long) vocab * dim * 4;
        }
        return pos;
    }

    private long wclsOffset;

    /** Rows x cols of one layer's slice of array {@code which}. */
    int[] shape(int which) {
        int q = heads * headSize;
        int kv = kvHeads * headSize;
        return switch (which) {
            case EMB -> new int[] {vocab, dim};
            case RMS_ATT, RMS_FFN, RMS_FINAL -> new int[] {1, dim};
            case WQ -> new int[] {q, dim};
            case WK, WV -> new int[] {kv, dim};
            case WO -> new int[] {dim, q};
            case W1, W3 -> new int[] {hiddenDim, dim};
            case W2 -> new int[] {dim, hiddenDim};
            default -> throw new IllegalArgumentException("array " + which);
        };
    }

    /** Byte offset of layer {@code layer}'s slice of array {@code which}. */
    long offset(int which, int layer) {
        int[] s = shape(which);
        return offsets[which] + (long) layer * s[0] * s[1] * 4;
    }

    /** Byte offset of the classifier (the embedding when shared). */
    long classifierOffset() {
        return wclsOffset;
    }

    /**
     * A view of {@code rows x cols} floats at {@code byteOffset}. With {@code permuteHeads > 0},
     * rows are reordered from llama2.c's interleaved RoPE pairs to Hugging Face's rotate-half
     * layout for that many heads: output row (h, j, i) is input row (h, i, j), j in {0,1}, i <
     * head_size/2, i.e. {@code w.view(heads, rows/heads/2, 2, cols).transpose(1, 2)}.
     */
    TensorData view(long byteOffset, int rows, int cols, int permuteHeads) {
        FloatBuffer fb = map(byteOffset, (long) rows * cols * 4);
        int hd = permuteHeads > 0 ? rows / permuteHeads : 0;
        return (start, dst, len) -> {
            int o = 0;
            long e = start;
            long end = start + len;
            while (e < end) {
                int r = (int) (e / cols);
                int c = (int) (e % cols);
                int n = (int) Math.min(cols - c, end - e);
                int src = r;
                if (hd > 0) {
                    int h = r / hd;
                    int rem = r % hd;
                    int j = rem / (hd / 2);
                    int i = rem % (hd / 2);
                    src = h * hd + 2 * i + j;
                }
                fb.get((int) ((long) src * cols + c), dst, o, n);
                o += n;
                e += n;
            }
        };
    }

    private FloatBuffer map(long byteOffset, long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new ToolException(file + ": a single tensor of " + bytes + " bytes is too large to map");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, byteOffset, bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        } catch (IOException e) {
            throw new ToolException("cannot map " + file + " at " + byteOffset + ": " + e.getMessage(), e);
        }
    }

    private int positive(int v, String field) {
        if (v <= 0) {
            throw bad("has bad header field " + field + " = " + v + " (must be positive)");
        }
        return v;
    }

    private ToolException bad(String what) {
        return new ToolException("llama2.c checkpoint " + file + " " + what);
    }

    @Override
    public void close() {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // nothing useful to do
        }
    }
}
