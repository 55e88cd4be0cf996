package io.rationale.cli;

import io.rationale.api.Rationale;
import io.rationale.service.HttpServer;
import io.rationale.service.Server;
import io.rationale.service.Service;
import io.rationale.service.StdioServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;

/**
 * {@code serve}: the model as a local service (docs/service.md): OpenAI-compatible completions and chat, the
 * tokenizer endpoints, and the native attribution and flip-evaluation endpoints with the command line's JSON; over
 * HTTP on 127.0.0.1 (another address needs {@code --token-file}) or as JSON lines on stdin/stdout
 * ({@code --stdio}). SIGTERM or SIGINT shuts down gracefully: requests in flight are answered, then it exits 0.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve the model to many clients over HTTP or JSON lines (--stdio).",
                "OpenAI-compatible /v1/completions, /v1/chat/completions, /v1/models; /tokenize, /detokenize; /v1/attributions and "
                        + "/v1/flip-evaluation with the command line's JSON; /health."})
public final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Checkpoint folder (config.json, safetensors, tokenizer.json).")
    Path model;

    @Mixin
    DeviceOption device;

    @Mixin
    AdapterOption adapter;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "CPU threads (0 = all available processors).")
    int threads;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDR", description = "Address to bind (default: ${DEFAULT-VALUE}; another needs --token-file).")
    String host;

    @Option(names = "--port", defaultValue = "8000", paramLabel = "P", description = "Port (0: any free port; the line on stdout says which; default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--stdio", description = "JSON lines on stdin/stdout instead of HTTP: {\"id\", \"path\", \"body\"} in, {\"id\", \"status\", \"body\"} out.")
    boolean stdio;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding a bearer token; every request must then send 'Authorization: Bearer <token>'.")
    Path tokenFile;

    @Option(names = "--model-name", paramLabel = "NAME", description = "The model's id in /v1/models and results (default: the folder's name; with --adapter, +ADAPTER_FOLDER appended).")
    String modelName;

    @Option(names = "--max-input-tokens", defaultValue = "0", paramLabel = "N", description = "Longest input, prompt plus generated tokens (0 = the model's context, never more): the OpenAI endpoints refuse more, /v1/generate stops there (max_positions).")
    int maxInputTokens;

    @Option(names = "--max-body-bytes", defaultValue = "8388608", paramLabel = "N", description = "Largest request body (default: ${DEFAULT-VALUE}).")
    long maxBodyBytes;

    @Option(names = "--max-concurrent", defaultValue = "16", paramLabel = "N", description = "Requests the engine works on at once: one batch plus the generations in progress (default: ${DEFAULT-VALUE}).")
    int maxConcurrent;

    @Option(names = "--max-queue", defaultValue = "256", paramLabel = "N", description = "Requests that may wait beyond those; more get 503 (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--max-connections", defaultValue = "1024", paramLabel = "N", description = "Open HTTP connections (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--batch-window-ms", defaultValue = "10", paramLabel = "MS", description = "How long a batch waits at most for requests already arriving, or for the last pass's clients to come back (for these, an eighth of the last pass when longer, at most 1 s; default: ${DEFAULT-VALUE}).")
    long batchWindowMs;

    @Option(names = "--shutdown-grace", defaultValue = "30", paramLabel = "S", description = "Seconds requests in flight get to finish at shutdown (default: ${DEFAULT-VALUE}).")
    int graceSeconds;

    /**
     * The served id without {@code --model-name}: the folder's name, and with adapters {@code +} each adapter folder's
     * name (with its scale when not 1), so that a fine-tuned model is not served under its base model's id.
     */
    static String servedName(Path model, io.rationale.lora.Adapters adapters) {
        if (adapters.isEmpty()) return null;
        StringBuilder sb = new StringBuilder(model.toAbsolutePath().normalize().getFileName().toString());
        for (io.rationale.lora.AdapterSpec s : adapters.specs())
            sb.append('+').append(s.dir().toAbsolutePath().normalize().getFileName()).append(s.scale() == 1 ? "" : ":" + s.scale());
        return sb.toString();
    }

    @Override
    public Integer call() throws Exception {
        // the options alone: a usage error (exit 2) before any file is read
        InetAddress address = Usage.check(spec, this::checkOptions);
        if (!Files.isDirectory(model)) throw new IllegalArgumentException(model + ": not a folder");
        String token = readToken();
        io.rationale.lora.Adapters adapters = adapter.parse();
        Rationale.Config config = new Rationale.Config(device.parse(), threads, Duration.ofMillis(batchWindowMs), maxConcurrent, maxQueue,
                maxInputTokens, modelName != null ? modelName : servedName(model, adapters));
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        Rationale api = Rationale.open(model, config, adapters);
        if (stdio) {
            System.err.println("rationale serve: JSON lines on stdin/stdout (model " + api.modelName() + ", " + api.deviceDescription() + ")");
            int n = StdioServer.run(new Service(api, Service.Settings.defaults()), System.in, out, maxBodyBytes);
            api.close();
            System.err.println("rationale serve: end of input after " + n + " requests");
            return 0;
        }
        HttpServer.Limits limits = new HttpServer.Limits(16 * 1024, maxBodyBytes, Duration.ofSeconds(60), Duration.ofSeconds(30), maxConnections);
        Server server;
        try {
            server = Server.start(api, new Server.Config(address, port, token, limits, Service.Settings.defaults()));
        } catch (IOException | RuntimeException e) {
            api.close();
            if (e instanceof java.net.BindException) throw new IllegalArgumentException("cannot bind " + host + ":" + port + ": " + e.getMessage(), e);
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("rationale serve: shutting down (answering " + server.inFlight() + " requests in flight)");
            boolean clean = server.shutdown(Duration.ofSeconds(graceSeconds));
            boolean drained = api.shutdown(Duration.ofSeconds(Math.max(1, graceSeconds)));
            System.err.println("rationale serve: stopped" + (clean && drained ? "" : " (the grace period ended with requests unanswered)"));
            System.err.flush();
            stopped.countDown();
            Runtime.getRuntime().halt(clean && drained ? 0 : 1);
        }, "rationale-serve-shutdown"));
        out.println("rationale serve: listening on " + server.uri() + " (model " + api.modelName() + ", " + api.deviceDescription()
                + (token != null ? ", bearer token required" : "") + ")");
        stopped.await();
        return 0;
    }

    /** The checks of the options on their own (README's exit-code rule: exit 2); returns the address to bind. */
    private InetAddress checkOptions() {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
        if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0 = all processors), got " + threads);
        if (maxInputTokens < 0) throw new IllegalArgumentException("--max-input-tokens must be >= 0 (0 = the model's context), got " + maxInputTokens);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("--max-body-bytes must be >= 1, got " + maxBodyBytes);
        if (maxConcurrent < 1) throw new IllegalArgumentException("--max-concurrent must be >= 1, got " + maxConcurrent);
        if (maxQueue < 0) throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        if (maxConnections < 1) throw new IllegalArgumentException("--max-connections must be >= 1, got " + maxConnections);
        if (batchWindowMs < 0) throw new IllegalArgumentException("--batch-window-ms must be >= 0, got " + batchWindowMs);
        if (graceSeconds < 0) throw new IllegalArgumentException("--shutdown-grace must be >= 0, got " + graceSeconds);
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("--host " + host + ": unknown host", e);
        }
        if (!stdio && !address.isLoopbackAddress() && tokenFile == null)
            throw new IllegalArgumentException("--host " + host + " is not a loopback address: give --token-file (every request must then send "
                    + "'Authorization: Bearer <token>')");
        return address;
    }

    private String readToken() throws IOException {
        if (tokenFile == null) return null;
        if (!Files.isRegularFile(tokenFile)) throw new IllegalArgumentException(tokenFile + ": no such file (--token-file)");
        String t = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
        if (t.isEmpty()) throw new IllegalArgumentException(tokenFile + ": the token file is empty");
        if (t.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) throw new IllegalArgumentException(tokenFile + ": the token must be one line of printable ASCII without spaces");
        return t;
    }
}
