package io.rationale.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ByteLevelTokenizerTest {
    @TempDir
    Path tmp;

    /** tokenizer.json written to disk and parsed back, as a consumer sees it. */
    private JsonNode written(int vocab) throws Exception {
        Path dir = tmp.resolve("v" + vocab);
        java.nio.file.Files.createDirectories(dir);
        ByteLevelTokenizer.build(vocab).writeTo(dir, 4096);
        return new ObjectMapper().readTree(dir.resolve("tokenizer.json").toFile());
    }

    @Test
    void vocabularyHasExactlyTheRequestedIds() throws Exception {
        for (int v : new int[] {261, 262, 300, 512, 600, 1000, 32000}) {
            JsonNode t = written(v);
            JsonNode vocab = t.get("model").get("vocab");
            assertEquals(v, vocab.size(), "vocab " + v);
            boolean[] seen = new boolean[v];
            Iterator<Map.Entry<String, JsonNode>> it = vocab.properties().iterator();
            while (it.hasNext()) {
                int id = it.next().getValue().asInt();
                assertTrue(id >= 0 && id < v && !seen[id], "id " + id + " unique and in range");
                seen[id] = true;
            }
            for (JsonNode a : t.get("added_tokens")) {
                assertEquals(a.get("id").asInt(), vocab.get(a.get("content").asText()).asInt(), "added token in vocab");
                assertTrue(a.get("special").asBoolean());
            }
            assertTrue(t.get("added_tokens").size() <= ByteLevelTokenizer.SPECIAL_COUNT);
        }
    }

    @Test
    void tooSmallVocabularyFailsClearly() {
        ToolException e = assertThrows(ToolException.class, () -> ByteLevelTokenizer.build(260));
        assertTrue(e.getMessage().contains("260") && e.getMessage().contains("261") && e.getMessage().contains("--vocab"),
                e.getMessage());
    }

    @Test
    void byteTokensComeFirstInLlama3Order() {
        ByteLevelTokenizer t = ByteLevelTokenizer.build(512);
        Set<String> distinct = new HashSet<>(t.tokens().subList(0, 256));
        assertEquals(256, distinct.size());
        assertEquals("!", t.tokens().get(0));
        assertEquals("\u0120", t.tokens().get(220), "space (Ġ) at 220, as in Llama 3");
        assertEquals("\u010A", t.tokens().get(198), "newline (Ċ) at 198, as in Llama 3");
        assertEquals(String.valueOf(ByteLevel.charOf(' ')), "\u0120");
    }

    @Test
    void mergesAreValidAndProduceEveryLearnedToken() throws Exception {
        for (int v : new int[] {262, 400, 512, 5000}) {
            JsonNode t = written(v);
            JsonNode vocab = t.get("model").get("vocab");
            Set<String> available = new HashSet<>();
            for (int id = 0; id < 256; id++) {
                available.add(ByteLevelTokenizer.build(v).tokens().get(id));
            }
            for (JsonNode m : t.get("model").get("merges")) {
                String[] p = m.asText().split(" ");
                assertEquals(2, p.length, m.asText());
                assertNotNull(vocab.get(p[0]), "left part in vocab: " + m);
                assertNotNull(vocab.get(p[1]), "right part in vocab: " + m);
                assertNotNull(vocab.get(p[0] + p[1]), "merge result in vocab: " + m);
                assertTrue(available.contains(p[0]) && available.contains(p[1]), "parts exist before merge " + m);
                available.add(p[0] + p[1]);
            }
            ByteLevelTokenizer tok = ByteLevelTokenizer.build(v);
            for (int id = 256; id < tok.learnedVocabSize(); id++) {
                assertTrue(available.contains(tok.tokens().get(id)), "learned token " + id + " reachable by merges");
            }
        }
    }

    @Test
    void specialTokensFollowTheLearnedOnes() throws Exception {
        ByteLevelTokenizer t = ByteLevelTokenizer.build(512);
        assertEquals(251, t.merges().size(), "the corpus fills a 512 vocabulary with merges");
        assertEquals(507, t.bosId());
        assertEquals(508, t.eosId());
        assertEquals(511, t.eotId());
        assertEquals("<|begin_of_text|>", t.tokens().get(t.bosId()));
        assertEquals("<|end_of_text|>", t.tokens().get(t.eosId()));
        assertEquals("<|eot_id|>", t.tokens().get(t.eotId()));

        ByteLevelTokenizer big = ByteLevelTokenizer.build(128256);
        assertEquals(128256, big.tokens().size());
        assertEquals(256, big.specialCount());
        assertEquals("<|reserved_special_token_0|>", big.tokens().get(big.bosId() + 5));
        assertEquals("<|reserved_special_token_250|>", big.tokens().get(big.bosId() + 255));
        assertEquals("<|reserved_0|>", big.tokens().get(big.bosId() + 256));
        JsonNode added = big.tokenizerJson().get("added_tokens");
        assertEquals(256, added.size());
        assertEquals(big.bosId(), added.get(0).get("id").asInt());

        JsonNode post = t.tokenizerJson().get("post_processor");
        assertEquals("TemplateProcessing", post.get("type").asText());
        assertEquals(507, post.get("special_tokens").get("<|begin_of_text|>").get("ids").get(0).asInt());
    }

    @Test
    void isDeterministicAndPrefixStable() {
        ByteLevelTokenizer a = ByteLevelTokenizer.build(400);
        ByteLevelTokenizer b = ByteLevelTokenizer.build(400);
        assertEquals(Json.compact(a.tokenizerJson()), Json.compact(b.tokenizerJson()));
        ByteLevelTokenizer c = ByteLevelTokenizer.build(512);
        for (int i = 0; i < a.merges().size(); i++) {
            assertEquals(a.merges().get(i)[0] + " " + a.merges().get(i)[1], c.merges().get(i)[0] + " " + c.merges().get(i)[1]);
        }
        assertEquals(a.tokens().subList(0, a.learnedVocabSize()), c.tokens().subList(0, a.learnedVocabSize()));
    }

    @Test
    void encodesAndDecodesTextWithTheMerges() throws Exception {
        JsonNode t = written(512);
        Bpe bpe = new Bpe(t);
        String[] texts = {
            "Once upon a time, the lighthouse keeper's light was 300 kilometres away.",
            "  double  spaces\n\nand a new paragraph\t tab",
            "héllo wörld 日本 🙂 — ünïcödé",
            TrainingCorpus.TEXT,
        };
        for (String s : texts) {
            List<Integer> ids = bpe.encode(s);
            assertEquals(s, bpe.decode(ids), "round trip");
        }
        int bytes = TrainingCorpus.TEXT.getBytes(StandardCharsets.UTF_8).length;
        int tokens = bpe.encode(TrainingCorpus.TEXT).size();
        assertTrue(tokens * 2 < bytes, "merges compress the training text: " + tokens + " tokens for " + bytes + " bytes");
        assertEquals(List.of(bpe.vocab.get("\u0120the")), bpe.encode(" the"));
    }

    @Test
    void preTokenizerMatchesLlama3Splits() {
        // as the real Llama 3 tokenizer splits it: digits take no leading space
        assertEquals(List.of("Hello", ",", " world", "'s", " ", "123", "4", "  ", " x", "\n\n"),
                BpeTrainer.preTokenize("Hello, world's 1234   x\n\n"));
    }

    @Test
    void configHasBosAndChatTemplate() {
        JsonNode c = ByteLevelTokenizer.build(512).tokenizerConfigJson(2048);
        assertTrue(c.get("add_bos_token").asBoolean());
        assertEquals("<|begin_of_text|>", c.get("bos_token").asText());
        assertEquals("<|end_of_text|>", c.get("eos_token").asText());
        assertEquals(2048, c.get("model_max_length").asInt());
        String tpl = c.get("chat_template").asText();
        assertTrue(tpl.contains("<|start_header_id|>") && tpl.contains("<|eot_id|>") && tpl.contains("add_generation_prompt"));
        assertEquals("<|eot_id|>", c.get("added_tokens_decoder").get("511").get("content").asText());
        assertFalse(c.has("legacy"), "Jlama reads 'legacy' and must keep its byte-level mode");
    }

    /** A test-only byte-level BPE: Llama 3 split, byte-level alphabet, merges by rank. */
    static final class Bpe {
        final Map<String, Integer> vocab = new HashMap<>();
        final Map<Integer, String> byId = new HashMap<>();
        final Map<String, Integer> ranks = new HashMap<>();

        Bpe(JsonNode tokenizer) {
            Iterator<Map.Entry<String, JsonNode>> it = tokenizer.get("model").get("vocab").properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                vocab.put(e.getKey(), e.getValue().asInt());
                byId.put(e.getValue().asInt(), e.getKey());
            }
            int r = 0;
            for (JsonNode m : tokenizer.get("model").get("merges")) {
                ranks.putIfAbsent(m.asText(), r++);
            }
        }

        List<Integer> encode(String text) {
            List<Integer> out = new ArrayList<>();
            for (String piece : BpeTrainer.preTokenize(text)) {
                String w = ByteLevel.encode(piece);
                List<String> syms = new ArrayList<>();
                for (int i = 0; i < w.length(); i++) {
                    syms.add(String.valueOf(w.charAt(i)));
                }
                while (true) {
                    int best = -1;
                    int bestRank = Integer.MAX_VALUE;
                    for (int i = 0; i + 1 < syms.size(); i++) {
                        Integer rk = ranks.get(syms.get(i) + " " + syms.get(i + 1));
                        if (rk != null && rk < bestRank) {
                            bestRank = rk;
                            best = i;
                        }
                    }
                    if (best < 0) {
                        break;
                    }
                    syms.set(best, syms.get(best) + syms.get(best + 1));
                    syms.remove(best + 1);
                }
                for (String s : syms) {
                    out.add(vocab.get(s));
                }
            }
            return out;
        }

        String decode(List<Integer> ids) {
            Map<Character, Integer> back = new HashMap<>();
            for (int b = 0; b < 256; b++) {
                back.put(ByteLevel.charOf(b), b);
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (int id : ids) {
                for (char c : byId.get(id).toCharArray()) {
                    bytes.write(back.get(c));
                }
            }
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }
}
