package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.api.RationaleJson;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The service over JSON lines: each line of stdin is one request
 * {@code {"id": ANY, "method": "POST", "path": "/v1/attributions", "body": {...}}} ({@code method} defaults to
 * POST with a body, GET without), and each answer is one line of stdout
 * {@code {"id": ANY, "status": 200, "body": {...}}} with the same body the HTTP endpoint answers. Requests run
 * concurrently (so they batch like HTTP clients), answers are written as they finish: match them by {@code id}.
 * A streamed request ({@code "stream": true} in a completions body) is answered with one line per event,
 * {@code {"id": ANY, "status": 200, "event": {...}}} (the chunks HTTP sends as server-sent events), and a last line
 * {@code {"id": ANY, "status": 200, "done": true}}.
 * End of input: the requests in flight finish, then the service stops.
 */
public final class StdioServer {
    private StdioServer() {}

    /** A request of a line: its client never disconnects; it arrives when its line is read. */
    private record LineExchange(AutoCloseable arrival) implements HttpServer.Exchange {
        @Override
        public void onDisconnect(Runnable r) { }

        @Override
        public boolean disconnected() { return false; }
    }

    /** Serves until end of input; returns the number of requests answered. */
    public static int run(Service service, InputStream in, PrintStream out, long maxLineBytes) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        List<Thread> running = new ArrayList<>();
        int n = 0;
        for (String line; (line = reader.readLine()) != null; ) {
            if (line.isBlank()) continue;
            n++;
            String l = line;
            AutoCloseable ticket = service.api().arriving();
            running.add(Thread.ofVirtual().name("rationale-stdio").start(() -> answer(service, l, out, maxLineBytes, ticket)));
            running.removeIf(t -> !t.isAlive());
        }
        for (Thread t : running) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return n;
    }

    private static void answer(Service service, String line, PrintStream out, long maxLineBytes, AutoCloseable ticket) {
        JsonNode id = null;
        HttpServer.Response r;
        try {
            if (line.length() > maxLineBytes) throw new ApiError(413, "invalid_request_error", "request line of " + line.length()
                    + " chars exceeds the limit of " + maxLineBytes + " bytes");
            JsonNode req;
            try {
                req = RationaleJson.MAPPER.readTree(line);
            } catch (IOException e) {
                throw ApiError.badRequest("malformed JSON line: " + Service.oneLine(e.getMessage()));
            }
            if (req == null || !req.isObject()) throw ApiError.badRequest("each line must be a JSON object {\"id\", \"path\", \"body\"}");
            id = req.get("id");
            JsonNode path = req.get("path");
            if (path == null || !path.isTextual() || !path.asText().startsWith("/")) throw ApiError.badRequest("'path' is missing (e.g. \"/v1/attributions\")");
            JsonNode body = req.get("body");
            String method = req.has("method") ? req.get("method").asText() : body == null || body.isNull() ? "GET" : "POST";
            byte[] bytes = body == null || body.isNull() ? new byte[0] : RationaleJson.MAPPER.writeValueAsBytes(body);
            r = service.handle(new HttpServer.Request(method, path.asText(), path.asText(), "", "HTTP/1.1", Map.of(), bytes, "stdio"),
                    new LineExchange(ticket));
        } catch (ApiError e) {
            r = Service.failure(e);
        } catch (IOException | RuntimeException e) {
            r = Service.error(500, "internal error: " + Service.oneLine(String.valueOf(e.getMessage())));
        } finally {
            try {
                ticket.close();
            } catch (Exception ignored) {
                // tickets do not fail
            }
        }
        if (r.streamer() instanceof Service.Events events) {
            JsonNode rid = id;
            try {
                events.run(e -> {
                    ObjectNode o = RationaleJson.MAPPER.createObjectNode();
                    o.set("id", rid);
                    o.put("status", 200);
                    o.set("event", RationaleJson.MAPPER.valueToTree(e));
                    line(out, o);
                });
            } catch (IOException e) {
                // printing does not fail
            }
            ObjectNode o = RationaleJson.MAPPER.createObjectNode();
            o.set("id", id);
            o.put("status", 200);
            o.put("done", true);
            line(out, o);
            return;
        }
        ObjectNode o = RationaleJson.MAPPER.createObjectNode();
        o.set("id", id);
        o.put("status", r.status());
        try {
            o.set("body", RationaleJson.MAPPER.readTree(r.body()));
        } catch (IOException e) {
            o.put("body", new String(r.body(), StandardCharsets.UTF_8));
        }
        line(out, o);
    }

    private static void line(PrintStream out, ObjectNode o) {
        String json = RationaleJson.write(o);
        synchronized (out) {
            out.println(json);
            out.flush();
        }
    }
}
