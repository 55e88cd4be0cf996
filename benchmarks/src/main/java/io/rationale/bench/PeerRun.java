package io.rationale.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.model.ModelConfig;
import io.rationale.perf.MachineInfo;
import io.rationale.perf.Quantiles;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * rationale and a peer engine (Jlama) timed side by side, interleaved in ONE JVM: per round and per operation, one
 * engine then the other (rationale first in odd rounds, the peer first in even rounds), seconds apart, so that the
 * load of a shared machine hits both alike and the per-round ratio rationale/peer is usable where separate JMH forks
 * minutes apart ({@link EngineBench}) give error bars larger than the differences. The workloads are
 * {@link EngineBench}'s, through the same {@link BenchEngine} code: {@code prefillN} = prefill of N random ids
 * (seed 42) from position 0 with the LM head and the argmax of the last position; {@code decode} =
 * {@value EngineBench#DECODE_STEPS} greedy steps after a {@value EngineBench#CONTEXT}-token context, the context
 * restored (untimed) before every timed invocation. Jlama's kernel pool is fixed once per JVM
 * ({@link JlamaPeer#load}); both engines get the same {@code --threads}.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx20g -Dbench.model=DIR \
 *      -cp benchmarks/target/benchmarks.jar io.rationale.bench.PeerRun \
 *      --ops prefill512,prefill64,decode --peer jlama-f32 --rounds 7 --out results.jsonl
 * </pre>
 *
 * <p>Output ({@code --out}, JSON lines): a header (machine, JVM, commit, model and its shape, settings of both
 * engines, threads, operations, invocations per round), then one line per (round, operation), appended and flushed
 * as it is measured: seconds and tokens/s of each engine, the ratio, the pair's wall time and the 1-minute load
 * average before and after. Rerunning with the same {@code --out} resumes: the (round, operation) lines already
 * there are skipped, an incomplete last line (a kill while writing) is dropped, and a file from other settings
 * (model, shape, peer, threads, operations, invocations, device) is refused. At the end: a markdown table per
 * operation (medians of tokens/s, median and IQR of the per-round ratios) on stdout and in {@code --table}
 * (default {@code OUT.md}).
 */
@Command(name = "PeerRun", mixinStandardHelpOptions = true, sortOptions = false,
        description = "rationale against a peer engine, interleaved round by round in one JVM; JSON lines, resumable.")
public final class PeerRun implements Callable<Integer> {
    /** Version of the line format. */
    static final int FORMAT = 1;
    /** The header fields a resumed run must share with the file. */
    static final List<String> MATCH_KEYS = List.of("format", "model", "shape", "peer", "device", "threads", "ops",
            "invocations", "prompt_seed", "decode_context", "decode_steps");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Opens an engine by name (tests give a stand-in). */
    @FunctionalInterface
    interface EngineFactory {
        BenchEngine open(String name, Path dir, int threads);
    }

    /** Bad input: one line, exit 2. */
    static final class BadInput extends RuntimeException {
        BadInput(String message) { super(message); }
    }

    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint folder (default: -Dbench.model)")
    Path model;

    @Option(names = "--preset", paramLabel = "NAME",
            description = "generate this preset (seed 0) into the model folder when it has no config.json (default: -Dbench.preset; without it such a folder is an error)")
    String preset;

    @Option(names = "--ops", split = ",", paramLabel = "OP", defaultValue = "prefill512,prefill64,decode",
            description = "prefillN (N tokens from position 0) and decode, comma-separated (default: ${DEFAULT-VALUE})")
    List<String> ops;

    @Option(names = "--peer", paramLabel = "ENGINE", defaultValue = "jlama-f32",
            description = "jlama-f32 (f32 activations, rationale's arithmetic) or jlama (Jlama's default: bf16 matmul inputs) (default: ${DEFAULT-VALUE})")
    String peer;

    @Option(names = "--rounds", defaultValue = "7", description = "rounds (default: ${DEFAULT-VALUE}); a rerun with more continues the file")
    int rounds;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed invocations per engine and operation at start (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--invocations", split = ",", paramLabel = "OP=N",
            description = "timed invocations per engine, round and operation, their times summed (default: 4, 1 for prefill over 128 tokens)")
    Map<String, Integer> invocations = new LinkedHashMap<>();

    @Option(names = "--threads", description = "threads of both engines (default: -Dbench.threads, else all processors)")
    Integer threads;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "JSON lines, appended as measured; resumed when rerun")
    Path out;

    @Option(names = "--table", paramLabel = "FILE", description = "the markdown tables (default: OUT.md)")
    Path table;

    private PrintStream stdout = System.out, stderr = System.err;
    private EngineFactory factory = BenchEngine::open;
    private List<String> args = List.of();

    public static void main(String[] args) {
        System.exit(run(System.out, System.err, BenchEngine::open, args));
    }

    /** Runs the command; returns the exit code (2: bad input, with one line on {@code err}). */
    static int run(PrintStream out, PrintStream err, EngineFactory factory, String... args) {
        PeerRun r = new PeerRun();
        r.stdout = out;
        r.stderr = err;
        r.factory = factory;
        r.args = List.of(args);
        CommandLine cl = new CommandLine(r);
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("PeerRun: " + ex.getMessage());
            return 2;
        });
        return cl.execute(args);
    }

    /** One operation: {@code prefillN} or {@code decode}. */
    record Op(String name, boolean decode, int tokens) {
        static Op parse(String s) {
            if (s.equals("decode")) return new Op(s, true, EngineBench.DECODE_STEPS);
            if (s.startsWith("prefill") && s.length() > "prefill".length()) {
                try {
                    int n = Integer.parseInt(s.substring("prefill".length()));
                    if (n >= 1 && s.equals("prefill" + n)) return new Op(s, false, n);
                } catch (NumberFormatException ignored) {
                    // below
                }
            }
            throw new BadInput("--ops: unknown op '" + s + "' (known: prefillN with N ≥ 1 tokens, e.g. prefill64, and decode)");
        }

        /** Default timed invocations per round. */
        int defaultInvocations() { return decode || tokens <= 128 ? 4 : 1; }
    }

    @Override
    public Integer call() {
        try {
            return execute();
        } catch (BadInput e) {
            stderr.println("PeerRun: " + e.getMessage());
            return 2;
        }
    }

    private int execute() {
        // ---- the settings, checked before anything is loaded
        if (rounds < 1) throw new BadInput("--rounds " + rounds + ": must be at least 1");
        if (warmup < 0) throw new BadInput("--warmup " + warmup + ": must be at least 0");
        List<String> peers = Arrays.stream(JlamaPeer.Variant.values()).map(JlamaPeer.Variant::paramName).toList();
        if (!peers.contains(peer)) throw new BadInput("--peer: unknown peer '" + peer + "' (known: " + String.join(", ", peers) + ")");
        int nThreads = threads != null ? threads : BenchModel.threads();
        if (nThreads < 1) throw new BadInput("--threads " + nThreads + ": must be at least 1");
        List<Op> plan = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String s : ops) {
            Op op = Op.parse(s.strip());
            if (!seen.add(op.name())) throw new BadInput("--ops: '" + op.name() + "' given twice");
            plan.add(op);
        }
        for (var e : invocations.entrySet()) {
            if (!seen.contains(e.getKey())) throw new BadInput("--invocations: '" + e.getKey() + "' is not one of --ops " + String.join(",", ops));
            if (e.getValue() < 1) throw new BadInput("--invocations " + e.getKey() + "=" + e.getValue() + ": must be at least 1");
        }
        Map<String, Integer> perRound = new LinkedHashMap<>();
        for (Op op : plan) perRound.put(op.name(), invocations.getOrDefault(op.name(), op.defaultInvocations()));
        Path dir = modelFolder();
        ModelConfig config;
        try {
            config = ModelConfig.load(dir);
        } catch (RuntimeException e) {
            throw new BadInput("model folder " + dir + ": " + e.getMessage());
        }
        int positions = config.maxPositionEmbeddings();
        for (Op op : plan) {
            int need = op.decode() ? EngineBench.CONTEXT + EngineBench.DECODE_STEPS : op.tokens();
            if (positions > 0 && need > positions)
                throw new BadInput("--ops " + op.name() + ": needs " + need + " positions, the model in " + dir + " has " + positions);
        }
        ObjectNode header = JSON.createObjectNode();
        header.put("type", "header");
        header.put("format", FORMAT);
        header.put("model", dir.toAbsolutePath().normalize().toString());
        header.set("shape", JSON.valueToTree(config.shape()));
        header.put("peer", peer);
        header.put("device", BenchModel.device());
        header.put("threads", nThreads);
        header.set("ops", JSON.valueToTree(plan.stream().map(Op::name).toList()));
        header.set("invocations", JSON.valueToTree(perRound));
        header.put("prompt_seed", EngineBench.PROMPT_SEED);
        header.put("decode_context", EngineBench.CONTEXT);
        header.put("decode_steps", EngineBench.DECODE_STEPS);

        // ---- the file so far: refuse another run's file, find what is done
        Path tableFile = table != null ? table : Path.of(out + ".md");
        RunFile file = RunFile.open(out, header, stderr);
        Set<String> done = new HashSet<>();
        for (JsonNode l : file.rounds) done.add(key(l.get("round").asInt(), l.get("op").asText()));
        int todo = 0;
        for (int r = 1; r <= rounds; r++) for (Op op : plan) if (!done.contains(key(r, op.name()))) todo++;
        if (todo == 0) {
            stderr.printf(Locale.ROOT, "PeerRun: %s already holds rounds 1..%d of every op; nothing to measure%n", out, rounds);
        } else {
            measure(dir, config, nThreads, plan, perRound, header, file, done, todo);
        }
        String tables = tables(file.header, file.rounds);
        stdout.print(tables);
        try {
            Files.writeString(tableFile, tables);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        stderr.println("PeerRun: tables written to " + tableFile);
        return 0;
    }

    private void measure(Path dir, ModelConfig config, int nThreads, List<Op> plan, Map<String, Integer> perRound,
                         ObjectNode header, RunFile file, Set<String> done, int todo) {
        try (BenchEngine ours = open(BenchEngine.RATIONALE, dir, nThreads);
             BenchEngine theirs = open(peer, dir, nThreads)) {
            if (file.header == null) {
                ObjectNode h = header.deepCopy();
                h.put("date_utc", now());
                h.put("harness", PeerRun.class.getName());
                h.set("args", JSON.valueToTree(args));
                h.put("rationale_settings", ours.settings());
                h.put("peer_settings", theirs.settings());
                h.put("jlama_version", JlamaPeer.VERSION);
                h.put("commit", MachineInfo.commit());
                Map<String, Object> m = MachineInfo.machine();
                h.put("nproc", Runtime.getRuntime().availableProcessors());
                h.put("cpu", String.valueOf(m.get("cpu")));
                h.put("vector_flags", String.valueOf(m.get("vector_flags")));
                h.put("memory_bytes", MachineInfo.memTotal());
                h.put("os", String.valueOf(m.get("os")));
                h.put("jvm", String.valueOf(m.get("java")));
                h.set("jvm_args", JSON.valueToTree(ManagementFactory.getRuntimeMXBean().getInputArguments()));
                h.put("warmup", warmup);
                file.append(h);
                file.header = h;
            } else {
                stderr.printf(Locale.ROOT, "PeerRun: resuming %s (%d of its (round, op) lines done; %d to measure)%n", out, file.rounds.size(), todo);
            }
            stderr.println("PeerRun: " + ours.settings());
            stderr.println("PeerRun: " + theirs.settings());
            int vocab = config.vocabSize();
            Map<String, int[]> prompts = new LinkedHashMap<>();
            for (Op op : plan) if (!op.decode()) prompts.put(op.name(), BenchModel.tokens(op.tokens(), vocab, EngineBench.PROMPT_SEED));
            if (plan.stream().anyMatch(Op::decode)) {
                int[] context = BenchModel.tokens(EngineBench.CONTEXT, vocab, EngineBench.PROMPT_SEED);
                ours.prepareDecode(context);
                theirs.prepareDecode(context);
            }
            for (Op op : plan) {
                for (BenchEngine e : List.of(ours, theirs)) {
                    long t0 = System.nanoTime();
                    time(e, op, prompts.get(op.name()), warmup);
                    stderr.printf(Locale.ROOT, "PeerRun: warm-up %s %s: %d invocations in %.1f s%n", op.name(), e.name(), warmup, (System.nanoTime() - t0) / 1e9);
                }
            }
            for (int r = 1; r <= rounds; r++) {
                for (Op op : plan) {
                    if (done.contains(key(r, op.name()))) continue;
                    int n = perRound.get(op.name());
                    boolean oursFirst = r % 2 == 1;
                    double load0 = load();
                    long w0 = System.nanoTime();
                    Timed a, b;
                    if (oursFirst) {
                        a = time(ours, op, prompts.get(op.name()), n);
                        b = time(theirs, op, prompts.get(op.name()), n);
                    } else {
                        b = time(theirs, op, prompts.get(op.name()), n);
                        a = time(ours, op, prompts.get(op.name()), n);
                    }
                    double wall = (System.nanoTime() - w0) / 1e9;
                    double tokens = (double) op.tokens() * n;
                    ObjectNode l = JSON.createObjectNode();
                    l.put("type", "round");
                    l.put("round", r);
                    l.put("op", op.name());
                    l.put("tokens_per_invocation", op.tokens());
                    l.put("invocations", n);
                    l.put("first", oursFirst ? ours.name() : theirs.name());
                    l.put("rationale_s", a.seconds());
                    l.put("peer_s", b.seconds());
                    l.put("rationale_tok_s", tokens / a.seconds());
                    l.put("peer_tok_s", tokens / b.seconds());
                    l.put("ratio", (tokens / a.seconds()) / (tokens / b.seconds()));
                    l.put("wall_s", wall);
                    l.put("load1_before", load0);
                    l.put("load1_after", load());
                    l.put("rationale_token", a.token());
                    l.put("peer_token", b.token());
                    l.put("utc", now());
                    file.append(l);
                    file.rounds.add(l);
                    done.add(key(r, op.name()));
                    stderr.printf(Locale.ROOT, "PeerRun: round %d/%d %s: rationale %.2f tok/s, %s %.2f tok/s, ratio %.3f (load %.2f)%n",
                            r, rounds, op.name(), l.get("rationale_tok_s").asDouble(), theirs.name(), l.get("peer_tok_s").asDouble(),
                            l.get("ratio").asDouble(), load0);
                }
            }
        }
    }

    private BenchEngine open(String engine, Path dir, int nThreads) {
        try {
            return factory.open(engine, dir, nThreads);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot open " + engine + " on " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Seconds of {@code n} invocations (only the workload: the decode context's reset is outside) and the last token. */
    record Timed(double seconds, int token) {}

    static Timed time(BenchEngine e, Op op, int[] prompt, int n) {
        long total = 0;
        int tok = -1;
        for (int i = 0; i < n; i++) {
            if (op.decode()) e.resetDecode();
            long t0 = System.nanoTime();
            tok = op.decode() ? e.decode(EngineBench.DECODE_STEPS) : e.prefill(prompt);
            total += System.nanoTime() - t0;
        }
        return new Timed(total / 1e9, tok);
    }

    /** The model folder: {@code --model}, else {@code -Dbench.model}; generated from the preset when asked. */
    private Path modelFolder() {
        Path dir = model;
        if (dir == null) {
            String p = System.getProperty("bench.model");
            if (p == null || p.isBlank()) throw new BadInput("no model folder: give -Dbench.model=DIR or --model DIR");
            dir = Path.of(p);
        }
        String gen = preset != null ? preset : System.getProperty("bench.preset");
        if (Files.isRegularFile(dir.resolve("config.json"))) return dir;
        if (gen == null || gen.isBlank())
            throw new BadInput("model folder " + dir + (Files.isDirectory(dir) ? " has no config.json" : " does not exist")
                    + " (give a checkpoint folder, or --preset NAME to generate one there)");
        try {
            BenchModel.spec(gen);
        } catch (RuntimeException e) {
            throw new BadInput("--preset " + gen + ": " + e.getMessage());
        }
        BenchModel.generate(gen, dir);
        return dir;
    }

    private static String key(int round, String op) { return round + "\u0000" + op; }

    private static String now() { return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(); }

    /** The 1-minute load average (-1 where the system has none). */
    private static double load() { return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(); }

    // ---------------------------------------------------------------- the file

    /** The JSON-lines file: its header and round lines, and appending to it. */
    static final class RunFile {
        final Path path;
        ObjectNode header;
        final List<JsonNode> rounds = new ArrayList<>();

        private RunFile(Path path) { this.path = path; }

        /**
         * Reads {@code path} if it exists: refuses (BadInput) a file that is not a PeerRun file or whose header
         * differs from {@code want} in a {@link #MATCH_KEYS} field; drops an incomplete last line.
         */
        static RunFile open(Path path, ObjectNode want, PrintStream err) {
            RunFile f = new RunFile(path);
            if (!Files.exists(path)) return f;
            try {
                want = (ObjectNode) JSON.readTree(JSON.writeValueAsString(want));   // numbers as a file holds them
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            byte[] all;
            try {
                all = Files.readAllBytes(path);
            } catch (IOException e) {
                throw new BadInput("--out " + path + ": cannot read (" + e.getMessage() + ")");
            }
            int end = all.length;
            while (end > 0 && all[end - 1] != '\n') end--;
            String text = new String(all, 0, end, StandardCharsets.UTF_8);
            List<String> lines = text.isEmpty() ? List.of() : List.of(text.substring(0, text.length() - 1).split("\n", -1));
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < lines.size(); i++) {
                String where = "--out " + path + " line " + (i + 1);
                JsonNode n;
                try {
                    n = JSON.readTree(lines.get(i));
                } catch (JsonProcessingException e) {
                    throw new BadInput(where + ": not JSON (" + e.getOriginalMessage() + ")");
                }
                if (n == null || !n.isObject()) throw new BadInput(where + ": not a JSON object");
                if (i == 0) {
                    if (!"header".equals(n.path("type").asText())) throw new BadInput(where + ": not a PeerRun header (another file?)");
                    List<String> diff = new ArrayList<>();
                    for (String k : MATCH_KEYS)
                        if (!want.path(k).equals(n.path(k))) diff.add(k + " " + n.path(k) + " (now " + want.path(k) + ")");
                    if (!diff.isEmpty())
                        throw new BadInput("--out " + path + " holds another run: " + String.join("; ", diff)
                                + " — give another --out, or the same settings to resume it");
                    f.header = (ObjectNode) n;
                } else {
                    if (!"round".equals(n.path("type").asText()) || !n.path("round").canConvertToInt() || !n.path("op").isTextual())
                        throw new BadInput(where + ": not a round line");
                    if (!seen.add(key(n.get("round").asInt(), n.get("op").asText())))
                        throw new BadInput(where + ": round " + n.get("round").asInt() + " " + n.get("op").asText() + " is there twice");
                    f.rounds.add(n);
                }
            }
            if (end < all.length) {
                try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
                    ch.truncate(end);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                err.printf(Locale.ROOT, "PeerRun: dropped an incomplete last line of %s (%d bytes: a kill while writing)%n", path, all.length - end);
            }
            return f;
        }

        /** Appends one line and forces it to the disk. */
        void append(JsonNode line) {
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                ByteBuffer b = ByteBuffer.wrap((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) ch.write(b);
                ch.force(false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    // ---------------------------------------------------------------- statistics and tables

    /** First quartile, median and third quartile ({@link Quantiles}: R-7, linear between order statistics). */
    static double[] quartiles(double[] values) {
        return new double[]{Quantiles.quantile(values, 0.25), Quantiles.median(values), Quantiles.quantile(values, 0.75)};
    }

    /** One op's summary over its rounds: medians of each engine's tokens/s, quartiles of the per-round ratios. */
    record Summary(String op, int rounds, double ours, double peer, double ratioQ1, double ratio, double ratioQ3) {}

    static Summary summarize(String op, List<JsonNode> lines) {
        List<JsonNode> mine = lines.stream().filter(l -> l.get("op").asText().equals(op)).toList();
        if (mine.isEmpty()) return null;
        double[] a = mine.stream().mapToDouble(l -> l.get("rationale_tok_s").asDouble()).toArray();
        double[] b = mine.stream().mapToDouble(l -> l.get("peer_tok_s").asDouble()).toArray();
        double[] r = mine.stream().mapToDouble(l -> l.get("ratio").asDouble()).toArray();
        double[] q = quartiles(r);
        return new Summary(op, mine.size(), quartiles(a)[1], quartiles(b)[1], q[0], q[1], q[2]);
    }

    static String peerLabel(String peer) {
        return peer.equals("jlama-f32") ? "Jlama f32" : peer.equals("jlama") ? "Jlama default" : peer;
    }

    /** The markdown: facts, the table per op, and the README-ready rows. */
    static String tables(JsonNode h, List<JsonNode> lines) {
        StringBuilder s = new StringBuilder();
        String peer = peerLabel(h.path("peer").asText());
        s.append(String.format(Locale.ROOT, "# PeerRun: rationale against %s (%s)%n%n", peer, h.path("date_utc").asText()));
        s.append(String.format(Locale.ROOT, "- machine: %s processors, %s (%s), %.1f GiB; %s%n", h.path("nproc").asText(), h.path("cpu").asText(),
                h.path("vector_flags").asText(), h.path("memory_bytes").asDouble() / (1L << 30), h.path("os").asText()));
        s.append(String.format(Locale.ROOT, "- JVM: %s, arguments %s%n", h.path("jvm").asText(), h.path("jvm_args")));
        s.append(String.format(Locale.ROOT, "- commit: %s%n", h.path("commit").asText()));
        s.append(String.format(Locale.ROOT, "- model: %s, shape %s%n", h.path("model").asText(), h.path("shape")));
        s.append(String.format(Locale.ROOT, "- rationale: %s%n- peer: %s%n", h.path("rationale_settings").asText(), h.path("peer_settings").asText()));
        s.append(String.format(Locale.ROOT, "- per round and op: %s timed invocations per engine (times summed), order alternating by round "
                + "(rationale first in odd rounds); %s untimed warm-up invocations per engine and op at start%n", h.path("invocations"), h.path("warmup").asText()));
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (JsonNode l : lines)
            for (String k : List.of("load1_before", "load1_after")) {
                lo = Math.min(lo, l.path(k).asDouble());
                hi = Math.max(hi, l.path(k).asDouble());
            }
        if (!lines.isEmpty()) s.append(String.format(Locale.ROOT, "- 1-minute load average during the rounds: %.2f to %.2f%n", lo, hi));
        s.append(String.format(Locale.ROOT, "%n| op | rounds | rationale tok/s (median) | %s tok/s (median) | ratio per round: median | Q1 | Q3 |%n", peer));
        s.append("|---|---:|---:|---:|---:|---:|---:|\n");
        List<Summary> all = new ArrayList<>();
        for (JsonNode op : h.path("ops")) {
            Summary x = summarize(op.asText(), lines);
            if (x == null) continue;
            all.add(x);
            s.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %.3f | %.3f | %.3f |%n", x.op(), x.rounds(), num(x.ours()), num(x.peer()),
                    x.ratio(), x.ratioQ1(), x.ratioQ3()));
        }
        s.append(String.format(Locale.ROOT, "%nREADME rows (ratio: median of the per-round ratios rationale/%s, IQR in brackets):%n%n", peer));
        s.append(String.format(Locale.ROOT, "| op | rationale tok/s | %s tok/s | ratio (IQR) |%n|---|---:|---:|---|%n", peer));
        for (Summary x : all)
            s.append(String.format(Locale.ROOT, "| %s | %s | %s | %.2f× (%.2f–%.2f) |%n", x.op(), num(x.ours()), num(x.peer()), x.ratio(), x.ratioQ1(), x.ratioQ3()));
        int rounds = all.stream().mapToInt(Summary::rounds).max().orElse(0);
        s.append(String.format(Locale.ROOT, "%nPeerRun %s, %s × %s, threads for both engines: %s, commit %s, %d interleaved rounds%n",
                h.path("date_utc").asText(), h.path("nproc").asText(), h.path("cpu").asText(), h.path("threads").asText(),
                h.path("commit").asText(), rounds));
        return s.toString();
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.0f" : Math.abs(v) >= 10 ? "%.1f" : "%.2f", v);
    }
}
