package io.rationale.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.rationale.api.AttributionRequest;
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
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A load test of {@code /v1/attributions} over loopback: clients that each send requests back to back (a client
 * waits for its answer before the next), bounded in request count and time. Every answer is checked against the
 * answer the same text got alone before the test (same ids, tokens, target; scores within {@link io.rationale.api.Rationale#SCORE_TOLERANCE} of the largest):
 * a lost (no 200) or wrong answer is counted and fails the test. Reports requests/s and the p50/p99 latency.
 *
 * <p>{@link #compare} runs the same requests with one client and with several, side by side in rounds on one
 * server, for the throughput of batched serving against sequential requests ({@code rationale load-test}).
 */
public final class LoadTest {
    private LoadTest() {}

    /** Sentences for the requests (short stories of the kind stories260K was trained on). */
    public static final List<String> TEXTS = List.of(
            "Once upon a time there was a little girl named Lily",
            "One day, Tom went to the park with his mom",
            "The cat sat on the mat and looked at the big red ball",
            "She was very happy because it was her birthday",
            "The little bird could not fly",
            "Max and Sue liked to play in the garden every day after lunch",
            "It was a sunny day",
            "The dog ran fast to get the stick that the boy threw");

    /**
     * One phase.
     *
     * @param clients   clients sending at the same time
     * @param requests  requests in all (spread over the clients; text i mod the texts)
     * @param timeLimit no request is started after this; those started finish
     */
    public record Phase(int clients, int requests, Duration timeLimit) {}

    /**
     * What a phase measured.
     *
     * @param clients   clients
     * @param sent      requests sent
     * @param ok        answers equal to the reference
     * @param wrong     answers that differ from it
     * @param lost      requests without a 200 answer (errors, timeouts)
     * @param seconds   wall time from the first request to the last answer
     * @param perSecond answered requests per second
     * @param p50Ms     median latency
     * @param p99Ms     99th percentile latency
     * @param problems  the first few problems, one line each
     */
    public record Report(int clients, int sent, int ok, int wrong, int lost, double seconds, double perSecond, double p50Ms, double p99Ms,
                         List<String> problems) {
        public boolean clean() { return wrong == 0 && lost == 0 && ok == sent; }

        public String line() {
            return String.format(java.util.Locale.ROOT, "%d client%s: %d requests in %.2f s, %.1f requests/s, p50 %.1f ms, p99 %.1f ms, %d wrong, %d lost",
                    clients, clients == 1 ? "" : "s", sent, seconds, perSecond, p50Ms, p99Ms, wrong, lost);
        }
    }

    /** A target server and the request body of each text. */
    public static final class Target {
        final URI base;
        final String token;
        final List<String> bodies = new ArrayList<>();
        final List<JsonNode> expected = new ArrayList<>();
        final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

        /**
         * Sends each text once, alone, for the reference answers (and to warm up).
         *
         * @param methods the attribution methods every request asks for
         */
        public Target(URI base, String token, List<String> texts, List<String> methods) throws IOException, InterruptedException {
            this.base = base;
            this.token = token;
            for (String t : texts) {
                String body = RationaleJson.write(AttributionRequest.of(t, methods.toArray(String[]::new)));
                HttpResponse<String> r = send(body);
                if (r.statusCode() != 200) throw new IllegalStateException("reference request failed: " + r.statusCode() + " " + r.body());
                bodies.add(body);
                expected.add(RationaleJson.MAPPER.readTree(r.body()));
            }
        }

        HttpResponse<String> send(String body) throws IOException, InterruptedException {
            HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve("/v1/attributions")).timeout(Duration.ofSeconds(300))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
            if (token != null) b.header("Authorization", "Bearer " + token);
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        }
    }

    /** Runs one phase against {@code target}. */
    public static Report run(Target target, Phase phase) throws InterruptedException {
        AtomicInteger next = new AtomicInteger(), ok = new AtomicInteger(), wrong = new AtomicInteger(), lost = new AtomicInteger();
        ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        long deadline = System.nanoTime() + phase.timeLimit().toNanos();
        long t0 = System.nanoTime();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> fs = new ArrayList<>();
            for (int c = 0; c < phase.clients(); c++) {
                fs.add(ex.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < phase.requests() && System.nanoTime() < deadline; ) {
                        int t = i % target.bodies.size();
                        long s = System.nanoTime();
                        try {
                            HttpResponse<String> r = target.send(target.bodies.get(t));
                            latencies.add(System.nanoTime() - s);
                            if (r.statusCode() != 200) {
                                lost.incrementAndGet();
                                note(problems, "request " + i + ": status " + r.statusCode() + " " + r.body());
                            } else {
                                String diff = difference(target.expected.get(t), RationaleJson.MAPPER.readTree(r.body()));
                                if (diff == null) ok.incrementAndGet();
                                else {
                                    wrong.incrementAndGet();
                                    note(problems, "request " + i + " (text " + t + "): " + diff);
                                }
                            }
                        } catch (IOException | RuntimeException e) {
                            lost.incrementAndGet();
                            note(problems, "request " + i + ": " + e);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return null;
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    note(problems, "client: " + e.getCause());
                }
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        int sent = Math.min(next.get(), phase.requests());
        return new Report(phase.clients(), sent, ok.get(), wrong.get(), lost.get(), seconds, (ok.get() + wrong.get()) / seconds,
                percentile(l, 0.50) / 1e6, percentile(l, 0.99) / 1e6, List.copyOf(problems));
    }

    private static void note(ConcurrentLinkedQueue<String> problems, String p) {
        if (problems.size() < 5) problems.add(p.length() > 300 ? p.substring(0, 300) + "…" : p);
    }

    /** Nearest-rank percentile of sorted values (0 for none). */
    static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** Null when the answers are the same up to float rounding (ids, tokens, target exact; scores within Rationale.SCORE_TOLERANCE of the largest). */
    static String difference(JsonNode want, JsonNode got) {
        for (String k : List.of("ids", "tokens", "target_id", "method", "text")) {
            if (!want.path(k).equals(got.path(k))) return k + " differs";
        }
        List<JsonNode[]> pairs = new ArrayList<>();
        if (want.has("methods")) {
            for (var it = want.get("methods").fieldNames(); it.hasNext(); ) {
                String m = it.next();
                if (!got.path("methods").has(m)) return "method " + m + " missing";
                pairs.add(new JsonNode[]{want.get("methods").get(m).get("scores"), got.get("methods").get(m).get("scores")});
            }
        } else {
            pairs.add(new JsonNode[]{want.get("scores"), got.get("scores")});
        }
        for (JsonNode[] p : pairs) {
            if (p[0] == null || p[1] == null || p[0].size() != p[1].size()) return "scores missing or of another length";
            double max = 1e-12;
            for (JsonNode x : p[0]) max = Math.max(max, Math.abs(x.asDouble()));
            for (int i = 0; i < p[0].size(); i++) {
                double a = p[0].get(i).asDouble(), b = p[1].get(i).asDouble();
                if (Math.abs(a - b) > io.rationale.api.Rationale.SCORE_TOLERANCE * max) return "score " + i + ": " + a + " vs " + b;
            }
        }
        return null;
    }

    /**
     * Sequential against concurrent, side by side: {@code rounds} times one phase with 1 client, then one with
     * {@code clients}, the same number of requests each.
     *
     * @return per round {sequential, concurrent}
     */
    public static List<Report[]> compare(Target target, int clients, int requests, int rounds, Duration timeLimit) throws InterruptedException {
        List<Report[]> out = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            Report seq = run(target, new Phase(1, requests, timeLimit));
            Report conc = run(target, new Phase(clients, requests, timeLimit));
            out.add(new Report[]{seq, conc});
        }
        return out;
    }

    /**
     * Warm-up: unmeasured rounds (a sequential phase and a concurrent phase of {@code requests} each) until two in a
     * row agree within {@code tolerance} (relative) in both phases' requests/s, at most {@code maxRounds} (at least
     * one). A fixed warm-up was too short for a small model: its later rounds kept speeding up as the JIT compiled
     * the server, the clients and the engine (stories260K: 242 → 627 requests/s over five measured rounds).
     *
     * @return the warm-up rounds run, in order
     */
    public static List<Report[]> warmUp(Target target, int clients, int requests, int maxRounds, double tolerance, Duration timeLimit)
            throws InterruptedException {
        List<Report[]> done = new ArrayList<>();
        for (int r = 0; r < Math.max(1, maxRounds); r++) {
            done.add(compare(target, clients, requests, 1, timeLimit).getFirst());
            if (settled(done, tolerance)) break;
        }
        return done;
    }

    /** Whether the last two rounds agree within {@code tolerance} in both phases' requests/s. */
    public static boolean settled(List<Report[]> rounds, double tolerance) {
        if (rounds.size() < 2) return false;
        Report[] a = rounds.get(rounds.size() - 2), b = rounds.get(rounds.size() - 1);
        for (int p = 0; p < 2; p++) {
            double x = a[p].perSecond(), y = b[p].perSecond();
            if (!(Math.abs(x - y) <= tolerance * Math.max(x, y))) return false;
        }
        return true;
    }

    /** The median of the concurrent/sequential throughput ratios of the rounds. */
    public static double medianRatio(List<Report[]> rounds) {
        double[] r = rounds.stream().mapToDouble(x -> x[1].perSecond() / x[0].perSecond()).sorted().toArray();
        return r.length % 2 == 1 ? r[r.length / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
    }
}
