package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cConverterTest {
    static final ObjectMapper OM = new ObjectMapper();
    static Path src;
    static Path expected;

    @TempDir
    Path tmp;

    @BeforeAll
    static void locate() {
        src = Shared.path("data/models/stories260K-llama2c");
        expected = Shared.path("data/models/stories260K-hf");
    }

    private Path convert(String tokenizer) {
        Path out = tmp.resolve("out-" + tokenizer);
        Llama2cConverter.Options o = new Llama2cConverter.Options();
        o.threads = 2;
        Llama2cConverter.convert(src.resolve("stories260K.bin"), src.resolve(tokenizer), out, o);
        return out;
    }

    @Test
    void reproducesTheReferenceTensorsExactly() throws Exception {
        Path out = convert("tok512.model");
        SafeTensorsTestReader got = new SafeTensorsTestReader(out.resolve("model.safetensors"));
        SafeTensorsTestReader want = new SafeTensorsTestReader(expected.resolve("model.safetensors"));
        assertEquals(want.tensors.keySet(), got.tensors.keySet());
        assertEquals(new ArrayList<>(want.tensors.keySet()), new ArrayList<>(got.tensors.keySet()), "same (name) order");
        for (String name : want.tensors.keySet()) {
            assertEquals("F32", got.tensors.get(name).dtype(), name);
            assertArrayEquals(want.tensors.get(name).shape(), got.tensors.get(name).shape(), name);
            float[] g = got.floats(name);
            float[] w = want.floats(name);
            for (int i = 0; i < w.length; i++) {
                if (Float.floatToRawIntBits(g[i]) != Float.floatToRawIntBits(w[i])) {
                    throw new AssertionError(name + "[" + i + "]: got " + g[i] + ", want " + w[i]);
                }
            }
            assertEquals(want.tensors.get(name).begin(), got.tensors.get(name).begin(), name + " offset");
        }
        assertFalse(got.tensors.containsKey("lm_head.weight"), "stories260K shares its classifier");
        assertEquals("pt", got.metadata.get("format"));
    }

    @Test
    void reproducesTheReferenceConfigs() throws Exception {
        Path out = convert("tok512.model");
        for (String f : new String[] {"config.json", "generation_config.json", "special_tokens_map.json", "tokenizer_config.json"}) {
            assertEquals(OM.readTree(expected.resolve(f).toFile()), OM.readTree(out.resolve(f).toFile()), f);
        }
        JsonNode c = OM.readTree(out.resolve("config.json").toFile());
        assertEquals(64, c.get("hidden_size").asInt());
        assertEquals(172, c.get("intermediate_size").asInt());
        assertEquals(5, c.get("num_hidden_layers").asInt());
        assertEquals(8, c.get("num_attention_heads").asInt());
        assertEquals(4, c.get("num_key_value_heads").asInt());
        assertEquals(512, c.get("vocab_size").asInt());
        assertEquals(512, c.get("max_position_embeddings").asInt());
        assertTrue(c.get("tie_word_embeddings").asBoolean());
        assertArrayEquals(Files.readAllBytes(src.resolve("tok512.model")), Files.readAllBytes(out.resolve("tokenizer.model")));
    }

    @Test
    void reproducesTheReferenceTokenizerFromEitherTokenizerFile() throws Exception {
        JsonNode want = OM.readTree(expected.resolve("tokenizer.json").toFile());
        for (String tok : new String[] {"tok512.model", "tok512.bin"}) {
            JsonNode got = OM.readTree(convert(tok).resolve("tokenizer.json").toFile());
            assertEquals(want.get("model").get("vocab"), got.get("model").get("vocab"), tok + " vocab");
            List<String> gm = new ArrayList<>();
            got.get("model").get("merges").forEach(n -> gm.add(n.asText()));
            List<String> wm = new ArrayList<>();
            want.get("model").get("merges").forEach(n -> wm.add(n.asText()));
            assertEquals(wm, gm, tok + " merges, in order");
            assertEquals(want, got, tok + " whole tokenizer.json");
        }
    }

    @Test
    void readsBothTokenizerFormatsAlike() {
        SentencePieceModel a = SentencePieceModel.read(src.resolve("tok512.model"));
        SentencePieceModel b = SentencePieceModel.read(src.resolve("tok512.bin"));
        assertEquals(512, a.size());
        assertEquals(a.pieces(), b.pieces());
        assertEquals(new SentencePieceModel.Piece("<unk>", 0f, SentencePieceModel.Type.UNKNOWN), a.pieces().get(0));
        assertEquals(SentencePieceModel.Type.CONTROL, a.pieces().get(1).type());
        assertEquals("<s>", a.pieces().get(1).piece());
        assertEquals(new SentencePieceModel.Piece("<0x0A>", 0f, SentencePieceModel.Type.BYTE), a.pieces().get(13));
        assertEquals("\u2581t", a.pieces().get(259).piece());
        assertTrue(a.pieces().get(259).score() > a.pieces().get(300).score(), "merge scores decrease");
        assertEquals(0, a.unkId());
        assertEquals(1, a.bosId());
        assertEquals(2, a.eosId());
    }

    @Test
    void mergeOrderFollowsScoreThenPartIds() {
        List<SentencePieceModel.Piece> p = new ArrayList<>();
        p.add(new SentencePieceModel.Piece("<unk>", 0, SentencePieceModel.Type.UNKNOWN));
        p.add(new SentencePieceModel.Piece("<s>", 0, SentencePieceModel.Type.CONTROL));
        p.add(new SentencePieceModel.Piece("</s>", 0, SentencePieceModel.Type.CONTROL));
        p.add(new SentencePieceModel.Piece("ab", -1, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("abc", -2, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("bc", -1, SentencePieceModel.Type.NORMAL)); // same score as ab: stays after it
        p.add(new SentencePieceModel.Piece("a", -3, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("b", -4, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("c", -5, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("\uD83D\uDE42x", -6, SentencePieceModel.Type.NORMAL)); // no split inside a surrogate pair
        p.add(new SentencePieceModel.Piece("\uD83D\uDE42", -7, SentencePieceModel.Type.NORMAL));
        p.add(new SentencePieceModel.Piece("x", -8, SentencePieceModel.Type.NORMAL));
        List<String> m = new ArrayList<>();
        for (String[] lr : SentencePieceTokenizerJson.merges(new SentencePieceModel(p, 0, 1, 2))) {
            m.add(lr[0] + " " + lr[1]);
        }
        // ab (-1), bc (-1), then abc (-2): "ab c" (left id 3) before "a bc" (left id 6), then the emoji
        assertEquals(List.of("a b", "b c", "ab c", "a bc", "\uD83D\uDE42 x"), m);
    }

    /** A synthetic checkpoint whose every value encodes (array, index), so the mapping can be checked. */
    private static final int DIM = 8;
    private static final int HIDDEN = 6;
    private static final int LAYERS = 2;
    private static final int HEADS = 2;
    private static final int KV = 1;
    private static final int VOCAB = 10;
    private static final int SEQ = 4;

    private static float code(int array, int index) {
        return array * 10000 + index;
    }

    private static byte[] syntheticCheckpoint(boolean shared, int[] headerOverride) {
        int hs = DIM / HEADS;
        int[] counts = {VOCAB * DIM, LAYERS * DIM, LAYERS * DIM * HEADS * hs, LAYERS * DIM * KV * hs, LAYERS * DIM * KV * hs,
            LAYERS * HEADS * hs * DIM, LAYERS * DIM, LAYERS * HIDDEN * DIM, LAYERS * DIM * HIDDEN, LAYERS * HIDDEN * DIM, DIM,
            SEQ * hs / 2, SEQ * hs / 2, shared ? 0 : VOCAB * DIM};
        int total = Arrays.stream(counts).sum();
        ByteBuffer b = ByteBuffer.allocate(28 + 4 * total).order(ByteOrder.LITTLE_ENDIAN);
        int[] h = headerOverride != null ? headerOverride : new int[] {DIM, HIDDEN, LAYERS, HEADS, KV, shared ? VOCAB : -VOCAB, SEQ};
        for (int v : h) {
            b.putInt(v);
        }
        for (int a = 0; a < counts.length; a++) {
            for (int i = 0; i < counts[a]; i++) {
                b.putFloat(code(a, i));
            }
        }
        return b.array();
    }

    private static byte[] syntheticTokenizer() {
        String[] pieces = {"<unk>", "\n<s>\n", "\n</s>\n", "a", "b", "ab", " a", " ", "c", "<0x41>"};
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        out.writeBytes(b.putInt(8).array());
        for (int i = 0; i < pieces.length; i++) {
            byte[] s = pieces[i].getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(-i).putInt(s.length).array());
            out.writeBytes(s);
        }
        return out.toByteArray();
    }

    @Test
    void mapsEveryArrayOfASyntheticCheckpoint() throws Exception {
        Path ck = tmp.resolve("synth.bin");
        Files.write(ck, syntheticCheckpoint(false, null));
        Path tok = tmp.resolve("tok10.bin");
        Files.write(tok, syntheticTokenizer());
        Path out = tmp.resolve("synth-hf");
        Llama2cConverter.convert(ck, null, out, new Llama2cConverter.Options());
        SafeTensorsTestReader r = new SafeTensorsTestReader(out.resolve("model.safetensors"));
        int hs = DIM / HEADS;
        int q = HEADS * hs;
        int kv = KV * hs;
        checkPlain(r, "model.embed_tokens.weight", 0, 0, VOCAB, DIM);
        checkPlain(r, "lm_head.weight", 13, 0, VOCAB, DIM);
        checkPlain(r, "model.norm.weight", 10, 0, 1, DIM);
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            checkPlain(r, p + "input_layernorm.weight", 1, l * DIM, 1, DIM);
            checkPlain(r, p + "post_attention_layernorm.weight", 6, l * DIM, 1, DIM);
            checkPlain(r, p + "self_attn.v_proj.weight", 4, l * kv * DIM, kv, DIM);
            checkPlain(r, p + "self_attn.o_proj.weight", 5, l * DIM * q, DIM, q);
            checkPlain(r, p + "mlp.gate_proj.weight", 7, l * HIDDEN * DIM, HIDDEN, DIM);
            checkPlain(r, p + "mlp.down_proj.weight", 8, l * DIM * HIDDEN, DIM, HIDDEN);
            checkPlain(r, p + "mlp.up_proj.weight", 9, l * HIDDEN * DIM, HIDDEN, DIM);
            // head size 4: within each head, output rows come from input rows 0, 2, 1, 3
            int[] perm = {0, 2, 1, 3};
            float[] wq = r.floats(p + "self_attn.q_proj.weight");
            assertArrayEquals(new long[] {q, DIM}, r.tensors.get(p + "self_attn.q_proj.weight").shape());
            for (int row = 0; row < q; row++) {
                int srcRow = row / hs * hs + perm[row % hs];
                for (int c = 0; c < DIM; c++) {
                    assertEquals(code(2, l * q * DIM + srcRow * DIM + c), wq[row * DIM + c], "wq row " + row);
                }
            }
            float[] wk = r.floats(p + "self_attn.k_proj.weight");
            for (int row = 0; row < kv; row++) {
                for (int c = 0; c < DIM; c++) {
                    assertEquals(code(3, l * kv * DIM + perm[row] * DIM + c), wk[row * DIM + c], "wk row " + row);
                }
            }
        }
        JsonNode c = OM.readTree(out.resolve("config.json").toFile());
        assertFalse(c.get("tie_word_embeddings").asBoolean());
        assertEquals(HIDDEN, c.get("intermediate_size").asInt());
        assertEquals(hs, c.get("head_dim").asInt());
        JsonNode t = OM.readTree(out.resolve("tokenizer.json").toFile());
        assertEquals(10, t.get("model").get("vocab").size());
        assertEquals(1, t.get("model").get("vocab").get("<s>").asInt());
        assertEquals(6, t.get("model").get("vocab").get("\u2581a").asInt());
        assertEquals(9, t.get("model").get("vocab").get("<0x41>").asInt());
        assertEquals("a b", t.get("model").get("merges").get(0).asText());
        assertFalse(Files.exists(out.resolve("tokenizer.model")));
    }

    private static void checkPlain(SafeTensorsTestReader r, String name, int array, int first, int rows, int cols) {
        float[] v = r.floats(name);
        assertEquals(rows * cols, v.length, name);
        for (int i = 0; i < v.length; i++) {
            assertEquals(code(array, first + i), v[i], name + "[" + i + "]");
        }
    }

    @Test
    void truncatedCheckpointFailsNamingTheFile() throws Exception {
        byte[] full = Files.readAllBytes(src.resolve("stories260K.bin"));
        Path cut = tmp.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(full, full.length - 4));
        ToolException e = assertThrows(ToolException.class,
                () -> Llama2cConverter.convert(cut, src.resolve("tok512.model"), tmp.resolve("o"), new Llama2cConverter.Options()));
        assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("truncated")
                && e.getMessage().contains(Integer.toString(full.length)), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));

        Path longer = tmp.resolve("long.bin");
        Files.write(longer, Arrays.copyOf(full, full.length + 8));
        e = assertThrows(ToolException.class, () -> new Llama2cCheckpoint(longer).close());
        assertTrue(e.getMessage().contains("trailing"), e.getMessage());

        Path tiny = tmp.resolve("tiny.bin");
        Files.write(tiny, new byte[10]);
        e = assertThrows(ToolException.class, () -> new Llama2cCheckpoint(tiny).close());
        assertTrue(e.getMessage().contains(tiny.toString()) && e.getMessage().contains("header"), e.getMessage());
    }

    @Test
    void badHeaderValuesFailClearly() throws Exception {
        Object[][] cases = {
            {new int[] {0, HIDDEN, LAYERS, HEADS, KV, VOCAB, SEQ}, "dim = 0"},
            {new int[] {DIM, -1, LAYERS, HEADS, KV, VOCAB, SEQ}, "hidden_dim = -1"},
            {new int[] {DIM, HIDDEN, LAYERS, 3, 1, VOCAB, SEQ}, "not divisible by n_heads"},
            {new int[] {DIM, HIDDEN, LAYERS, HEADS, 3, VOCAB, SEQ}, "not divisible by n_kv_heads"},
            {new int[] {DIM, HIDDEN, LAYERS, HEADS, KV, 0, SEQ}, "vocab_size 0"},
            {new int[] {DIM, HIDDEN, LAYERS, 8, 1, VOCAB, SEQ}, "odd head size"},
            {new int[] {Llama2cCheckpoint.MAGIC_V1, 2, 0, 0, 0, 0, 0}, "version-1/2"},
        };
        for (Object[] c : cases) {
            Path f = tmp.resolve("bad.bin");
            Files.write(f, syntheticCheckpoint(true, (int[]) c[0]));
            ToolException e = assertThrows(ToolException.class, () -> new Llama2cCheckpoint(f).close(), (String) c[1]);
            assertTrue(e.getMessage().contains((String) c[1]) && e.getMessage().contains(f.toString()), e.getMessage());
        }
    }

    @Test
    void tokenizerProblemsFailClearly() throws Exception {
        Path ck = tmp.resolve("synth.bin");
        Files.write(ck, syntheticCheckpoint(true, null));
        ToolException e = assertThrows(ToolException.class,
                () -> Llama2cConverter.convert(ck, src.resolve("tok512.bin"), tmp.resolve("o"), new Llama2cConverter.Options()));
        assertTrue(e.getMessage().contains("512 pieces") && e.getMessage().contains("vocab_size 10"), e.getMessage());

        e = assertThrows(ToolException.class, () -> Llama2cConverter.convert(ck, null, tmp.resolve("o"), new Llama2cConverter.Options()));
        assertTrue(e.getMessage().contains("tok10.model") && e.getMessage().contains("--tokenizer"), e.getMessage());

        Path junk = tmp.resolve("junk.model");
        Files.write(junk, new byte[] {0x0A, 0x7F, 1, 2});
        e = assertThrows(ToolException.class, () -> SentencePieceModel.read(junk));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());

        Path badBin = tmp.resolve("bad.bin");
        byte[] t = syntheticTokenizer();
        Files.write(badBin, Arrays.copyOf(t, t.length - 1));
        e = assertThrows(ToolException.class, () -> SentencePieceModel.read(badBin));
        assertTrue(e.getMessage().contains(badBin.toString()) && e.getMessage().contains("token 9"), e.getMessage());
    }

    @Test
    void convertsToBf16OnRequest() throws Exception {
        Path out = tmp.resolve("bf16");
        Llama2cConverter.Options o = new Llama2cConverter.Options();
        o.dtype = DType.BF16;
        Llama2cConverter.convert(src.resolve("stories260K.bin"), src.resolve("tok512.bin"), out, o);
        SafeTensorsTestReader got = new SafeTensorsTestReader(out.resolve("model.safetensors"));
        SafeTensorsTestReader want = new SafeTensorsTestReader(expected.resolve("model.safetensors"));
        String name = "model.layers.3.self_attn.q_proj.weight";
        assertEquals("BF16", got.tensors.get(name).dtype());
        float[] g = got.floats(name);
        float[] w = want.floats(name);
        for (int i = 0; i < w.length; i++) {
            assertEquals(Float.intBitsToFloat((DType.toBf16(w[i]) & 0xffff) << 16), g[i], name + "[" + i + "]");
        }
        assertEquals("bfloat16", OM.readTree(out.resolve("config.json").toFile()).get("torch_dtype").asText());
        assertEquals("LlamaTokenizerFast", OM.readTree(out.resolve("tokenizer_config.json").toFile()).get("tokenizer_class").asText());
    }
}
