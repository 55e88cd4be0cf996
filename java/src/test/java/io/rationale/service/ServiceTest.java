package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.AttributionRequest;
import io.rationale.api.AttributionResult;
import io.rationale.api.FailingBackend;
import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.attribution.Fixtures;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Logits;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.Target;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** The service over real loopback sockets, on stories260K (and the generated tiny model for chat). */
class ServiceTest extends ServiceFixture {
    static final String[] TEXTS = {
            "Once upon a time there was a little girl named Lily",
            "One day, Tom went to the park with his mom",
            "The cat sat on the mat and looked at the big red ball",
            "She was very happy because it was her birthday",
            "The little bird could not fly",
            "Max and Sue liked to play in the garden every day after lunch",
            "It was a sunny day",
            "The dog ran fast to get the stick that the boy threw"};

    // ------------------------------------------------------------------ concurrency

    @Test
    void concurrentClientsGetTheAnswersOfSequentialCallsAndShareBatches() throws Exception {
        try (Running r = Running.start()) {
            List<JsonNode> sequential = new ArrayList<>();
            for (String t : TEXTS) {
                Http.Answer a = r.http().post("/v1/attributions", AttributionRequest.of(t, "input_x_gradient", "attnlrp"));
                assertEquals(200, a.status(), a.json().toString());
                sequential.add(a.json());
            }
            long[] before = r.api().batchStats();
            List<JsonNode> concurrent = new ArrayList<>();
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<Http.Answer>> fs = new ArrayList<>();
                for (String t : TEXTS) fs.add(ex.submit(() -> r.http().post("/v1/attributions", AttributionRequest.of(t, "input_x_gradient", "attnlrp"))));
                for (Future<Http.Answer> f : fs) {
                    assertEquals(200, f.get().status());
                    concurrent.add(f.get().json());
                }
            }
            long[] after = r.api().batchStats();
            assertTrue(after[1] - before[1] > after[0] - before[0], "some requests shared a batch: " + (after[0] - before[0]) + " batches for 8");
            for (int i = 0; i < TEXTS.length; i++) {
                AttributionResult a = RationaleJson.MAPPER.treeToValue(sequential.get(i), AttributionResult.class);
                AttributionResult b = RationaleJson.MAPPER.treeToValue(concurrent.get(i), AttributionResult.class);
                io.rationale.api.RationaleTestAccess.assertSameAttribution(a, b, Rationale.SCORE_TOLERANCE);
                assertEquals(sequential.get(i).get("tokens"), concurrent.get(i).get("tokens"));
                assertEquals(sequential.get(i).get("target_id"), concurrent.get(i).get("target_id"));
            }
            // many inputs in one request: the same answers, in order
            Http.Answer many = r.http().post("/v1/attributions", "{\"methods\": [\"input_x_gradient\", \"attnlrp\"], \"inputs\": "
                    + RationaleJson.write(List.of(TEXTS)) + "}");
            assertEquals(200, many.status(), many.json().toString());
            assertEquals(TEXTS.length, many.json().get("results").size());
            for (int i = 0; i < TEXTS.length; i++) assertEquals(TEXTS[i], many.json().get("results").get(i).get("text").asText());
        }
    }

    // ------------------------------------------------------------------ OpenAI completions, as lm-evaluation-harness sends them

    @Test
    void completionsWithEchoAndLogprobsAreTheEnginesLogSoftmax() throws Exception {
        try (Running r = Running.start()) {
            int[] ctx = tok.encode("Once upon a time").ids();
            int[] cont = tok.encode(" there was a girl", false, false).ids();
            int[] all = new int[ctx.length + cont.length];
            System.arraycopy(ctx, 0, all, 0, ctx.length);
            System.arraycopy(cont, 0, all, ctx.length, cont.length);
            // local-completions' loglikelihood payload: token-id prompts, one token to generate, echo, logprobs 1
            Map<String, Object> payload = new HashMap<>();
            payload.put("model", "stories260K-hf");
            payload.put("prompt", List.of(all, ctx));
            payload.put("temperature", 0);
            payload.put("max_tokens", 1);
            payload.put("logprobs", 1);
            payload.put("seed", 1234);
            payload.put("echo", true);
            Http.Answer a = r.http().post("/v1/completions", payload);
            assertEquals(200, a.status(), a.json().toString());
            assertEquals("text_completion", a.json().get("object").asText());
            JsonNode choice = a.json().get("choices").get(0);
            assertEquals(0, choice.get("index").asInt());
            assertEquals(1, a.json().get("choices").get(1).get("index").asInt());
            JsonNode lp = choice.get("logprobs");
            assertEquals(all.length + 1, lp.get("token_logprobs").size(), "the prompt echoed plus one new token");
            assertTrue(lp.get("token_logprobs").get(0).isNull());
            assertTrue(lp.get("top_logprobs").get(0).isNull());
            Logits ref = backend.forward(all, null, LogitsMode.ALL);
            double sum = 0, got = 0;
            boolean greedy = true;
            for (int i = 1; i < all.length; i++) {
                double want = new Target.LogProb(all[i]).value(ref.row(0, i - 1));
                double have = lp.get("token_logprobs").get(i).asDouble();
                assertEquals(want, have, 1e-5, "position " + i);
                assertEquals(tok.displayText(all[i]), lp.get("tokens").get(i).asText());
                if (i >= ctx.length) {
                    sum += want;
                    got += have;
                    double top = Double.NEGATIVE_INFINITY;
                    for (JsonNode v : lp.get("top_logprobs").get(i)) top = Math.max(top, v.asDouble());
                    greedy &= have == top;
                    assertEquals(ref.argmax(0, i - 1) == all[i], have == top, "is_greedy at " + i);
                }
                assertTrue(lp.get("top_logprobs").get(i).size() <= 2, "logprobs 1: the top token plus the chosen one");
            }
            // what lm-eval computes from it: sum(token_logprobs[ctxlen:-1])
            assertEquals(sum, got, 1e-4);
            assertEquals("length", choice.get("finish_reason").asText());
            assertEquals(all.length + ctx.length, a.json().get("usage").get("prompt_tokens").asInt());
            assertEquals(2, a.json().get("usage").get("completion_tokens").asInt());

            // text prompts, generation, stop strings
            Http.Answer g = r.http().post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 30, \"temperature\": 0, \"stop\": [\".\"]}");
            assertEquals(200, g.status(), g.json().toString());
            String text = g.json().get("choices").get(0).get("text").asText();
            assertFalse(text.contains("."), text);
            assertEquals("stop", g.json().get("choices").get(0).get("finish_reason").asText());
            assertTrue(g.json().get("choices").get(0).get("logprobs").isNull());
        }
    }

    @Test
    void aCompletionsTextIsWhatItsTokensAddToThePromptsText() throws Exception {
        try (Running r = Running.start()) {
            // greedy both: /v1/generate gives the ids, the text must be the decoded whole less the decoded prompt
            // (transformers' text-generation pipeline), its leading space included: "Once upon a" + " time"
            Http.Answer g = r.http().post("/v1/generate", "{\"text\": \"Once upon a\", \"max_new_tokens\": 6}");
            int[] all = RationaleJson.MAPPER.treeToValue(g.json().get("ids"), int[].class);
            int promptTokens = g.json().get("prompt_tokens").asInt();
            String whole = tok.decode(all, true), prompt = tok.decode(java.util.Arrays.copyOf(all, promptTokens), true);
            String want = whole.substring(prompt.length());
            assertTrue(want.startsWith(" "), "the first new token begins a word: '" + want + "'");
            assertEquals(want, g.json().get("text").asText());
            Http.Answer c = r.http().post("/v1/completions", "{\"prompt\": \"Once upon a\", \"max_tokens\": 6, \"temperature\": 0}");
            assertEquals(want, c.json().get("choices").get(0).get("text").asText());
            Http.Answer e = r.http().post("/v1/completions", "{\"prompt\": \"Once upon a\", \"max_tokens\": 6, \"temperature\": 0, \"echo\": true}");
            assertEquals("Once upon a" + want, e.json().get("choices").get(0).get("text").asText());
        }
    }

    @Test
    void nChoicesArePromptMajorAndChoiceJSamplesWithTheSeedPlusJ() throws Exception {
        try (Running r = Running.start()) {
            Http.Answer a = r.http().post("/v1/completions", "{\"prompt\": [\"Once upon a time\", \"The dog\"], \"n\": 3, \"max_tokens\": 10,"
                    + " \"temperature\": 1.0, \"seed\": 40}");
            assertEquals(200, a.status(), a.json().toString());
            JsonNode choices = a.json().get("choices");
            assertEquals(6, choices.size());
            java.util.Set<String> texts = new java.util.HashSet<>();
            int completion = 0;
            for (int k = 0; k < 6; k++) {
                JsonNode c = choices.get(k);
                assertEquals(k, c.get("index").asInt());
                String prompt = k < 3 ? "Once upon a time" : "The dog";
                Http.Answer one = r.http().post("/v1/completions", "{\"prompt\": \"" + prompt + "\", \"max_tokens\": 10, \"temperature\": 1.0, \"seed\": "
                        + (40 + k % 3) + "}");
                assertEquals(one.json().get("choices").get(0).get("text"), c.get("text"), "choice " + k);
                completion += one.json().get("usage").get("completion_tokens").asInt();
                texts.add(c.get("text").asText());
            }
            assertTrue(texts.size() >= 4, "sampled choices differ: " + texts);
            int promptTokens = tok.encode("Once upon a time").ids().length + tok.encode("The dog").ids().length;
            assertEquals(promptTokens, a.json().get("usage").get("prompt_tokens").asInt(), "each prompt counts once");
            assertEquals(completion, a.json().get("usage").get("completion_tokens").asInt());
            Http.Answer bad = r.http().post("/v1/completions", "{\"prompt\": \"Once\", \"n\": 0}");
            assertEquals(400, bad.status());
            assertEquals("n must be in [1, 64], got 0", bad.error());
        }
    }

    @Test
    void whatOpenAiClientsSendAndReadIsHonoured() throws Exception {
        try (Running r = Running.start()) {
            Http h = r.http();
            // lm-eval's local-completions sends a task's stop sequences plus the EOS text uncut: five here
            Http.Answer stops = h.post("/v1/completions", "{\"prompt\": [[1, 403, 407, 261]], \"max_tokens\": 32, \"temperature\": 0, \"seed\": 1234,"
                    + " \"stop\": [\"\\n\\n\", \"Question:\", \"</s>\", \"<|im_end|>\", \".\"]}");
            assertEquals(200, stops.status(), stops.json().toString());
            assertFalse(stops.json().get("choices").get(0).get("text").asText().contains("."));
            // an empty prompt is a document's start: BOS alone
            Http.Answer empty = h.post("/v1/completions", "{\"prompt\": \"\", \"max_tokens\": 4, \"temperature\": 0}");
            assertEquals(200, empty.status(), empty.json().toString());
            assertEquals(1, empty.json().get("usage").get("prompt_tokens").asInt());
            // numbers must be numbers of the field's kind, as OpenAI checks them; a field too large is named
            Http.Answer string = h.post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": \"5\"}");
            assertEquals(400, string.status());
            assertEquals("field 'max_tokens' must be an integer, got \"5\"", string.error());
            assertEquals("max_tokens", string.json().get("error").get("param").asText(), "param names the field, as OpenAI's errors do");
            assertEquals("n", h.post("/v1/completions", "{\"prompt\": \"x\", \"n\": 0}").json().get("error").get("param").asText());
            assertTrue(h.post("/v1/completions", "{\"prompt\": \"x\", \"seed\": 1, \"max_tokens\": 1}").json().path("error").isMissingNode());
            assertEquals(400, h.post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 5.5}").status());
            Http.Answer seed = h.post("/v1/completions", "{\"prompt\": \"x\", \"seed\": 18446744073709551615}");
            assertEquals(400, seed.status());
            assertTrue(seed.error().startsWith("field 'seed': Numeric value (18446744073709551615) out of range of long"), seed.error());
            assertFalse(seed.error().contains("line -1"), seed.error());
            // without a seed, sampled requests sample afresh (OpenAI's behaviour); with one, they repeat
            java.util.Set<String> unseeded = new java.util.HashSet<>(), seeded = new java.util.HashSet<>();
            for (int i = 0; i < 5; i++) {
                unseeded.add(h.post("/v1/completions", "{\"prompt\": \"The\", \"max_tokens\": 30, \"temperature\": 1.0}")
                        .json().get("choices").get(0).get("text").asText());
                seeded.add(h.post("/v1/completions", "{\"prompt\": \"The\", \"max_tokens\": 30, \"temperature\": 1.0, \"seed\": 9}")
                        .json().get("choices").get(0).get("text").asText());
            }
            assertTrue(unseeded.size() >= 2, "unseeded samples differ: " + unseeded);
            assertEquals(1, seeded.size(), "a seed repeats: " + seeded);
            // text_offset: where each token begins in text (OpenAI: text[text_offset[i]:] starts with token i)
            for (boolean echo : new boolean[]{true, false}) {
                Http.Answer a = h.post("/v1/completions", "{\"prompt\": \"Once upon a\", \"max_tokens\": 6, \"temperature\": 0, \"logprobs\": 0, \"echo\": " + echo + "}");
                JsonNode c = a.json().get("choices").get(0);
                String text = c.get("text").asText();
                JsonNode tokens = c.get("logprobs").get("tokens"), offsets = c.get("logprobs").get("text_offset");
                int last = 0;
                for (int i = 0; i < tokens.size(); i++) {
                    String t = tokens.get(i).asText();
                    int off = offsets.get(i).asInt();
                    assertTrue(off >= last && off <= text.length(), "offsets climb within the text: " + offsets);
                    last = off;
                    if (t.equals("<s>")) continue;                        // a special token has no text
                    boolean at = text.startsWith(t, off) || off == 0 && echo && text.startsWith(t.stripLeading(), 0);  // a text's first word has no space
                    assertTrue(at, "echo " + echo + ": token " + i + " '" + t + "' at " + off + " of '" + text + "'");
                }
            }
            // HTTP/1.0 keep-alive is answered as such, and the connection takes the next request
            String two = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /health HTTP/1.0\r\n\r\n";
            String raw = Http.raw(r.server().uri(), two.getBytes(StandardCharsets.US_ASCII));
            int second = raw.indexOf("HTTP/1.1 200", 1);
            assertTrue(raw.substring(0, second).contains("Connection: keep-alive\r\n"), raw);
            assertTrue(second > 0 && raw.substring(second).contains("Connection: close\r\n"), raw);
        }
    }

    @Test
    void nativeEndpointsCheckTypesAndTargetIsArgmaxMeansTheSameForEveryMethod() throws Exception {
        try (Running r = Running.start()) {
            Http h = r.http();
            String text = "Once upon a time there was a little girl";
            int argmax = backend.forward(tok.encode(text).ids(), null, LogitsMode.LAST).argmax(0, 0);
            for (String method : List.of("saliency", "attnlrp", "occlusion", "integrated_gradients")) {
                for (int target : new int[]{argmax, (argmax + 1) % 512}) {
                    Http.Answer a = h.post("/v1/attributions", "{\"text\": \"" + text + "\", \"methods\": \"" + method + "\", \"target_id\": " + target
                            + ", \"steps\": 4}");
                    assertEquals(200, a.status(), a.json().toString());
                    assertEquals(target == argmax, a.json().get("target_is_argmax").asBoolean(), method + ", target " + target + " (argmax " + argmax + ")");
                }
            }
            for (String[] x : new String[][]{
                    {"/v1/generate", "{\"text\": \"Once\", \"seed\": \"abc\"}", "field 'seed' must be an integer, got \"abc\""},
                    {"/v1/generate", "{\"text\": \"Once\", \"seed\": 7.9}", "field 'seed' must be an integer, got 7.9"},
                    {"/v1/logits", "{\"text\": \"hi\", \"chat\": \"yes\"}", "field 'chat' must be true or false, got \"yes\""},
                    {"/v1/logits", "{\"text\": \"hi\", \"system\": \"Be brief.\"}", "system needs chat: true (a system message goes into the chat template)"},
                    {"/v1/attributions", "{\"text\": 5, \"methods\": \"saliency\"}", "field 'text' must be a string, got 5"},
                    {"/v1/attributions", "{\"text\": \"hi\", \"methods\": \"saliency\", \"steps\": 8.5}", "field 'steps' must be an integer, got 8.5"},
                    {"/v1/attributions", "{\"text\": \"Once\", \"inputs\": [\"The cat\"], \"methods\": \"saliency\"}",
                            "with inputs, each input gives its text (a top-level text would be ignored)"},
                    {"/v1/flip-evaluation", "{\"labels\": \"yes\", \"fields\": [{\"name\": \"a\", \"text\": \"x y\"}], \"methods\": [\"saliency\"]}",
                            "labels: a label set needs at least two labels (masking a rationale can flip one label to another), got [yes]"}}) {
                Http.Answer a = h.post(x[0], x[1]);
                assertEquals(400, a.status(), x[1]);
                assertEquals(x[2], a.error(), x[1]);
                if (x[2].startsWith("field '"))
                    assertEquals(x[2].substring(7, x[2].indexOf('\'', 7)), a.json().get("error").get("param").asText(), "param of " + x[1]);
            }
            Http.Answer malformed = h.post("/v1/attributions", "{\"text\": \"hi\", \"methods\": [\"saliency\"}");
            assertFalse(malformed.error().contains("Source:") || malformed.error().contains("REDACTED"), malformed.error());
        }
    }

    @Test
    void tokenizerEndpointsAndModels() throws Exception {
        try (Running r = Running.start()) {
            Http.Answer t = r.http().post("/tokenize", "{\"prompt\": \"Once upon a time\", \"add_special_tokens\": false}");
            assertEquals(200, t.status());
            int[] ids = tok.encode("Once upon a time", false, false).ids();
            assertEquals(RationaleJson.MAPPER.valueToTree(ids), t.json().get("tokens"));
            assertEquals(512, t.json().get("max_model_len").asInt());
            Http.Answer d = r.http().post("/detokenize", "{\"tokens\": " + t.json().get("tokens") + "}");
            assertEquals("Once upon a time", d.json().get("prompt").asText());
            Http.Answer info = r.http().get("/tokenizer_info");
            assertEquals("</s>", info.json().get("eos_token").asText());
            assertEquals("<s>", info.json().get("bos_token").asText());
            Http.Answer m = r.http().get("/v1/models");
            assertEquals("stories260K-hf", m.json().get("data").get(0).get("id").asText());
            Http.Answer wrongModel = r.http().post("/v1/completions", "{\"model\": \"gpt-4\", \"prompt\": \"Hi\"}");
            assertEquals(404, wrongModel.status());
            assertEquals("model 'gpt-4' is not served here (this server serves 'stories260K-hf')", wrongModel.error());
            Http.Answer noChat = r.http().post("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
            assertEquals(400, noChat.status());
            assertTrue(noChat.error().startsWith("this model's tokenizer has no chat template"), noChat.error());
        }
    }

    /** /tokenizer_info's pad_token is tokenizer_config.json's (as vLLM answers), not always null. */
    @Test
    void tokenizerInfoReportsThePadToken(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        try (var files = java.nio.file.Files.list(Fixtures.tiny())) {
            for (Path f : files.toList()) java.nio.file.Files.copy(f, dir.resolve(f.getFileName().toString()));
        }
        Path config = dir.resolve("tokenizer_config.json");
        com.fasterxml.jackson.databind.node.ObjectNode c = (com.fasterxml.jackson.databind.node.ObjectNode) RationaleJson.MAPPER.readTree(config.toFile());
        String eos = c.get("eos_token").asText();
        c.put("pad_token", eos);
        RationaleJson.MAPPER.writeValue(config.toFile(), c);
        try (Rationale api = Rationale.open(dir, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            JsonNode info = new Http(s.uri(), null).get("/tokenizer_info").json();
            assertEquals(eos, info.get("pad_token").asText());
            assertEquals(eos, info.get("eos_token").asText());
        }
        try (Rationale api = Rationale.open(Fixtures.tiny(), Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            assertTrue(new Http(s.uri(), null).get("/tokenizer_info").json().get("pad_token").isNull(), "no pad_token: null");
        }
    }

    @Test
    void chatCompletionsGoThroughTheChatTemplate() throws Exception {
        Path tiny = Fixtures.tiny();
        try (Rationale api = Rationale.open(tiny, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1).withModelName("tiny"));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            Http http = new Http(s.uri(), null);
            Http.Answer a = http.post("/v1/chat/completions", "{\"model\": \"tiny\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                    + " {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Why is the sky blue?\"}]}], \"max_tokens\": 6,"
                    + " \"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 3}");
            assertEquals(200, a.status(), a.json().toString());
            JsonNode c = a.json().get("choices").get(0);
            assertEquals("assistant", c.get("message").get("role").asText());
            assertEquals("chat.completion", a.json().get("object").asText());
            int[] prompt = api.tokenizer().encodeChat(List.of(io.rationale.tokenizer.ChatMessage.system("Be brief."),
                    io.rationale.tokenizer.ChatMessage.user("Why is the sky blue?")), true).ids();
            assertEquals(prompt.length, a.json().get("usage").get("prompt_tokens").asInt());
            JsonNode content = c.get("logprobs").get("content");
            assertEquals(a.json().get("usage").get("completion_tokens").asInt(), content.size());
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            for (JsonNode t : content) {
                assertEquals(3, t.get("top_logprobs").size());
                assertEquals(t.get("top_logprobs").get(0).get("logprob").asDouble(), t.get("logprob").asDouble(), 0, "greedy picks the top token");
                for (JsonNode b : t.get("bytes")) bytes.write(b.asInt());
            }
            // bytes are each token's raw bytes: together the answer's UTF-8 (a character split over tokens included)
            String content8 = c.get("message").get("content").asText();
            if (!content8.contains("\uFFFD")) assertEquals(content8, bytes.toString(StandardCharsets.UTF_8));
            // parameters that would change the answer and are not implemented are refused, as on /v1/completions
            String msgs = "\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 3";
            for (String[] x : new String[][]{{"\"frequency_penalty\": 2", "frequency_penalty is not supported (only 0)"},
                    {"\"presence_penalty\": 1", "presence_penalty is not supported (only 0)"},
                    {"\"logit_bias\": {\"105\": -100}", "logit_bias is not supported"},
                    {"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]", "tools (function calling) are not supported"},
                    {"\"tool_choice\": \"required\"", "tool_choice \"required\" is not supported (no tools)"},
                    {"\"response_format\": {\"type\": \"json_object\"}", "response_format {\"type\":\"json_object\"} is not supported (only {\"type\": \"text\"})"},
                    // vLLM's sampling extensions (lm-eval passes gen_kwargs through): refused, not silently left out
                    {"\"top_k\": 40", "top_k is not supported (only -1 or 0 or absent), got 40"},
                    {"\"min_p\": 0.05", "min_p is not supported (only 0 or absent), got 0.05"},
                    {"\"repetition_penalty\": 1.1", "repetition_penalty is not supported (only 1 or absent), got 1.1"},
                    {"\"min_tokens\": 2", "min_tokens is not supported (only 0 or absent), got 2"},
                    {"\"top_k\": \"40\"", "top_k is not supported (only -1 or 0 or absent), got \"40\""}}) {
                Http.Answer no = http.post("/v1/chat/completions", "{" + msgs + ", " + x[0] + "}");
                assertEquals(400, no.status(), x[0]);
                assertEquals(x[1], no.error());
            }
            assertEquals(200, http.post("/v1/chat/completions", "{" + msgs + ", \"frequency_penalty\": 0, \"tool_choice\": \"none\","
                    + " \"response_format\": {\"type\": \"text\"}, \"logit_bias\": {}, \"tools\": [], \"top_k\": -1, \"min_p\": 0,"
                    + " \"repetition_penalty\": 1.0, \"min_tokens\": 0}").status());
            Http.Answer topK = http.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2, \"top_k\": 5}");
            assertEquals(400, topK.status());
            assertEquals("top_k", topK.json().get("error").get("param").asText());
            assertEquals(200, http.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2, \"top_k\": 0}").status());
            // /tokenize of messages: with or without the assistant's header (vLLM's add_generation_prompt)
            String tm = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": ";
            int with = http.post("/tokenize", tm + "true}").json().get("count").asInt(), without = http.post("/tokenize", tm + "false}").json().get("count").asInt();
            assertTrue(without < with, without + " < " + with);
        }
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void badRequestsGetA4xxWithAClearMessageAndTheServerKeepsServing() throws Exception {
        HttpServer.Limits small = new HttpServer.Limits(4096, 2000, Duration.ofSeconds(60), Duration.ofSeconds(10), 64);
        try (Running r = Running.start(backend, Rationale.Config.defaults(), Server.Config.loopback(0).withLimits(small))) {
            Http h = r.http();
            Http.Answer bad = h.post("/v1/attributions", "{\"text\": \"Once upon\", ");
            assertEquals(400, bad.status());
            assertEquals("malformed JSON: Unexpected end-of-input within/between Object entries at line 1, column 23", bad.error());
            assertEquals("invalid_request_error", bad.json().get("error").get("type").asText());
            Http.Answer unknown = h.post("/v1/attributions", "{\"text\": \"Once upon\", \"methods\": \"salience\"}");
            assertEquals(400, unknown.status());
            assertTrue(unknown.error().startsWith("unknown method 'salience' (valid: saliency, input_x_gradient,"), unknown.error());
            Http.Answer field = h.post("/v1/attributions", "{\"txt\": \"Once upon\", \"methods\": \"saliency\"}");
            assertEquals(400, field.status());
            assertTrue(field.error().startsWith("unknown field 'txt' (known: aggregate, baseline_token,"), field.error());
            Http.Answer type = h.post("/v1/attributions", "{\"text\": \"Once\", \"methods\": \"saliency\", \"steps\": \"many\"}");
            assertEquals(400, type.status());
            assertEquals("field 'steps' must be an integer, got \"many\"", type.error());
            Http.Answer path = h.get("/v2/things");
            assertEquals(404, path.status());
            Http.Answer method = h.get("/v1/attributions");
            assertEquals(405, method.status());
            assertEquals("POST", method.raw().headers().firstValue("Allow").orElse(""));
            Http.Answer noBody = h.post("/v1/attributions", "");
            assertEquals(400, noBody.status());
            assertEquals("the request has no body (a JSON object is expected)", noBody.error());

            // longer than the model's context
            String longText = "Once upon a time ".repeat(200);
            Http.Answer tooLong = h.post("/v1/logits", Map.of("text", longText));
            assertEquals(413, tooLong.status(), "a 3.4 kB body is over this server's limit");
            assertTrue(tooLong.error().startsWith("request body of "), tooLong.error());

            // a raw oversized body: 413 and the connection is closed, the server serves the next one
            String raw = Http.raw(r.server().uri(), ("POST /v1/logits HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertTrue(raw.startsWith("HTTP/1.1 413 Content Too Large\r\n"), raw);
            assertTrue(raw.contains("request body of 5000 bytes exceeds the limit of 2000 bytes"), raw);
            String garbage = Http.raw(r.server().uri(), "HELLO\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(garbage.startsWith("HTTP/1.1 400 Bad Request\r\n"), garbage);
            assertEquals(200, h.post("/v1/logits", "{\"text\": \"Once upon a time\"}").status());
        }
        try (Running r = Running.start()) {
            Http.Answer tooLong = r.http().post("/v1/logits", Map.of("text", "Once upon a time ".repeat(200)));
            assertEquals(400, tooLong.status());
            assertEquals("the input of 802 tokens exceeds the limit of 512 tokens (the model's context)", tooLong.error());
            Http.Answer gen = r.http().post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 600}");
            assertEquals(400, gen.status());
            assertEquals("5 input tokens plus 600 to generate exceed the limit of 512 tokens (the model's context)", gen.error());
            assertEquals(200, r.http().post("/v1/logits", "{\"ids\": [1, 403]}").status());
        }
    }

    @Test
    void anEngineFailureIsA500AndTheModelStaysUsable() throws Exception {
        FailingBackend failing = new FailingBackend(backend);
        failing.poison = 499;
        try (Running r = Running.start(failing, Rationale.Config.defaults(), Server.Config.loopback(0))) {
            Http.Answer a = r.http().post("/v1/logits", "{\"ids\": [1, 403, 499]}");
            assertEquals(500, a.status());
            assertEquals("engine failure: injected failure on token 499", a.error());
            assertEquals("engine_error", a.json().get("error").get("type").asText());
            Http.Answer ok = r.http().post("/v1/logits", "{\"ids\": [1, 403, 407]}");
            assertEquals(200, ok.status());
            float[] want = backend.forward(new int[]{1, 403, 407}, null, LogitsMode.LAST).last(0);
            for (int i = 0; i < want.length; i++) assertEquals(want[i], ok.json().get("logits_last").get(i).floatValue(), 1e-5);
        }
    }

    @Test
    void aFullQueueIsA503WithRetryAfter() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 20;
        try (Running r = Running.start(slow, Rationale.Config.defaults().withMaxConcurrent(1).withMaxQueue(0), Server.Config.loopback(0))) {
            try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                Future<Http.Answer> busy = ex.submit(() -> r.http().post("/v1/generate", "{\"text\": \"Once\", \"max_new_tokens\": 40}"));
                while (r.api().load()[1] == 0) Thread.sleep(2);
                Http.Answer refused = r.http().post("/v1/logits", "{\"text\": \"Once\"}");
                assertEquals(503, refused.status());
                assertEquals("1", refused.raw().headers().firstValue("Retry-After").orElse(""));
                assertEquals("server busy: 0 requests are waiting (the queue holds 0); try again later", refused.error());
                assertEquals(200, busy.get().status());
            }
        }
    }

    // ------------------------------------------------------------------ disconnects, auth, shutdown

    @Test
    void aClientThatDisconnectsFreesItsWork() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        try (Running r = Running.start(slow, Rationale.Config.defaults(), Server.Config.loopback(0))) {
            // closed mid-request: about 4 s of generation were left
            int passes = disconnectMidRequest(r, slow, "/v1/generate", "{\"text\": \"Once upon a time\", \"max_new_tokens\": 400}",
                    () -> r.api().load()[1] > 0, "the generation");
            assertTrue(passes < 200, "freed early: " + passes + " of 400 steps ran");
            assertEquals(200, r.http().post("/v1/logits", "{\"text\": \"Once\"}").status());
        }
    }

    /**
     * Sends {@code body} to {@code path} on a socket of its own, closes the socket once {@code started}, then requires
     * the engine's work for it to end within 2 s and no pass to run for it afterwards; returns the passes that ran.
     */
    static int disconnectMidRequest(Running r, FailingBackend slow, String path, String body, java.util.function.BooleanSupplier started,
                                    String what) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), r.server().port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            long t0 = System.nanoTime();
            while (!started.getAsBoolean()) {
                assertTrue(System.nanoTime() - t0 < 10_000_000_000L, what + " starts");
                Thread.sleep(2);
            }
        }
        long t0 = System.nanoTime();
        while (r.api().load()[1] > 0) {
            assertTrue(System.nanoTime() - t0 < 2_000_000_000L, what + " stops within 2 s of the disconnect");
            Thread.sleep(5);
        }
        int passes = slow.forwards.get();
        Thread.sleep(100);
        assertEquals(passes, slow.forwards.get(), "no pass runs for it afterwards");
        return passes;
    }

    /**
     * One integrated gradients request is one job of many passes (its steps in batches, here of one or two steps each
     * under a small memory budget): a client that disconnects stops it at its next batch, not after all of them.
     */
    /** The same through /v1/flip-evaluation, whose integrated gradients run on eval's own attributor. */
    @Test
    void aFlipEvaluationWhoseClientLeavesStopsItsIntegratedGradients() throws Exception {
        int steps = 1024;
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        slow.memoryBudget = 2 * backend.bytesPerRecordedSequence(400, false);   // a few steps a batch for a prompt of a few hundred tokens
        int full = 2 + steps / 8;
        try (Running r = Running.start(slow, Rationale.Config.defaults(), Server.Config.loopback(0))) {
            String body = "{\"labels\": [\"yes\", \"no\"], \"fields\": [{\"name\": \"text\", \"text\": \"" + TEXTS[0] + "\"}],"
                    + " \"methods\": [\"integrated_gradients\"], \"ig_steps\": " + steps + "}";
            int passes = disconnectMidRequest(r, slow, "/v1/flip-evaluation", body, () -> r.api().load()[1] > 0 && slow.forwards.get() >= 8,
                    "the flip evaluation");
            assertTrue(passes < full / 2, "freed early: " + passes + " of at least " + full + " passes ran");
            assertEquals(200, r.http().post("/v1/logits", "{\"text\": \"Once\"}").status());
        }
    }

    /** A prompting method's generation inside /v1/flip-evaluation stops at its next token when the client leaves. */
    @Test
    void aFlipEvaluationWhoseClientLeavesStopsItsPromptingGeneration() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        String body = "{\"labels\": [\"yes\", \"no\"], \"fields\": [{\"name\": \"text\", \"text\": \"" + TEXTS[0] + "\"}],"
                + " \"methods\": [\"prompt_unbound\"]}";
        try (Running r = Running.start(slow, Rationale.Config.defaults(), Server.Config.loopback(0))) {
            assertEquals(200, r.http().post("/v1/flip-evaluation", body).status());
            int full = slow.forwards.get();                 // the whole request: classification, generation, masking
            assertTrue(full >= 20, "a generation of many steps to cut short: " + full + " passes");
            slow.forwards.set(0);
            slow.delayMillis = 150;                         // what is left after the disconnect: over 2 s without the check
            int passes = disconnectMidRequest(r, slow, "/v1/flip-evaluation", body, () -> r.api().load()[1] > 0 && slow.forwards.get() >= 4,
                    "the flip evaluation");
            assertTrue(passes < full / 2, "freed early: " + passes + " of " + full + " passes ran");
        }
    }

    @Test
    void aClientThatDisconnectsStopsItsIntegratedGradientsAtTheNextBatch() throws Exception {
        String text = TEXTS[0] + " " + TEXTS[1] + " " + TEXTS[2];
        int steps = 1024;
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        slow.memoryBudget = 2 * backend.bytesPerRecordedSequence(io.rationale.attribution.AttributionInput.of(tok.encode(text)).size(), false);   // 1 or 2 steps a batch
        int full = 2 + steps / 2;          // at least: the input's forward, the baseline's, then the batches
        try (Running r = Running.start(slow, Rationale.Config.defaults(), Server.Config.loopback(0))) {
            // closed a few batches in: over 5 s of batches were left
            String body = "{\"text\": \"" + text + "\", \"methods\": \"integrated_gradients\", \"steps\": " + steps + "}";
            int passes = disconnectMidRequest(r, slow, "/v1/attributions", body, () -> r.api().load()[1] > 0 && slow.forwards.get() >= 6,
                    "the attribution");
            assertTrue(passes < full / 4, "freed early: " + passes + " of at least " + full + " passes ran");
            JsonNode health = r.http().get("/health").json();
            assertEquals(0, health.get("working").asInt(), health.toString());
            long t0 = System.nanoTime();
            assertEquals(200, r.http().post("/v1/logits", "{\"text\": \"Once\"}").status());
            assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "the engine is free for the next request");
        }
    }

    @Test
    void aTokenIsRequiredWhenConfiguredAndOffLoopback() throws Exception {
        Server.Config withToken = Server.Config.loopback(0).withToken("s3cret-token");
        try (Running r = Running.start(backend, Rationale.Config.defaults(), withToken)) {
            Http none = new Http(r.server().uri(), null), wrong = new Http(r.server().uri(), "s3cret-tokeN");
            for (Http h : List.of(none, wrong)) {
                Http.Answer a = h.post("/v1/logits", "{\"text\": \"Once\"}");
                assertEquals(401, a.status());
                assertEquals("Bearer", a.raw().headers().firstValue("WWW-Authenticate").orElse(""));
                assertEquals("authentication_error", a.json().get("error").get("type").asText());
                assertEquals(401, h.get("/health").status());
            }
            assertEquals(200, r.http().post("/v1/logits", "{\"text\": \"Once\"}").status());
        }
        try (Rationale api = Rationale.of(backend, tok, Rationale.Config.defaults())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Server.start(api, Server.Config.loopback(0).withHost(InetAddress.getByName("0.0.0.0"))));
            assertTrue(e.getMessage().startsWith("0.0.0.0 is not a loopback address: binding it needs a bearer token"), e.getMessage());
        }
    }

    @Test
    void shutdownAnswersTheRequestsInFlightAndThenRefusesConnections() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 5;
        Running r = Running.start(slow, Rationale.Config.defaults(), Server.Config.loopback(0));
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Http.Answer>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int n = 60 + 20 * i;
                fs.add(ex.submit(() -> r.http().post("/v1/generate", "{\"text\": \"Once upon a time\", \"max_new_tokens\": " + n + "}")));
            }
            long t0 = System.nanoTime();
            while (r.api().load()[1] < 3 && System.nanoTime() - t0 < 10_000_000_000L) Thread.sleep(2);
            assertTrue(r.server().shutdown(Duration.ofSeconds(30)), "every request in flight was answered in the grace period");
            for (int i = 0; i < 3; i++) {
                Http.Answer a = fs.get(i).get();
                assertEquals(200, a.status());
                assertEquals(60 + 20 * i, a.json().get("new_tokens").asInt(), "complete, not cut off");
                assertEquals("close", a.raw().headers().firstValue("Connection").orElse(""));
            }
            assertThrows(ConnectException.class, () -> new Socket(InetAddress.getLoopbackAddress(), r.server().port()).close());
        } finally {
            r.api().close();
        }
    }

    // ------------------------------------------------------------------ JSON lines

    @Test
    void jsonLinesOverStdinAndStdoutGiveTheSameBodies() throws Exception {
        try (Running r = Running.start()) {
            String lines = "{\"id\": 1, \"path\": \"/v1/attributions\", \"body\": {\"text\": \"" + TEXTS[0] + "\", \"methods\": \"random\"}}\n"
                    + "{\"id\": \"b\", \"path\": \"/health\"}\n"
                    + "not json\n"
                    + "{\"id\": 3, \"path\": \"/v1/logits\", \"body\": {\"text\": \"Once\", \"bogus\": 1}}\n";
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int n = StdioServer.run(r.server().service(), new ByteArrayInputStream(lines.getBytes(StandardCharsets.UTF_8)),
                    new PrintStream(out, true, StandardCharsets.UTF_8), 1 << 20);
            assertEquals(4, n);
            Map<String, JsonNode> byId = new HashMap<>();
            for (String l : out.toString(StandardCharsets.UTF_8).strip().split("\n")) {
                JsonNode j = RationaleJson.MAPPER.readTree(l);
                byId.put(j.get("id").asText(), j);
            }
            assertEquals(4, byId.size());
            assertEquals(200, byId.get("1").get("status").asInt());
            Http.Answer http = r.http().post("/v1/attributions", "{\"text\": \"" + TEXTS[0] + "\", \"methods\": \"random\"}");
            JsonNode viaHttp = http.json(), viaLines = byId.get("1").get("body");
            ((com.fasterxml.jackson.databind.node.ObjectNode) viaHttp).remove("seconds");
            ((com.fasterxml.jackson.databind.node.ObjectNode) viaLines).remove("seconds");
            assertEquals(viaHttp, viaLines);
            assertEquals("ok", byId.get("b").get("body").get("status").asText());
            assertEquals(400, byId.get("null").get("status").asInt());
            assertTrue(byId.get("null").get("body").get("error").get("message").asText().startsWith("malformed JSON line"));
            assertEquals(400, byId.get("3").get("status").asInt());
            assertEquals("unknown field 'bogus' for /v1/logits (known: text, ids, messages, chat, system)",
                    byId.get("3").get("body").get("error").get("message").asText());
        }
    }
}
