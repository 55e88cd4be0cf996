package io.rationale.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.RationaleJson;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A client of any OpenAI-compatible endpoint (OpenAI, vLLM, this project's {@code serve}, ...): the model list,
 * completions and chat completions. Thread-safe. Requests that fail with 429, 5xx or an I/O error are tried up to
 * three times (after 0.5 s and 1.5 s); other errors throw {@link OpenAiException} with the endpoint's message.
 */
public final class OpenAiClient {
    /** The environment variable that holds the API key ({@code Authorization: Bearer}). */
    public static final String API_KEY_VARIABLE = "OPENAI_API_KEY";

    /** An error answer (or none) of the endpoint. */
    public static final class OpenAiException extends RuntimeException {
        public final int status;

        public OpenAiException(int status, String message, Throwable cause) {
            super(message, cause);
            this.status = status;
        }
    }

    private final URI base;
    private final String apiKey;
    private final Duration timeout;
    private final HttpClient http;

    /**
     * @param base   the API's base, e.g. {@code http://127.0.0.1:8000/v1} or {@code https://api.openai.com/v1}
     *               ({@link #baseOf} adds a missing {@code /v1})
     * @param apiKey bearer token, or null
     */
    public OpenAiClient(URI base, String apiKey, Duration timeout) {
        this.base = base;
        this.apiKey = apiKey == null || apiKey.isBlank() ? null : apiKey.strip();
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(20)).build();
    }

    /**
     * The API base of a URL: {@code http://host:port} and {@code http://host:port/v1} both give
     * {@code http://host:port/v1}; a URL naming an endpoint ({@code .../v1/completions}) gives its {@code /v1}.
     *
     * @throws IllegalArgumentException for a URL that is not http(s)
     */
    public static URI baseOf(String url) {
        URI u;
        try {
            u = URI.create(url.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + url + "' is not a URL: " + e.getMessage());
        }
        if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https")) || u.getHost() == null)
            throw new IllegalArgumentException("'" + url + "' is not an http(s) URL, e.g. http://127.0.0.1:8000/v1");
        String path = u.getPath() == null ? "" : u.getPath();
        for (String end : List.of("/chat/completions", "/completions", "/models")) if (path.endsWith(end)) path = path.substring(0, path.length() - end.length());
        while (path.endsWith("/")) path = path.substring(0, path.length() - 1);
        if (!path.endsWith("/v1")) path = path + "/v1";
        return URI.create(u.getScheme() + "://" + u.getRawAuthority() + path);
    }

    public URI base() { return base; }

    /** The ids of {@code GET /models}. */
    public List<String> models() {
        ModelList l = parse(send(request("/models").GET().build()), ModelList.class);
        List<String> out = new ArrayList<>();
        if (l.data() != null) for (ModelList.Model m : l.data()) out.add(m.id());
        return out;
    }

    public CompletionResponse completions(CompletionRequest r) {
        return parse(send(post("/completions", r)), CompletionResponse.class);
    }

    public ChatResponse chat(ChatRequest r) {
        return parse(send(post("/chat/completions", r)), ChatResponse.class);
    }

    private HttpRequest post(String path, Object body) {
        return request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RationaleJson.write(body), StandardCharsets.UTF_8)).build();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout).header("Accept", "application/json");
        if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
        return b;
    }

    private String send(HttpRequest r) {
        long[] waits = {500, 1500};
        for (int attempt = 0; ; attempt++) {
            HttpResponse<String> resp;
            try {
                resp = http.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                if (attempt < waits.length) {
                    sleep(waits[attempt]);
                    continue;
                }
                throw new OpenAiException(0, r.method() + " " + r.uri() + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OpenAiException(0, r.method() + " " + r.uri() + ": interrupted", e);
            }
            int s = resp.statusCode();
            if (s == 200) return resp.body();
            if ((s == 429 || s >= 500) && attempt < waits.length) {
                sleep(waits[attempt]);
                continue;
            }
            throw new OpenAiException(s, r.method() + " " + r.uri() + " answered " + s + ": " + errorMessage(resp.body()), null);
        }
    }

    /** The {@code error.message} of an OpenAI-shaped error body, else the body's first line. */
    static String errorMessage(String body) {
        try {
            JsonNode n = RationaleJson.MAPPER.readTree(body);
            if (n != null && n.path("error").path("message").isTextual()) return n.get("error").get("message").asText();
        } catch (JsonProcessingException ignored) {
            // not JSON
        }
        String b = body == null ? "" : body.strip();
        int nl = b.indexOf('\n');
        b = nl < 0 ? b : b.substring(0, nl);
        return b.length() > 300 ? b.substring(0, 300) + "…" : b;
    }

    private <T> T parse(String body, Class<T> type) {
        try {
            return RationaleJson.MAPPER.readValue(body, type);
        } catch (JsonProcessingException e) {
            throw new OpenAiException(200, base + ": an answer that is not the expected JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
