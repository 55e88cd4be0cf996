package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.api.Completion;
import io.rationale.api.FailingBackend;
import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.attribution.Fixtures;
import io.rationale.engine.Backend;
import io.rationale.engine.Backends;
import io.rationale.engine.Device;
import io.rationale.engine.Model;
import io.rationale.engine.SamplingParams;
import io.rationale.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Streamed completions ({@code "stream": true}): over real loopback sockets, the events' texts and log-probabilities
 * add up to the unstreamed answer; the first events arrive while the generation still runs; a failure mid-stream is
 * an error event; a client that disconnects mid-stream frees its work; JSON lines carry the same events.
 */
class StreamingTest extends ServiceFixture {

    /** A streamed answer: its status, headers and the data of its server-sent events ({@code [DONE]} included). */
    record Stream(int status, HttpResponse<?> raw, List<String> data) {
        List<JsonNode> events() throws Exception {
            List<JsonNode> out = new ArrayList<>();
            for (String d : data) if (!d.equals("[DONE]")) out.add(RationaleJson.MAPPER.readTree(d));
            return out;
        }
    }

    /** POSTs {@code json} and reads the answer's lines as they come, calling {@code onData} for each event's data. */
    static Stream stream(Http http, String path, String json, Consumer<String> onData) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(http.base().resolve(path)).timeout(Duration.ofSeconds(120))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json").build();
        HttpResponse<java.util.stream.Stream<String>> resp = Http.CLIENT.send(req, HttpResponse.BodyHandlers.ofLines());
        List<String> data = new ArrayList<>();
        Iterator<String> lines = resp.body().iterator();
        while (lines.hasNext()) {
            String l = lines.next();
            if (l.isEmpty()) continue;
            assertTrue(l.startsWith("data: "), "an event line: " + l);
            String d = l.substring(6);
            data.add(d);
            onData.accept(d);
        }
        return new Stream(resp.statusCode(), resp, data);
    }

    static Stream stream(Http http, String path, String json) throws Exception { return stream(http, path, json, d -> { }); }

    static String with(String json, String field, Object value) throws Exception {
        ObjectNode o = (ObjectNode) RationaleJson.MAPPER.readTree(json);
        o.set(field, RationaleJson.MAPPER.valueToTree(value));
        return RationaleJson.write(o);
    }

    // ------------------------------------------------------------------ completions

    @Test
    void streamedCompletionsAddUpToTheUnstreamedAnswer() throws Exception {
        try (Running r = Running.start(backend)) {
            // a stop string of several tokens that the greedy text reaches: its first pieces are held back until it
            // is complete, then cut with it
            String greedy = r.http().post("/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 60, \"temperature\": 0}")
                    .json().get("choices").get(0).get("text").asText();
            String stop = null;
            for (String w : greedy.substring(greedy.length() / 3).split("[^A-Za-z]+"))
                if (w.length() >= 4 && tok.encode(w, false, false).ids().length >= 2 && (stop == null || w.length() > stop.length())) stop = w;
            assertNotNull(stop, greedy);
            String[] requests = {
                    // greedy, cut by a stop string of several tokens (a one-character one that does not occur beside it)
                    "{\"prompt\": \"Once upon a time\", \"max_tokens\": 60, \"temperature\": 0, \"stop\": [\"" + stop + "\", \"#\"]}",
                    // sampled, to the token budget
                    "{\"prompt\": \"One day\", \"max_tokens\": 40, \"temperature\": 0.9, \"top_p\": 0.95, \"seed\": 7}",
                    // several prompts (text and ids), echo with log-probabilities: lm-eval's payload, streamed
                    "{\"prompt\": [\"The cat sat\", [1, 403, 407, 261]], \"max_tokens\": 5, \"temperature\": 0, \"logprobs\": 2, \"echo\": true}",
                    // echo without log-probabilities
                    "{\"prompt\": \"Lily was\", \"max_tokens\": 8, \"temperature\": 0, \"echo\": true}",
                    // three sampled choices for each of two prompts
                    "{\"prompt\": [\"Tom\", \"Sue\"], \"n\": 3, \"max_tokens\": 12, \"temperature\": 1.0, \"seed\": 2}"};
            for (String q : requests) {
                Http.Answer whole = r.http().post("/v1/completions", q);
                assertEquals(200, whole.status(), whole.json().toString());
                Stream s = stream(r.http(), "/v1/completions", with(with(q, "stream", true), "stream_options", java.util.Map.of("include_usage", true)));
                assertEquals(200, s.status());
                assertEquals("text/event-stream", s.raw().headers().firstValue("Content-Type").orElse(""));
                assertEquals("[DONE]", s.data().getLast(), "the stream ends with [DONE]");
                List<JsonNode> events = s.events();
                JsonNode usage = events.getLast();
                assertEquals(0, usage.get("choices").size(), "the usage chunk has no choices");
                assertEquals(whole.json().get("usage"), usage.get("usage"), q);
                int choices = whole.json().get("choices").size();
                for (int i = 0; i < choices; i++) {
                    JsonNode want = whole.json().get("choices").get(i);
                    StringBuilder text = new StringBuilder();
                    ArrayNode tokens = RationaleJson.MAPPER.createArrayNode(), lps = RationaleJson.MAPPER.createArrayNode(),
                            tops = RationaleJson.MAPPER.createArrayNode(), offsets = RationaleJson.MAPPER.createArrayNode();
                    String finish = null;
                    int chunks = 0;
                    for (JsonNode e : events.subList(0, events.size() - 1)) {
                        assertEquals("text_completion", e.get("object").asText());
                        assertEquals(events.getFirst().get("id"), e.get("id"), "one id for the stream");
                        assertTrue(e.get("usage").isNull());
                        assertEquals(1, e.get("choices").size());
                        JsonNode c = e.get("choices").get(0);
                        if (c.get("index").asInt() != i) continue;
                        chunks++;
                        assertNull(finish, "nothing after the finish reason");
                        text.append(c.get("text").asText());
                        if (!c.get("finish_reason").isNull()) finish = c.get("finish_reason").asText();
                        JsonNode l = c.get("logprobs");
                        if (l != null && !l.isNull()) {
                            tokens.addAll((ArrayNode) l.get("tokens"));
                            lps.addAll((ArrayNode) l.get("token_logprobs"));
                            tops.addAll((ArrayNode) l.get("top_logprobs"));
                            offsets.addAll((ArrayNode) l.get("text_offset"));
                        }
                    }
                    assertEquals(want.get("text").asText(), text.toString(), q + " choice " + i);
                    assertEquals(want.get("finish_reason").asText(), finish, q);
                    if (q.contains("\"stop\"")) assertEquals("stop", finish, "the stop string was reached: " + q);
                    assertTrue(chunks > 2, "streamed in pieces, not at once: " + chunks);
                    if (want.get("logprobs").isNull()) {
                        assertEquals(0, tokens.size());
                    } else {
                        JsonNode l = want.get("logprobs");
                        assertEquals(l.get("tokens"), tokens);
                        assertEquals(l.get("token_logprobs"), lps);
                        assertEquals(l.get("top_logprobs"), tops);
                        assertEquals(l.get("text_offset"), offsets);
                    }
                }
            }
            // stream_options without stream is refused; a bad request is still an ordinary 4xx
            Http.Answer bad = r.http().post("/v1/completions", "{\"prompt\": \"Once\", \"stream_options\": {\"include_usage\": true}}");
            assertEquals(400, bad.status());
            assertEquals("stream_options needs stream: true", bad.error());
            Http.Answer badStream = r.http().post("/v1/completions", "{\"prompt\": [1, 99999], \"stream\": true}");
            assertEquals(400, badStream.status());
            assertTrue(badStream.error().contains("outside the vocabulary"), badStream.error());
        }
    }

    @Test
    void theFirstEventsArriveWhileTheGenerationStillRuns() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        try (Running r = Running.start(slow)) {
            int[] passesAtFirstText = {-1};
            Stream s = stream(r.http(), "/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 80, \"temperature\": 0, \"stream\": true}", d -> {
                if (passesAtFirstText[0] < 0) passesAtFirstText[0] = slow.forwards.get();
            });
            int passes = slow.forwards.get();
            assertEquals(80, passes, "one pass for the prompt, then one per token but the last");
            assertTrue(passesAtFirstText[0] >= 1 && passesAtFirstText[0] < 20,
                    "the first event came after " + passesAtFirstText[0] + " of " + passes + " passes");
            assertEquals("[DONE]", s.data().getLast());
        }
    }

    @Test
    void aFailureMidStreamIsAnErrorEventAndTheServerKeepsServing() throws Exception {
        FailingBackend failing = new FailingBackend(backend);
        try (Running r = Running.start(failing)) {
            int[] prompt = tok.encode("Once upon a time").ids();
            Completion c = r.api().complete(new Completion.Spec(prompt, 30, new SamplingParams(0, 1, 0), r.api().stopTokens(), List.of(), false, 0, false));
            Set<Integer> seen = new java.util.HashSet<>();
            for (int id : prompt) seen.add(id);
            int at = -1;
            for (int k = 0; k < c.generated().length - 1 && at < 0; k++) {
                if (k >= 3 && !seen.contains(c.generated()[k])) at = k;
                seen.add(c.generated()[k]);
            }
            assertTrue(at > 0, "a generated token that is new after the third");
            failing.poison = c.generated()[at];         // the pass that feeds it back fails
            Stream s = stream(r.http(), "/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 30, \"temperature\": 0, \"stream\": true}");
            assertEquals(200, s.status());
            List<JsonNode> events = s.events();
            JsonNode last = events.getLast();
            assertEquals(500, last.get("error").get("code").asInt(), last.toString());
            assertTrue(last.get("error").get("message").asText().contains("injected failure"), last.toString());
            StringBuilder text = new StringBuilder();
            for (JsonNode e : events.subList(0, events.size() - 1)) text.append(e.get("choices").get(0).get("text").asText());
            String upTo = tok.decode(java.util.Arrays.copyOf(c.generated(), at + 1), true);
            assertTrue(upTo.startsWith(text.toString()) && !text.isEmpty(), "the text before the failure: '" + text + "'");
            assertEquals("[DONE]", s.data().getLast());
            failing.poison = -1;
            assertEquals(200, r.http().post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 3}").status());
        }
    }

    @Test
    void aClientThatDisconnectsMidStreamFreesItsWork() throws Exception {
        FailingBackend slow = new FailingBackend(backend);
        slow.delayMillis = 10;
        try (Running r = Running.start(slow)) {
            String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 400, \"temperature\": 0, \"stream\": true}";
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), r.server().port())) {
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                s.setSoTimeout(10_000);
                String head = readUntil(s, "data: ");
                assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
                assertTrue(head.contains("Transfer-Encoding: chunked\r\n"), head);
                assertTrue(head.contains("Content-Type: text/event-stream\r\n"), head);
            }   // closed after the first event: about 4 s of generation were left
            long t0 = System.nanoTime();
            while (r.api().load()[1] > 0) {
                assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "the generation stops within 2 s of the disconnect");
                Thread.sleep(5);
            }
            int passes = slow.forwards.get();
            assertTrue(passes < 200, "freed early: " + passes + " of 400 steps ran");
            Thread.sleep(100);
            assertEquals(passes, slow.forwards.get(), "no pass runs for it afterwards");
            assertEquals(200, r.http().post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 3}").status());
        }
    }

    /** Reads from {@code s} until {@code marker} has been read; returns all read. */
    private static String readUntil(Socket s, String marker) throws Exception {
        StringBuilder sb = new StringBuilder();
        var in = s.getInputStream();
        while (!sb.toString().contains(marker)) {
            int b = in.read();
            assertTrue(b >= 0, "the server closed before '" + marker + "': " + sb);
            sb.append((char) b);
        }
        return sb.toString();
    }

    @Test
    void chunkedOverHttp11AndClosedOverHttp10() throws Exception {
        try (Running r = Running.start(backend)) {
            String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 12, \"temperature\": 0, \"stream\": true}";
            String want = r.http().post("/v1/completions", with(body, "stream", false)).json().get("choices").get(0).get("text").asText();
            // HTTP/1.1, keep-alive: chunks, the last chunk, then the connection takes the next request
            String two = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body
                    + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            String raw = Http.raw(r.server().uri(), two.getBytes(StandardCharsets.UTF_8));
            int split = raw.indexOf("\r\n\r\n");
            assertTrue(raw.substring(0, split).contains("Transfer-Encoding: chunked"));
            String rest = raw.substring(split + 4);
            StringBuilder payload = new StringBuilder();
            while (true) {                                 // undo the chunked coding by hand
                int eol = rest.indexOf("\r\n");
                int size = Integer.parseInt(rest.substring(0, eol), 16);
                if (size == 0) {
                    rest = rest.substring(eol + 4);
                    break;
                }
                payload.append(rest, eol + 2, eol + 2 + size);
                assertEquals("\r\n", rest.substring(eol + 2 + size, eol + 4 + size));
                rest = rest.substring(eol + 4 + size);
            }
            assertEquals(want, texts(new String(payload.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8)));
            assertTrue(rest.startsWith("HTTP/1.1 200 OK\r\n") && rest.contains("\"status\":\"ok\""), "the next request on the connection: " + rest);
            // HTTP/1.0: no chunked coding, the end of the body is the end of the connection
            String one = "POST /v1/completions HTTP/1.0\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
            String raw10 = Http.raw(r.server().uri(), one.getBytes(StandardCharsets.UTF_8));
            int split10 = raw10.indexOf("\r\n\r\n");
            String head = raw10.substring(0, split10);
            assertFalse(head.contains("Transfer-Encoding"), head);
            assertTrue(head.contains("Connection: close"), head);
            assertEquals(want, texts(new String(raw10.substring(split10 + 4).getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8)));
        }
    }

    /** The completion text of an SSE payload (one choice). */
    private static String texts(String sse) throws Exception {
        StringBuilder text = new StringBuilder();
        assertTrue(sse.endsWith("data: [DONE]\n\n"), sse);
        for (String event : sse.split("\n\n")) {
            assertTrue(event.startsWith("data: "), event);
            String d = event.substring(6);
            if (!d.equals("[DONE]")) text.append(RationaleJson.MAPPER.readTree(d).get("choices").get(0).get("text").asText());
        }
        return text.toString();
    }

    // ------------------------------------------------------------------ chat

    @Test
    void streamedChatAddsUpToTheUnstreamedAnswer() throws Exception {
        Path tiny = Fixtures.tiny();
        try (Rationale api = Rationale.open(tiny, Rationale.Config.defaults().withDevice(Device.CPU).withThreads(1).withModelName("tiny"));
             Server s = Server.start(api, Server.Config.loopback(0))) {
            Http http = new Http(s.uri(), null);
            String q = "{\"model\": \"tiny\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                    + " {\"role\": \"user\", \"content\": \"Why is the sky blue?\"}], \"max_tokens\": 24, \"temperature\": 0.8, \"seed\": 3,"
                    + " \"logprobs\": true, \"top_logprobs\": 2, \"n\": 2}";
            Http.Answer whole = http.post("/v1/chat/completions", q);
            assertEquals(200, whole.status(), whole.json().toString());
            Stream st = stream(http, "/v1/chat/completions", with(with(q, "stream", true), "stream_options", java.util.Map.of("include_usage", true)));
            assertEquals(200, st.status());
            List<JsonNode> events = st.events();
            assertEquals(whole.json().get("usage"), events.getLast().get("usage"));
            assertEquals(0, events.getLast().get("choices").size());
            assertEquals(2, whole.json().get("choices").size());
            assertNotEquals(whole.json().get("choices").get(0).get("message"), whole.json().get("choices").get(1).get("message"),
                    "two sampled answers differ");
            for (int j = 0; j < 2; j++) {
                StringBuilder text = new StringBuilder();
                ArrayNode content = RationaleJson.MAPPER.createArrayNode();
                List<JsonNode> mine = new ArrayList<>();
                for (JsonNode e : events.subList(0, events.size() - 1)) {
                    assertEquals("chat.completion.chunk", e.get("object").asText());
                    JsonNode c = e.get("choices").get(0);
                    if (c.get("index").asInt() != j) continue;
                    mine.add(c);
                    if (c.get("delta").has("content")) text.append(c.get("delta").get("content").asText());
                    if (!c.get("logprobs").isNull()) content.addAll((ArrayNode) c.get("logprobs").get("content"));
                }
                assertEquals("assistant", mine.getFirst().get("delta").get("role").asText(), "the first chunk names the role");
                JsonNode want = whole.json().get("choices").get(j);
                assertEquals(want.get("finish_reason"), mine.getLast().get("finish_reason"));
                assertEquals(0, mine.getLast().get("delta").size(), "the last chunk's delta is empty");
                assertEquals(want.get("message").get("content").asText(), text.toString());
                assertEquals(want.get("logprobs").get("content"), content);
            }
        }
    }

    // ------------------------------------------------------------------ the Java API and JSON lines

    @Test
    void theListenerSeesEveryTokenBeforeTheFutureCompletes() throws Exception {
        try (Rationale api = Rationale.of(backend, tok, Rationale.Config.defaults())) {
            int[] prompt = tok.encode("Once upon a time").ids();
            List<Integer> ids = new ArrayList<>();
            List<Completion.TokenLogprob> lps = new ArrayList<>();
            List<List<Completion.TokenLogprob>> prompts = new ArrayList<>();
            List<Boolean> doneAtToken = new ArrayList<>();
            CompletableFuture<Completion>[] f = new CompletableFuture[1];
            Completion.Spec spec = new Completion.Spec(prompt, 20, new SamplingParams(0.9, 0.9, 11), Set.of(), List.of(), true, 2, true);
            synchronized (f) {
                f[0] = api.completeAsync(spec, new Completion.Listener() {
                    @Override
                    public void prompt(List<Completion.TokenLogprob> l) { prompts.add(l); }

                    @Override
                    public void token(int id, Completion.TokenLogprob l) {
                        synchronized (f) {
                            doneAtToken.add(f[0].isDone());
                        }
                        ids.add(id);
                        lps.add(l);
                    }
                });
            }
            Completion c = f[0].get();
            assertEquals(1, prompts.size());
            assertEquals(c.promptLogprobs(), prompts.getFirst());
            assertArrayEquals(c.generated(), ids.stream().mapToInt(Integer::intValue).toArray());
            assertEquals(c.logprobs(), lps);
            assertFalse(doneAtToken.contains(true));
        }
    }

    @Test
    void jsonLinesCarryTheSameEvents() throws Exception {
        try (Running r = Running.start(backend)) {
            String q = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 20, \"temperature\": 0, \"logprobs\": 1, \"stream\": true}";
            List<JsonNode> http = stream(r.http(), "/v1/completions", q).events();
            String lines = "{\"id\": 7, \"path\": \"/v1/completions\", \"body\": " + q + "}\n";
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            StdioServer.run(r.server().service(), new ByteArrayInputStream(lines.getBytes(StandardCharsets.UTF_8)),
                    new PrintStream(out, true, StandardCharsets.UTF_8), 1 << 20);
            String[] got = out.toString(StandardCharsets.UTF_8).strip().split("\n");
            assertEquals(http.size() + 1, got.length);
            for (int i = 0; i < http.size(); i++) {
                JsonNode l = RationaleJson.MAPPER.readTree(got[i]);
                assertEquals(7, l.get("id").asInt());
                assertEquals(200, l.get("status").asInt());
                ObjectNode a = (ObjectNode) l.get("event"), b = (ObjectNode) http.get(i);
                for (ObjectNode o : List.of(a, b)) o.remove(List.of("id", "created"));
                assertEquals(b, a, "event " + i);
            }
            JsonNode last = RationaleJson.MAPPER.readTree(got[got.length - 1]);
            assertTrue(last.get("done").asBoolean());
            assertEquals(7, last.get("id").asInt());
        }
    }
}
