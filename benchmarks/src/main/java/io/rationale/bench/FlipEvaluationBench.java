package io.rationale.bench;

import io.rationale.engine.Backend;
import io.rationale.dataset.Annotations;
import io.rationale.dataset.Example;
import io.rationale.dataset.TextField;
import io.rationale.engine.Model;
import io.rationale.eval.FlipEvaluation;
import io.rationale.eval.LabelWords;
import io.rationale.eval.PromptBuilder;
import io.rationale.eval.RandomRationale;
import io.rationale.eval.TaskTemplate;
import io.rationale.metrics.Masking;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Arch;
import io.rationale.tools.DType;
import io.rationale.tools.ModelSpec;
import io.rationale.tools.TinyModel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The masked-batch flip evaluation of one MedicalBios-length example: {@link FlipEvaluation} with the prompt prefix
 * prefilled once and the variants' rests run as packed batches ({@code batchedPrefixReuse}) against every variant's
 * complete prompt in its own forward ({@code oneByOne}). Same variants, same tokens, same label probabilities (checked
 * in the setup).
 *
 * <p>Setting: a random Llama-shaped model written by weights-tools' {@link TinyModel} into a temp folder (hidden
 * 512, 8 layers, 8 heads / 4 KV heads of dim 64, MLP 1408, vocabulary 8192, f32: about 30 M parameters, 120 MB),
 * its byte-level tokenizer and chat template; the MedicalBios template with 2 demonstrations (few-shot prefix); a
 * bio of about 100 words; 3 attribution-like methods (seeded random rankings standing in for real scores) plus the
 * random baseline, each at 6 sizes (k = 12 and the 5 AOPC fractions), removed and kept alone.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar FlipEvaluationBench -f 1 -wi 2 -i 3}.
 *
 * <p>On a machine shared with other jobs the load changes between JMH's two sequential benchmarks; {@link #main}
 * measures PAIRS instead (batched then one-by-one, alternating, after one warm-up pair) and prints each pair's ratio
 * and their median: {@code java --add-modules=jdk.incubator.vector -cp benchmarks/target/benchmarks.jar
 * io.rationale.bench.FlipEvaluationBench 5}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class FlipEvaluationBench {
    static final List<String> LABELS = List.of("dentist", "nurse", "physician", "psychologist", "surgeon");

    static final String BIO = "She completed her medical degree at the state university and then spent six years in "
            + "residency training at a large teaching hospital, where she focused on disorders of the heart and the lungs. "
            + "Today she runs a busy outpatient clinic, sees about thirty patients a day, orders and reads laboratory tests, "
            + "prescribes medication and refers complex cases to specialists. She is board certified in internal medicine, "
            + "speaks three languages, and volunteers at a free clinic for uninsured families on weekends. Her patients "
            + "describe her as patient, careful and easy to talk to.";
    static final String DEMO1 = "He has worked on the night shift of the children's ward for twelve years, checks vital "
            + "signs, gives medicine on schedule, changes dressings and explains every step of the treatment to worried "
            + "parents. He trains new staff in infection control.";
    static final String DEMO2 = "After finishing dental school she opened a small practice in her home town. She cleans "
            + "teeth, fills cavities, fits crowns and braces, and teaches children how to brush and floss properly.";

    Path dir;
    Model model;
    Backend backend;
    Tokenizer tok;
    FlipEvaluation flip;
    Example example;
    PromptBuilder.Layout layout;
    List<FlipEvaluation.Ranked> methods;

    static ModelSpec spec() {
        ModelSpec s = new ModelSpec();
        s.arch = Arch.LLAMA;
        s.hidden = 512;
        s.layers = 8;
        s.heads = 8;
        s.kvHeads = 4;
        s.intermediate = 1408;
        s.vocab = 8192;
        s.maxPositions = 4096;
        s.ropeTheta = 10000.0;
        s.rmsNormEps = 1e-5;
        s.tied = false;
        s.dtype = DType.F32;
        return s;
    }

    static Example bio(String id, String text, String label) {
        return new Example(id, List.of(TextField.of("bio", text)), label, LABELS, null, Annotations.none(), Map.of());
    }

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = Files.createTempDirectory("flip-bench-");
        TinyModel.write(spec(), 11, dir, 0, Runtime.getRuntime().availableProcessors(), null);
        model = Model.load(dir);
        backend = BenchModel.open(model);
        tok = Tokenizer.load(dir);
        TaskTemplate t = TaskTemplate.medicalBios(LABELS);
        LabelWords lw = LabelWords.resolve(tok, LABELS, t.labelWordCandidates());
        PromptBuilder prompts = PromptBuilder.forTokenizer(tok, t, lw);
        example = bio("bench", BIO, "physician");
        layout = prompts.layout(example, List.of(bio("d1", DEMO1, "nurse"), bio("d2", DEMO2, "dentist")));
        flip = new FlipEvaluation(backend, lw, Masking.DELETE, 0);
        int n = example.totalWords();
        methods = new ArrayList<>();
        Random r = new Random(5);
        for (String m : List.of("saliency", "input_x_gradient", "attention")) {
            methods.add(new FlipEvaluation.Ranked(m, RandomRationale.ranking(n, r.nextLong()), 12, true));
        }
        methods.add(new FlipEvaluation.Ranked("random", RandomRationale.ranking(n, RandomRationale.seed(0, example.id())), 12, true));

        FlipEvaluation.Outcome a = flip.evaluate(example, layout, methods, FlipEvaluation.Strategy.PREFIX_BATCHED);
        FlipEvaluation.Outcome b = flip.evaluate(example, layout, methods, FlipEvaluation.Strategy.ONE_BY_ONE);
        double maxDiff = 0;
        for (int v = 0; v < a.variants().size(); v++) {
            double[] p = a.variants().get(v).scores().probs(), q = b.variants().get(v).scores().probs();
            for (int i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i] - q[i]));
        }
        if (maxDiff > 1e-4) throw new IllegalStateException("batched and one-by-one probabilities differ by " + maxDiff);
        System.out.printf("%nsetting: %d words, prefix %d tokens, original rest %d tokens; %d variants requested, %d distinct; "
                        + "batched: %d forwards, %d tokens; one-by-one: %d forwards, %d tokens; max |Δp| = %.2e%n",
                n, layout.prefixIds().length, layout.classify(List.of(BIO)).restIds().length, a.requested(), a.variants().size(),
                a.forwards(), a.tokens(), b.forwards(), b.tokens(), maxDiff);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        backend.close();
        model.close();
        tok.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** Alternating pairs (argument: number of pairs, default 5), after one warm-up pair. */
    public static void main(String[] args) throws IOException {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        FlipEvaluationBench b = new FlipEvaluationBench();
        b.setup();
        try {
            b.batchedPrefixReuse();
            b.oneByOne();
            double[] ratios = new double[pairs];
            for (int i = 0; i < pairs; i++) {
                long t0 = System.nanoTime();
                b.batchedPrefixReuse();
                long t1 = System.nanoTime();
                b.oneByOne();
                long t2 = System.nanoTime();
                ratios[i] = (double) (t2 - t1) / (t1 - t0);
                System.out.printf("pair %d: batchedPrefixReuse %.0f ms, oneByOne %.0f ms, ratio %.2f%n", i + 1, (t1 - t0) / 1e6, (t2 - t1) / 1e6, ratios[i]);
            }
            double[] s = ratios.clone();
            java.util.Arrays.sort(s);
            double median = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
            System.out.printf("median ratio oneByOne / batchedPrefixReuse = %.2f over %d pairs%n", median, pairs);
        } finally {
            b.tearDown();
        }
    }

    @Benchmark
    public FlipEvaluation.Outcome batchedPrefixReuse() {
        return flip.evaluate(example, layout, methods, FlipEvaluation.Strategy.PREFIX_BATCHED);
    }

    @Benchmark
    public FlipEvaluation.Outcome oneByOne() {
        return flip.evaluate(example, layout, methods, FlipEvaluation.Strategy.ONE_BY_ONE);
    }
}
