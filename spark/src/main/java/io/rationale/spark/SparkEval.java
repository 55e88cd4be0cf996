package io.rationale.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.rationale.dataset.Dataset;
import io.rationale.dataset.DatasetLoader;
import io.rationale.engine.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rationale.eval.AttributionRunner;
import io.rationale.eval.DistributedEval;
import io.rationale.eval.EvalOptions;
import io.rationale.eval.EvalRunner;
import io.rationale.eval.EvaluatorFactory;
import io.rationale.eval.ExampleResult;
import io.rationale.eval.ExamplesLog;
import io.rationale.eval.ModelEvaluator;
import io.rationale.eval.RunManifest;
import io.rationale.lora.Adapters;
import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.TaskInfo;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * An evaluation's pending examples as a Spark job ({@code eval --spark MASTER}), and in the same way the attributions
 * of a dataset's pending examples ({@code attribute --dataset --spark MASTER}, {@link #attribute}: the tasks run
 * {@link AttributionRunner#attributeExample} and write attributions.jsonl lines; everything else is this job).
 *
 * <p>The driver ({@link EvalRunner}) loads the dataset, writes run.json and opens its evaluator through
 * {@link #factory()} (the JVM's shared one, {@link EngineHolder}). This class splits the pending example indices into
 * partitions; each task opens (once per executor JVM and device) the same {@link ModelEvaluator} the local run uses,
 * on the GPU Spark assigned it ({@code spark.task.resource.gpu.amount}; the first address {@code N} becomes
 * {@code cuda:N}) or else on the fallback device ({@code --device}), evaluates its examples with
 * {@link EvalRunner#evaluateExample} and writes them as examples.jsonl lines into
 * {@code OUT/spark-parts/RUN/part-NNNNN.jsonl}, named by its partition id, all at once (a temporary file, fsync,
 * rename): a retried task replaces its partition's file, a failed one leaves none. The driver hands each
 * partition's lines to the runner as its task ends ({@link Handover}), which appends them to examples.jsonl, and
 * the runner writes summary and report exactly as for a local run.
 *
 * <p>After a failed job the driver still hands over the partitions that completed (so the results folder resumes
 * after them); a driver killed before that leaves part files that the next run of the same command takes in before
 * it starts its job, and a task whose part file already exists returns at once.
 */
public final class SparkEval implements DistributedEval {
    /** Folder of the part files under the results folder. */
    public static final String PARTS = "spark-parts";

    private final SparkSession spark;
    private final boolean ownSession;
    private final String master;
    private final Device device;
    private final Integer partitions;
    private final ModelEvaluator.Settings settings;
    private volatile String devices;
    private int failPartition = -1, failAttempts;

    /**
     * @param spark      the session the job runs in
     * @param device     the device of tasks without an assigned GPU, and of the driver's evaluator
     * @param partitions tasks (null: the context's default parallelism); never more than the pending examples
     */
    public SparkEval(SparkSession spark, Device device, Integer partitions) {
        this(spark, false, device, partitions, ModelEvaluator.Settings.defaults());
    }

    private SparkEval(SparkSession spark, boolean ownSession, Device device, Integer partitions, ModelEvaluator.Settings settings) {
        if (partitions != null && partitions < 1) throw new IllegalArgumentException("partitions must be >= 1, got " + partitions);
        this.spark = spark;
        this.ownSession = ownSession;
        this.master = spark.sparkContext().master();
        this.device = device == null ? Device.AUTO : device;
        this.partitions = partitions;
        this.settings = settings == null ? ModelEvaluator.Settings.defaults() : settings;
    }

    /**
     * Test hook: the first {@code attempts} attempts of partition {@code partition}'s task fail on purpose after
     * evaluating one example (before their part file is written).
     */
    SparkEval failAttempts(int partition, int attempts) {
        this.failPartition = partition;
        this.failAttempts = attempts;
        return this;
    }

    /**
     * The session for {@code master} with what this engine needs: in local mode the driver binds to 127.0.0.1 and
     * Spark's console progress bar is off (the runner prints its own); settings given as {@code spark.*} system
     * properties (spark-submit's {@code --conf}) are kept.
     */
    public static SparkSession session(String master) {
        SparkConf conf = new SparkConf().setMaster(master).setAppName("rationale eval");
        if (master.startsWith("local")) {
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
        }
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        return SparkSession.builder().config(conf).getOrCreate();
    }

    @Override
    public EvaluatorFactory factory(Adapters adapters) {
        return (modelDir, dataset, options) -> EngineHolder.get(key(modelDir.toString(), dataset, options, adapters, settings, device.toString()),
                () -> ModelEvaluator.open(modelDir, dataset, options, device, adapters, settings));
    }

    @Override
    public String device() { return devices; }

    @Override
    public void evaluate(EvalRunner.Job job, Consumer<ExampleResult> sink) throws IOException {
        run(job, Work.EVAL, lines -> {
            if (lines.size() != 1) throw new IllegalStateException(lines.size() + " examples.jsonl lines for one example");
            sink.accept(read(lines.getFirst(), ExampleResult.class));
        });
    }

    /**
     * {@code attribute --dataset --spark}: the same job as {@link #evaluate}, each task running
     * {@link AttributionRunner#attributeExample} on its examples and writing their attributions.jsonl lines.
     */
    @Override
    public void attribute(EvalRunner.Job job, Consumer<List<ObjectNode>> sink) throws IOException {
        run(job, Work.ATTRIBUTE, lines -> {
            List<ObjectNode> nodes = new ArrayList<>(lines.size());
            for (String l : lines) nodes.add(read(l, ObjectNode.class));
            sink.accept(nodes);
        });
    }

    /** What a task does with each of its examples. */
    enum Work {
        /** {@link EvalRunner#evaluateExample}: one examples.jsonl line. */
        EVAL,
        /** {@link AttributionRunner#attributeExample}: one attributions.jsonl line per method. */
        ATTRIBUTE
    }

    /**
     * The job for {@code work}: the pending examples in partitions, each task's lines in its part file, each example's
     * lines handed to {@code sink} together (the part files' lines of one example, in order).
     */
    private void run(EvalRunner.Job job, Work work, Consumer<List<String>> sink) throws IOException {
        EvalRunner.Config c = job.config();
        Path parts = c.out().toAbsolutePath().normalize().resolve(PARTS);
        Path root = parts.resolve(hash("run|" + job.manifest().started()));
        // the part files of runs this folder no longer holds (--restart) are dropped; those of this run that an
        // earlier, killed driver left are done examples
        if (Files.isDirectory(parts)) {
            try (Stream<Path> s = Files.list(parts)) {
                for (Path other : s.filter(x -> !x.equals(root)).toList()) deleteTree(other);
            }
        }
        Set<Integer> pending = new LinkedHashSet<>(job.pending());
        for (Map.Entry<Integer, List<String>> e : leftovers(root, job.dataset()).entrySet()) if (pending.remove(e.getKey())) sink.accept(e.getValue());
        if (pending.isEmpty()) {
            deleteTree(parts);
            return;
        }
        List<Integer> todo = List.copyOf(pending);
        if (spark.sparkContext().isStopped()) {
            // e.g. a standalone master that cannot be reached: Spark gives up after a minute and stops the context,
            // whose every call then throws a message holding the context's creation stack
            throw new EvalRunner.EvalException("the Spark context for " + master + " was stopped before the job could start (Spark's log "
                    + "above says why, e.g. 'All masters are unresponsive'); " + (job.pending().size() - todo.size())
                    + " examples were taken in, run the same command again to resume");
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int n = Math.min(todo.size(), partitions != null ? partitions : Math.max(1, jsc.defaultParallelism()));
        Path dir = root.resolve(hash("job|" + n + "|" + todo));
        Files.createDirectories(dir);
        // absolute paths: an executor's working folder is not the driver's
        List<String> adapters = c.adapters().specs().stream().map(a -> a.dir().toAbsolutePath().normalize() + ":" + a.scale()).toList();
        Task task = new Task(work, c.model().toAbsolutePath().normalize().toString(), RunManifest.normalizeSpec(c.dataset()), json(c.options()),
                adapters, c.adapters().unmerged(), json(settings), c.onError().name(), dir.toString(), device.toString(), failPartition, failAttempts);
        JavaRDD<Integer> indices = jsc.parallelize(todo, n);
        List<TaskReport> reports;
        Handover handover = new Handover(dir, n, job.dataset(), sink);
        spark.sparkContext().addSparkListener(handover);
        try {
            try {
                reports = indices.mapPartitions((FlatMapFunction<Iterator<Integer>, TaskReport>) it -> runTask(task, it)).collect();
            } catch (Exception e) {   // SparkException, which Scala throws undeclared
                int kept = handover.finish();
                throw new EvalRunner.EvalException("the Spark job failed (" + firstLine(e) + "); the " + kept + " examples of its completed tasks "
                        + "are kept, run the same command again to resume", e);
            }
            handover.finish();
        } finally {
            spark.sparkContext().removeSparkListener(handover);
        }
        Set<String> used = new LinkedHashSet<>();
        for (TaskReport r : reports) if (r.device() != null) used.add(r.device());
        devices = "spark " + master + ", " + n + " tasks: " + String.join("; ", used);
        deleteTree(parts);
    }

    /**
     * Hands each partition's part file to the sink once: as its task ends (a listener on Spark's event thread, so the
     * runner reports progress and keeps the results while the job runs) and, for the rest, at the job's end on the
     * driver's thread. One lock around every hand-over; nothing after {@link #finish}.
     */
    private static final class Handover extends SparkListener {
        private final Path dir;
        private final int n;
        private final Dataset dataset;
        private final Consumer<List<String>> sink;
        private final boolean[] handed;
        private int count;
        private boolean finished;
        private Exception failure;

        Handover(Path dir, int n, Dataset dataset, Consumer<List<String>> sink) {
            this.dir = dir;
            this.n = n;
            this.dataset = dataset;
            this.sink = sink;
            this.handed = new boolean[n];
        }

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            TaskInfo info = end.taskInfo();
            if (info == null || !info.successful()) return;
            synchronized (this) {
                if (failure != null) return;
                try {
                    hand(info.partitionId());
                } catch (IOException | RuntimeException e) {
                    failure = e;   // reported by finish(), on the driver's thread
                }
            }
        }

        private synchronized void hand(int p) throws IOException {
            if (finished || p < 0 || p >= n || handed[p]) return;
            Path part = dir.resolve(partName(p));
            if (!Files.exists(part)) return;   // another job's task, or this partition's file not yet renamed
            Map<Integer, List<String>> results = read(part, dataset);
            handed[p] = true;
            for (List<String> lines : results.values()) {
                sink.accept(lines);
                count++;
            }
        }

        /** Hands over the partitions not yet handed over and returns the examples handed over in all. */
        synchronized int finish() throws IOException {
            try {
                if (failure instanceof IOException e) throw e;
                if (failure instanceof RuntimeException e) throw e;
                for (int p = 0; p < n; p++) hand(p);
                return count;
            } finally {
                finished = true;
            }
        }
    }

    /**
     * The lines in every part file under {@code root} (earlier jobs of this results folder), by example (the first
     * job's lines of an example when two jobs hold it).
     */
    private static Map<Integer, List<String>> leftovers(Path root, Dataset dataset) throws IOException {
        Map<Integer, List<String>> out = new java.util.LinkedHashMap<>();
        if (!Files.isDirectory(root)) return out;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(f -> f.getFileName().toString().matches("part-\\d{5}\\.jsonl")).sorted().toList()) {
                read(f, dataset).forEach(out::putIfAbsent);
            }
        }
        return out;
    }

    /** A part file's lines by example index (in file order; an example's lines are consecutive). */
    private static Map<Integer, List<String>> read(Path part, Dataset dataset) throws IOException {
        Map<Integer, List<String>> out = new java.util.LinkedHashMap<>();
        int line = 0;
        for (String l : Files.readAllLines(part, StandardCharsets.UTF_8)) {
            line++;
            if (l.isBlank()) continue;
            com.fasterxml.jackson.databind.JsonNode index;
            try {
                index = ExamplesLog.MAPPER.readTree(l).get("index");
            } catch (JsonProcessingException e) {
                throw new IOException(part + ":" + line + ": not a result line (" + e.getOriginalMessage() + ")", e);
            }
            if (index == null || !index.isInt()) throw new IOException(part + ":" + line + ": a result line without its example index");
            int i = index.asInt();
            if (i < 0 || i >= dataset.size()) throw new IOException(part + ":" + line + ": example " + i + " is not in the dataset");
            out.computeIfAbsent(i, k -> new ArrayList<>()).add(l);
        }
        return out;
    }

    /** A folder name for {@code what} (a run: run.json's start; a job: its partitions and examples). */
    static String hash(String what) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            return what.substring(0, what.indexOf('|')) + "-"
                    + HexFormat.of().formatHex(md.digest(what.getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String partName(int partition) { return String.format(Locale.ROOT, "part-%05d.jsonl", partition); }

    /** What a task needs, serialised to the executors. */
    record Task(Work work, String model, String dataset, String options, List<String> adapters, boolean unmerged, String settings,
                String onError, String dir, String fallbackDevice, int failPartition, int failAttempts) implements Serializable {
        Task {
            adapters = new ArrayList<>(adapters);   // a serialisable list
        }
    }

    /** What a task did: its partition, the examples it wrote (-1: its part file was there already), its device. */
    record TaskReport(int partition, int examples, String device) implements Serializable {}

    private static final Map<String, Dataset> DATASETS = new ConcurrentHashMap<>();

    /** One partition, on an executor. */
    static Iterator<TaskReport> runTask(Task t, Iterator<Integer> indices) throws IOException {
        TaskContext tc = TaskContext.get();
        int p = tc.partitionId();
        Path dir = Path.of(t.dir());
        Path part = dir.resolve(partName(p));
        if (Files.exists(part)) return List.of(new TaskReport(p, -1, null)).iterator();
        String device = taskDevice(tc, t.fallbackDevice());
        Dataset dataset = DATASETS.computeIfAbsent(t.dataset(), DatasetLoader::load);
        EvalOptions options = read(t.options(), EvalOptions.class);
        Adapters adapters = Adapters.parse(t.adapters(), t.unmerged());
        ModelEvaluator.Settings settings = read(t.settings(), ModelEvaluator.Settings.class);
        Device d = Device.parse(device);
        EngineHolder.Shared evaluator = EngineHolder.get(key(t.model(), dataset, options, adapters, settings, device),
                () -> ModelEvaluator.open(Path.of(t.model()), dataset, options, d, adapters, settings));
        EvalRunner.OnError onError = EvalRunner.OnError.valueOf(t.onError());
        StringBuilder lines = new StringBuilder();
        int count = 0;
        while (indices.hasNext()) {
            int i = indices.next();
            if (i < 0 || i >= dataset.size()) throw new IllegalStateException("example " + i + " is not in " + t.dataset() + " on this executor");
            if (t.work() == Work.EVAL) {
                ExampleResult r = EvalRunner.evaluateExample(evaluator, i, dataset.examples().get(i), onError);
                lines.append(ExamplesLog.MAPPER.writeValueAsString(r)).append('\n');
            } else {
                for (ObjectNode l : AttributionRunner.attributeExample(evaluator, i, dataset.examples().get(i), onError, options).lines())
                    lines.append(ExamplesLog.MAPPER.writeValueAsString(l)).append('\n');
            }
            count++;
            if (p == t.failPartition() && tc.attemptNumber() < t.failAttempts()) failOnPurpose(tc, dir);
        }
        writeAtomically(dir, part, lines.toString().getBytes(StandardCharsets.UTF_8), tc.attemptNumber());
        return List.of(new TaskReport(p, count, evaluator.device())).iterator();
    }

    /**
     * The test hook's failure: once the job's other partitions are written (so what a failed job keeps is known), or
     * after two minutes.
     */
    private static void failOnPurpose(TaskContext tc, Path dir) {
        int others = tc.numPartitions() - 1;
        long until = System.nanoTime() + 120_000_000_000L;
        try {
            while (System.nanoTime() < until) {
                try (Stream<Path> s = Files.list(dir)) {
                    if (s.filter(f -> f.getFileName().toString().startsWith("part-")).count() >= others) break;
                }
                Thread.sleep(50);
            }
        } catch (IOException | InterruptedException e) {
            // fail now
        }
        throw new IllegalStateException("test hook: attempt " + tc.attemptNumber() + " of partition " + tc.partitionId() + " fails on purpose");
    }

    /** The task's GPU ({@code cuda:N} for its first assigned address) or the fallback device. */
    static String taskDevice(TaskContext tc, String fallback) {
        return taskDevice(tc.resourcesJMap(), fallback);
    }

    /** {@link #taskDevice(TaskContext, String)} from the task's resources. */
    static String taskDevice(Map<String, ResourceInformation> resources, String fallback) {
        ResourceInformation gpu = resources.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) return fallback;
        String a = gpu.addresses()[0].trim();
        if (!a.matches("\\d+")) throw new IllegalStateException("GPU address '" + a + "' from Spark is not a CUDA device number (the discovery script's addresses)");
        return "cuda:" + a;
    }

    /** Writes {@code part} so that no reader sees it half written; a retried attempt's file replaces an earlier one. */
    static void writeAtomically(Path dir, Path part, byte[] bytes, int attempt) throws IOException {
        Path tmp = dir.resolve("." + part.getFileName() + ".attempt-" + attempt + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            var buf = java.nio.ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        try {
            Files.move(tmp, part, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, part, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static EngineHolder.Key key(String model, Dataset dataset, EvalOptions options, Adapters adapters, ModelEvaluator.Settings settings,
                                String device) {
        String variant = adapters.specs().stream().map(a -> a.dir().toAbsolutePath().normalize() + ":" + a.scale()).toList()
                + (adapters.unmerged() ? " unmerged" : "") + " " + json(settings);
        return new EngineHolder.Key(Path.of(model).toAbsolutePath().normalize().toString(),
                dataset.kind() + ":" + dataset.path().toAbsolutePath().normalize(), json(options), variant, device);
    }

    static String json(Object o) {
        try {
            return ExamplesLog.MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    static <T> T read(String json, Class<T> type) {
        try {
            return ExamplesLog.MAPPER.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    @Override
    public void close() {
        if (ownSession) spark.stop();
    }

    /** {@code eval --spark MASTER}: a session of its own, stopped at the end. */
    public static final class Provider implements DistributedEval.Provider {
        @Override
        public DistributedEval open(String master, Device device, Integer partitions, ModelEvaluator.Settings settings) {
            return new SparkEval(session(master), true, device, partitions, settings);
        }
    }
}
