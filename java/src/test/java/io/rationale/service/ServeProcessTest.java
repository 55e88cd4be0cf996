package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.RationaleJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** {@code rationale serve} as a real process: the Python client's tests against it, SIGTERM, JSON lines, binding. */
class ServeProcessTest {
    static final Path PYTHON_CLIENT = Path.of("..", "clients", "python");

    @Test
    void thePythonClientsTestsPassAgainstARealServeProcessWithAToken(@TempDir Path tmp) throws Exception {
        Path tokenFile = tmp.resolve("token");
        Files.writeString(tokenFile, "t0ken-" + System.nanoTime() + "\n");
        String token = Files.readString(tokenFile).strip();
        try (ServeProcess serve = ServeProcess.start("--token-file", tokenFile.toString())) {
            ProcessBuilder pb = new ProcessBuilder("python3", "-m", "unittest", "-v", "test_client.py")
                    .directory(PYTHON_CLIENT.toFile()).redirectErrorStream(true);
            pb.environment().put("RATIONALE_URL", serve.uri.toString());
            pb.environment().put("RATIONALE_TOKEN", token);
            pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
            Process py;
            try {
                py = pb.start();
            } catch (java.io.IOException e) {
                throw new AssertionError("python3 is needed for the Python client's tests (it is on every machine of this project): " + e.getMessage(), e);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Thread t = Thread.ofVirtual().start(() -> ServeProcess.copy(py.getInputStream(), out));
            assertTrue(py.waitFor(300, TimeUnit.SECONDS), "python tests finish");
            t.join();
            String text = out.toString(StandardCharsets.UTF_8);
            assertEquals(0, py.exitValue(), text);
            assertTrue(text.contains("Ran 13 tests"), text);
            assertTrue(text.strip().endsWith("OK"), text);
            // and without the token, the same server refuses
            Http.Answer refused = new Http(serve.uri, null).get("/health");
            assertEquals(401, refused.status());
        }
    }

    @Test
    void sigtermAnswersEveryRequestInFlightThenExitsZero() throws Exception {
        ServeProcess serve = ServeProcess.start("--max-concurrent", "1");
        Http http = new Http(serve.uri, null);
        String text = "Once upon a time there was a little girl named Lily who loved to play in the park with her dog every day";
        String body = "{\"text\": \"" + text + "\", \"methods\": \"integrated_gradients\", \"steps\": 96, \"baseline_token\": 0}";
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Http.Answer>> fs = new ArrayList<>();
            for (int i = 0; i < 5; i++) fs.add(ex.submit(() -> http.post("/v1/attributions", body)));
            long t0 = System.nanoTime();
            JsonNode h;
            do {
                Thread.sleep(5);
                h = http.get("/health").json();
            } while (h.get("queued").asInt() + h.get("working").asInt() < 3 && System.nanoTime() - t0 < 30_000_000_000L);
            assertTrue(h.get("queued").asInt() + h.get("working").asInt() >= 3, "requests in flight at the signal: " + h);
            serve.process.destroy();                                    // SIGTERM
            assertTrue(serve.process.waitFor(60, TimeUnit.SECONDS), "serve exits");
            assertEquals(0, serve.process.exitValue(), serve.stderr());
            for (Future<Http.Answer> f : fs) {
                Http.Answer a = f.get();
                assertEquals(200, a.status(), a.json().toString());
                assertEquals(96, a.json().get("extras").get("steps").asInt(), "a complete result");
                assertEquals(text, a.json().get("text").asText());
            }
            String err = serve.stderr();
            assertTrue(err.contains("rationale serve: shutting down"), err);
            assertTrue(err.contains("rationale serve: stopped\n"), err);
            assertThrows(ConnectException.class, () -> new Socket(serve.uri.getHost(), serve.uri.getPort()).close());
        } finally {
            serve.close();
        }
    }

    @Test
    void jsonLinesModeAnswersEachLineAndExitsAtEndOfInput() throws Exception {
        Process p = new ProcessBuilder(ServeProcess.command("serve", "--model", ServeProcess.STORIES.toString(), "--stdio", "--device", "cpu",
                "--threads", "2")).start();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread.ofVirtual().start(() -> ServeProcess.copy(p.getErrorStream(), err));
        try (OutputStream in = p.getOutputStream()) {
            in.write(("{\"id\": 1, \"path\": \"/v1/attributions\", \"body\": {\"text\": \"Once upon a time\", \"methods\": [\"saliency\"]}}\n"
                    + "{\"id\": 2, \"path\": \"/v1/completions\", \"body\": {\"prompt\": \"Once upon a time\", \"max_tokens\": 3, \"temperature\": 0}}\n"
                    + "{\"id\": 3, \"path\": \"/v1/nothing\", \"body\": {}}\n").getBytes(StandardCharsets.UTF_8));
        }
        Map<Integer, JsonNode> byId = new HashMap<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                JsonNode j = RationaleJson.MAPPER.readTree(line);
                byId.put(j.get("id").asInt(), j);
            }
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err.toString(StandardCharsets.UTF_8));
        assertEquals(3, byId.size());
        assertEquals("saliency", byId.get(1).get("body").get("method").asText());
        assertEquals(200, byId.get(2).get("status").asInt());
        assertEquals(3, byId.get(2).get("body").get("usage").get("completion_tokens").asInt());
        assertEquals(404, byId.get(3).get("status").asInt());
    }

    @Test
    void bindingBeyondLoopbackWithoutATokenIsRefused() throws Exception {
        Process p = new ProcessBuilder(ServeProcess.command("serve", "--model", ServeProcess.STORIES.toString(), "--host", "0.0.0.0",
                "--port", "0")).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), "a usage error: " + err);
        List<String> lines = new ArrayList<>();
        for (String l : err.split("\n")) if (!l.startsWith("WARNING")) lines.add(l);
        assertEquals(List.of("rationale: --host 0.0.0.0 is not a loopback address: give --token-file (every request must then send "
                + "'Authorization: Bearer <token>') (see: rationale serve --help)"), lines);
    }
}
