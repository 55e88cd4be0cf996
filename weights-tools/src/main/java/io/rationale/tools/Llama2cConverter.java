package io.rationale.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Converts a llama2.c checkpoint and its SentencePiece tokenizer to a Hugging Face Llama folder:
 * config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json (and tokenizer.model, copied, when the tokenizer given is a .model).
 *
 * <p>Mapping: token_embedding_table → model.embed_tokens.weight; rms_att_weight →
 * input_layernorm; wq/wk (rows permuted from interleaved to rotate-half RoPE) → q_proj/k_proj;
 * wv → v_proj; wo → o_proj; rms_ffn_weight → post_attention_layernorm; w1 → gate_proj; w3 →
 * up_proj; w2 → down_proj; rms_final_weight → model.norm.weight; wcls → lm_head.weight when not
 * shared (else tie_word_embeddings). RoPE theta 10000, rms_norm_eps 1e-5, as in run.c.
 */
public final class Llama2cConverter {
    private Llama2cConverter() {
    }

    /** Options of a conversion. */
    public static final class Options {
        /** Output element type (default F32, the checkpoint's own). */
        public DType dtype = DType.F32;
        /** Writer threads. */
        public int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        /** Shard limit; 0 or less writes one file. */
        public long maxShardBytes = 0;
        /** Progress lines, or null. */
        public Consumer<String> progress;
    }

    /**
     * Converts {@code checkpoint} with {@code tokenizer} (.model or llama2.c .bin; null to look for
     * tokenizer.model, tok{vocab}.model, tokenizer.bin or tok{vocab}.bin beside the checkpoint) into
     * {@code outDir}.
     */
    public static void convert(Path checkpoint, Path tokenizer, Path outDir, Options opts) {
        try (Llama2cCheckpoint ck = new Llama2cCheckpoint(checkpoint)) {
            Path tokFile = tokenizer != null ? tokenizer : findTokenizer(checkpoint, ck.vocab);
            SentencePieceModel sp = SentencePieceModel.read(tokFile);
            if (sp.size() != ck.vocab) {
                throw new ToolException("tokenizer " + tokFile + " has " + sp.size() + " pieces but checkpoint "
                        + checkpoint + " has vocab_size " + ck.vocab);
            }
            ModelSpec spec = spec(ck, opts.dtype);
            try {
                Files.createDirectories(outDir);
            } catch (IOException e) {
                throw new ToolException("cannot create output folder " + outDir + ": " + e.getMessage(), e);
            }
            Json.write(outDir.resolve("config.json"), HfConfig.config(spec, sp.bosId(), sp.eosId()));
            Json.write(outDir.resolve("generation_config.json"), HfConfig.generationConfig(spec, sp.bosId(), sp.eosId()));
            boolean isModel = !tokFile.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".bin");
            SentencePieceTokenizerJson.writeTo(sp, outDir, ck.seqLen, isModel);
            if (isModel) {
                copy(tokFile, outDir.resolve("tokenizer.model"));
            }
            new SafeTensorsWriter()
                    .threads(opts.threads)
                    .progress(opts.progress)
                    .sortByName(true)
                    .metadata(Map.of("format", "pt"))
                    .writeModel(outDir, tensors(ck, opts.dtype), opts.maxShardBytes);
        }
    }

    /** The Hugging Face model shape of a checkpoint. */
    static ModelSpec spec(Llama2cCheckpoint ck, DType dtype) {
        ModelSpec s = new ModelSpec();
        s.arch = Arch.LLAMA;
        s.hidden = ck.dim;
        s.layers = ck.layers;
        s.heads = ck.heads;
        s.kvHeads = ck.kvHeads;
        s.headDim = ck.headSize;
        s.intermediate = ck.hiddenDim;
        s.vocab = ck.vocab;
        s.maxPositions = ck.seqLen;
        s.ropeTheta = 10000.0;
        s.rmsNormEps = 1e-5;
        s.tied = ck.shared;
        s.dtype = dtype;
        s.validate();
        return s;
    }

    /** The tensors of a checkpoint under Hugging Face names, in state-dict order. */
    static List<TensorEntry> tensors(Llama2cCheckpoint ck, DType dt) {
        List<TensorEntry> out = new ArrayList<>();
        out.add(entry(ck, "model.embed_tokens.weight", dt, Llama2cCheckpoint.EMB, 0, 0, true));
        for (int l = 0; l < ck.layers; l++) {
            String p = "model.layers." + l + ".";
            out.add(entry(ck, p + "self_attn.q_proj.weight", dt, Llama2cCheckpoint.WQ, l, ck.heads, true));
            out.add(entry(ck, p + "self_attn.k_proj.weight", dt, Llama2cCheckpoint.WK, l, ck.kvHeads, true));
            out.add(entry(ck, p + "self_attn.v_proj.weight", dt, Llama2cCheckpoint.WV, l, 0, true));
            out.add(entry(ck, p + "self_attn.o_proj.weight", dt, Llama2cCheckpoint.WO, l, 0, true));
            out.add(entry(ck, p + "mlp.gate_proj.weight", dt, Llama2cCheckpoint.W1, l, 0, true));
            out.add(entry(ck, p + "mlp.up_proj.weight", dt, Llama2cCheckpoint.W3, l, 0, true));
            out.add(entry(ck, p + "mlp.down_proj.weight", dt, Llama2cCheckpoint.W2, l, 0, true));
            out.add(entry(ck, p + "input_layernorm.weight", dt, Llama2cCheckpoint.RMS_ATT, l, 0, false));
            out.add(entry(ck, p + "post_attention_layernorm.weight", dt, Llama2cCheckpoint.RMS_FFN, l, 0, false));
        }
        out.add(entry(ck, "model.norm.weight", dt, Llama2cCheckpoint.RMS_FINAL, 0, 0, false));
        if (!ck.shared) {
            TensorData d = ck.view(ck.classifierOffset(), ck.vocab, ck.dim, 0);
            out.add(TensorEntry.of("lm_head.weight", dt, d, ck.vocab, ck.dim));
        }
        return out;
    }

    private static TensorEntry entry(Llama2cCheckpoint ck, String name, DType dt, int which, int layer, int permuteHeads,
            boolean matrix) {
        int[] s = ck.shape(which);
        TensorData d = ck.view(ck.offset(which, layer), s[0], s[1], permuteHeads);
        return matrix ? TensorEntry.of(name, dt, d, s[0], s[1]) : TensorEntry.of(name, dt, d, s[1]);
    }

    private static Path findTokenizer(Path checkpoint, int vocab) {
        Path dir = checkpoint.toAbsolutePath().getParent();
        for (String n : new String[] {"tokenizer.model", "tok" + vocab + ".model", "tokenizer.bin", "tok" + vocab + ".bin"}) {
            Path p = dir.resolve(n);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new ToolException("no tokenizer given and none found beside " + checkpoint + " (looked for tokenizer.model, tok"
                + vocab + ".model, tokenizer.bin, tok" + vocab + ".bin); pass --tokenizer");
    }

    private static void copy(Path from, Path to) {
        try {
            if (!Files.exists(to) || !Files.isSameFile(from, to)) {
                Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
                to.toFile().setWritable(true, true); // the source may be read-only; the copy need not be
            }
        } catch (IOException e) {
            throw new ToolException("cannot copy " + from + " to " + to + ": " + e.getMessage(), e);
        }
    }
}
