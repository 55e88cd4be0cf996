package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.RationaleJson;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A loopback HTTP client for the tests: JSON in, status and JSON out. */
record Http(URI base, String token) {
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    /** A status, the parsed body and the raw response. */
    record Answer(int status, JsonNode json, HttpResponse<String> raw) {
        String error() { return json.path("error").path("message").asText(); }
    }

    Answer get(String path) throws IOException, InterruptedException {
        return send(builder(path).GET().build());
    }

    Answer post(String path, String json) throws IOException, InterruptedException {
        return send(builder(path).POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json").build());
    }

    Answer post(String path, Object body) throws IOException, InterruptedException {
        return post(path, RationaleJson.write(body));
    }

    private HttpRequest.Builder builder(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(120));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return b;
    }

    private static Answer send(HttpRequest r) throws IOException, InterruptedException {
        HttpResponse<String> resp = CLIENT.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        JsonNode j = resp.body().isEmpty() ? RationaleJson.MAPPER.nullNode() : RationaleJson.MAPPER.readTree(resp.body());
        return new Answer(resp.statusCode(), j, resp);
    }

    /** Sends raw bytes on a fresh socket and returns everything the server answers until it closes (or 10 s). */
    static String raw(URI base, byte[] request) throws IOException {
        try (Socket s = new Socket(base.getHost(), base.getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request);
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
