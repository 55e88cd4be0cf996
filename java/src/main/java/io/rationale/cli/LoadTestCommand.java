package io.rationale.cli;

import io.rationale.api.Rationale;
import io.rationale.api.RationaleJson;
import io.rationale.service.LoadTest;
import io.rationale.service.Server;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code load-test}: {@code /v1/attributions} under load over loopback, on a server it starts for {@code --model}
 * (or on {@code --url}). Rounds of one client sending requests back to back, then {@code --clients} clients doing
 * the same, side by side; every answer is checked against the answer its text got alone. Prints requests/s and
 * p50/p99 latency per phase and the concurrent/sequential throughput ratio (median over rounds); exit 1 on any lost
 * or wrong answer.
 */
@Command(name = "load-test", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Load-test /v1/attributions over loopback: 1 client against N concurrent clients, side by side.",
                "Reports requests/s, p50/p99 latency and the throughput ratio; fails on any lost or wrong answer."})
public final class LoadTestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint folder to serve in-process (or --url).")
    Path model;

    @Option(names = "--url", paramLabel = "URL", description = "An already running server (http://127.0.0.1:PORT) instead of --model.")
    URI url;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "CPU threads of the in-process engine (0 = all).")
    int threads;

    @Option(names = "--methods", split = ",", defaultValue = "input_x_gradient", paramLabel = "LIST", description = "Attribution methods of every request (default: ${DEFAULT-VALUE}).")
    List<String> methods;

    @Option(names = "--text-words", defaultValue = "0", paramLabel = "N", description = "Cut each of the 8 request texts to its first N words (0: whole; short inputs).")
    int textWords;

    @Option(names = "--clients", defaultValue = "8", paramLabel = "N", description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--requests", defaultValue = "64", paramLabel = "N", description = "Requests per phase (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--rounds", defaultValue = "3", paramLabel = "N", description = "Sequential/concurrent rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--max-warmup", defaultValue = "10", paramLabel = "N",
            description = "Unmeasured rounds before the measured ones: until two in a row agree within 10%% in both phases' requests/s, at most N (default: ${DEFAULT-VALUE}).")
    int maxWarmup;

    @Option(names = "--time-limit", defaultValue = "120", paramLabel = "S", description = "No request starts after this many seconds of a phase (default: ${DEFAULT-VALUE}).")
    int timeLimit;

    @Option(names = "--json", description = "Print one JSON object at the end.")
    boolean json;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the JSON object to FILE.")
    Path out;

    @Override
    public Integer call() throws Exception {
        // the options on their own: usage errors (exit 2), before the model is read
        if ((model == null) == (url == null)) throw Usage.error(spec, "give --model (served in-process) or --url, not both");
        if (clients < 1 || requests < 1 || rounds < 1 || timeLimit < 1)
            throw Usage.error(spec, "--clients, --requests, --rounds and --time-limit must be >= 1");
        if (threads < 0 || textWords < 0 || maxWarmup < 0)
            throw Usage.error(spec, "--threads, --text-words and --max-warmup must be >= 0");
        Rationale api = null;
        Server server = null;
        try {
            URI base = url;
            String device = "remote server " + url;
            if (model != null) {
                api = Rationale.open(model, Rationale.Config.defaults().withDevice(this.device.parse()).withThreads(threads), adapter.parse());
                server = Server.start(api, Server.Config.loopback(0));
                base = server.uri();
                device = api.deviceDescription();
            }
            List<String> texts = new ArrayList<>();
            for (String t : LoadTest.TEXTS) {
                String[] w = t.split(" ");
                texts.add(textWords > 0 && textWords < w.length ? String.join(" ", java.util.Arrays.copyOf(w, textWords)) : t);
            }
            LoadTest.Target target = new LoadTest.Target(base, null, texts, methods);
            List<LoadTest.Report[]> warm = LoadTest.warmUp(target, clients, requests, maxWarmup, 0.10, Duration.ofSeconds(timeLimit));
            if (!json) System.err.printf(Locale.ROOT, "warm-up: %d round(s)%s%n", warm.size(),
                    LoadTest.settled(warm, 0.10) ? ", the last two within 10%" : ", not settled within --max-warmup");
            List<LoadTest.Report[]> results = LoadTest.compare(target, clients, requests, rounds, Duration.ofSeconds(timeLimit));
            boolean clean = true;
            List<Map<String, Object>> rows = new ArrayList<>();
            for (int r = 0; r < results.size(); r++) {
                for (LoadTest.Report rep : results.get(r)) {
                    if (!json) System.out.println("round " + (r + 1) + ", " + rep.line());
                    for (String p : rep.problems()) System.err.println("  " + p);
                    clean &= rep.clean();
                    rows.add(Map.of("round", r + 1, "report", rep));
                }
            }
            double ratio = LoadTest.medianRatio(results);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("device", device);
            summary.put("methods", methods);
            summary.put("texts", texts);
            summary.put("clients", clients);
            summary.put("requests_per_phase", requests);
            summary.put("warmup_rounds", warm.size());
            summary.put("warmup_settled", LoadTest.settled(warm, 0.10));
            summary.put("rounds", rows);
            summary.put("throughput_ratio_median", ratio);
            if (api != null) summary.put("engine_batches", api.batchStats());
            summary.put("clean", clean);
            String line = String.format(Locale.ROOT, "throughput ratio (%d concurrent / 1 sequential client), median of %d rounds: %.2f×; %s",
                    clients, rounds, ratio, device);
            if (json) System.out.println(RationaleJson.write(summary));
            else System.out.println(line);
            if (out != null) Files.writeString(out, RationaleJson.write(summary) + "\n");
            if (!clean) {
                System.err.println("rationale: lost or wrong answers under load (see above)");
                return 1;
            }
            return 0;
        } finally {
            if (server != null) server.shutdown(Duration.ofSeconds(10));
            if (api != null) api.close();
        }
    }
}
