package io.rationale.attribution;

import io.rationale.engine.Backend;
import io.rationale.engine.ForwardOptions;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.TestBackends;
import io.rationale.tokenizer.Tokenizer;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import io.rationale.tools.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every attribution method on every device of {@link TestBackends} (the CPU, the emulated CUDA device when built, a
 * GPU in the GPU check) against the CPU engine: {@code --method all} in one run (one recorded forward with attention
 * probabilities, one plain-gradient backward for saliency and input_x_gradient, one per LRP rule, integrated
 * gradients batched on the device, occlusion after forks of the input's cache, random), on the tiny model in f32 and
 * in bf16 and on stories260K (f32). The same target, and per method every token score within a tolerance of the
 * method's largest |score| on the CPU:
 * <ul>
 * <li>f32 models: 1e-4 for the gradient methods and integrated gradients (f32 forward and backward in another
 *     summation order), 1e-5 absolute for attention and rollout (probabilities),
 *     occlusion within 1e-4·max(1, |f(x)|); random identical. Measured on the emulated device: worst 1.4e-6 of the
 *     largest |score| (input_x_gradient, tiny), attention 3.7e-8 absolute.</li>
 * <li>bf16 model: the device rounds the input of every GEMM over more than 8 rows to bf16 in the forward and the
 *     backward (as PyTorch does with a bf16 model; the CPU widens the weights and stays f32), so scores move by a few
 *     bf16 roundings: 5e-2 of the largest |score| for gradients, LRP, IG and occlusion, 2e-3 absolute for attention
 *     (measured on the emulated device: worst 2.3e-2 of the largest |score|, input_x_gradient; attention 5.6e-4).</li>
 * </ul>
 * Integrated gradients on the device also satisfies completeness on its own (|Σ scores − (f(x) − f(b))| within 2% of
 * |f(x) − f(b)| at 32 steps with a token baseline), and gives the same scores in one batch, in small batches and with
 * checkpointed records.
 *
 * <p>After a cached prefix ({@link #afterACachedPrefixEqualsTheCpuOnTheWholeInput}): the gradient and LRP methods
 * recorded only from the first study token on (the device's prefix records) against the CPU on the whole input,
 * within the same tolerances.
 */
class DeviceAttributionTest {
    static final String TEXT = "When the small boat was warm, Tom saw the sea";
    static final Map<String, Fixtures.Engine> CPU = new LinkedHashMap<>();
    static final List<AutoCloseable> OPEN = new ArrayList<>();
    static Path tinyBf16;

    static synchronized Path tinyBf16() {
        if (tinyBf16 == null) {
            try {
                Path dir = Files.createTempDirectory("attr-tiny-bf16");
                var spec = Presets.get("tiny");
                spec.dtype = DType.BF16;
                TinyModel.write(spec, 7, dir, 0, 1, null);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> Fixtures.delete(dir)));
                tinyBf16 = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tinyBf16;
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String d : TestBackends.devices())
            for (String m : List.of("tiny-f32", "tiny-bf16", "stories260K")) out.add(Arguments.of(d, m));
        return out.stream();
    }

    static Path dir(String model) {
        return switch (model) {
            case "tiny-f32" -> Fixtures.tiny();
            case "tiny-bf16" -> tinyBf16();
            default -> Fixtures.STORIES;
        };
    }

    static synchronized Fixtures.Engine cpu(String model) {
        return CPU.computeIfAbsent(model, m -> Fixtures.Engine.open(dir(m)));
    }

    @AfterAll
    static void close() throws Exception {
        for (Fixtures.Engine e : CPU.values()) e.close();
        CPU.clear();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void everyMethodEqualsTheCpu(String device, String modelName) {
        Fixtures.Engine cpu = cpu(modelName);
        boolean bf16 = modelName.endsWith("bf16");
        AttributionInput in = AttributionInput.of(cpu.tok().encode(TEXT));
        Options o = Options.defaults().withSteps(16).withBaselineToken(1);
        AttributionSet want = cpu.attributor().run(in, TargetSpec.argmaxLogit(), List.of(Method.values()), o);
        try (Backend b = TestBackends.open(cpu.model(), device)) {
            AttributionSet got = new Attributor(b).run(in, TargetSpec.argmaxLogit(), List.of(Method.values()), o);
            assertEquals(want.target().spec(), got.target().spec(), "target");
            // pe_lrp needs RoPE's positional relevance, which only the CPU backward gives: it ran on a CPU backend, and says so
            assertEquals(b.supportsPositionalRelevance(), !got.get(Method.PE_LRP).extras().containsKey("computed_on"),
                    got.get(Method.PE_LRP).extras().toString());
            for (Method m : Method.values()) {
                double[] w = want.get(m).scores(), g = got.get(m).scores();
                assertEquals(w.length, g.length, m.cliName());
                double max = 0;
                for (double x : w) max = Math.max(max, Math.abs(x));
                double tol = switch (m) {
                    case ATTENTION, ATTENTION_ROLLOUT -> bf16 ? 2e-3 : 1e-5;
                    case RANDOM -> 0;
                    case OCCLUSION -> (bf16 ? 5e-2 : 1e-4) * Math.max(max, Math.max(1, Math.abs(want.target().value())));
                    default -> (bf16 ? 5e-2 : 1e-4) * max;
                };
                double worst = 0;
                for (int i = 0; i < w.length; i++) {
                    if (Double.isNaN(w[i])) {
                        assertTrue(Double.isNaN(g[i]), m.cliName() + " token " + i + " is NaN on the CPU");
                        continue;
                    }
                    worst = Math.max(worst, Math.abs(w[i] - g[i]));
                    int idx = i;
                    assertTrue(Math.abs(w[i] - g[i]) <= tol, () -> device + " " + modelName + " " + m.cliName() + " token " + idx + ": " + g[idx]
                            + ", CPU " + w[idx] + " (tolerance " + tol + ")");
                }
                System.out.printf("[attribution] %s %s %s: worst |diff| %.3g (%.3g of the largest |score| %.3g), %.3f s%n", device, modelName,
                        m.cliName(), worst, max == 0 ? 0 : worst / max, max, got.get(m).seconds());
            }
            // integrated gradients on this device: completeness, and batching changes nothing
            if (!modelName.equals("stories260K")) {
                Options ig = Options.defaults().withSteps(32).withBaselineToken(1);
                Attribution one = new Attributor(b).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, ig);
                assertTrue((Double) one.extras().get("completeness_error") <= 0.02, one.extras().toString());
                Attribution chunked = new Attributor(b).attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS,
                        ig.withMaxBatchTokens(5 * in.size()));
                assertEquals(7, chunked.extras().get("batches"));
                Attribution small = new Attributor(b, b.bytesPerRecordedSequence(in.size(), false) - 1)
                        .attribute(in, TargetSpec.argmaxLogit(), Method.INTEGRATED_GRADIENTS, ig);
                assertEquals(true, small.extras().get("recompute"));
                double max = 0;
                for (double x : one.scores()) max = Math.max(max, Math.abs(x));
                for (int i = 0; i < in.size(); i++) {
                    assertEquals(one.scores()[i], chunked.scores()[i], 1e-5 * max, "chunked token " + i);
                    assertEquals(one.scores()[i], small.scores()[i], 1e-5 * max, "checkpointed token " + i);
                }
            }
        }
    }

    /**
     * {@link Attributor#run(AttributionInput, TargetSpec, List, Options, KvCache)} on each device with a prefix cache
     * prefilled on that device (PrefixAttributionTest's text: instructions, then the study range; the cache holds two
     * study tokens too, so the cut falls at the first study token): saliency, input_x_gradient, attnlrp and cplrp run
     * after the prefix (they say so: {@code cached_prefix_tokens}); their scores after the cut equal the CPU's on the
     * whole input (the independent path) within {@link #everyMethodEqualsTheCpu}'s tolerances (1e-4 of the largest
     * |score|, 5e-2 with bf16), the tokens before it score 0. Again with checkpointed records (a memory budget of 1
     * byte: the backward recomputes each layer after the prefix).
     */
    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void afterACachedPrefixEqualsTheCpuOnTheWholeInput(String device, String modelName) {
        Fixtures.Engine cpu = cpu(modelName);
        boolean bf16 = modelName.endsWith("bf16");
        String text = PrefixAttributionTest.INSTRUCTIONS + PrefixAttributionTest.STUDY + "\nAnswer:";
        int from = PrefixAttributionTest.INSTRUCTIONS.length() + 1;
        AttributionInput in = AttributionInput.of(cpu.tok().encode(text), from, from - 1 + PrefixAttributionTest.STUDY.length());
        int first = 0;
        while (!in.inStudy(first)) first++;
        List<Method> methods = List.of(Method.SALIENCY, Method.INPUT_X_GRADIENT, Method.ATTNLRP, Method.CPLRP);
        Options o = Options.defaults();
        AttributionSet want = cpu.attributor().run(in, TargetSpec.argmaxLogit(), methods, o);
        try (Backend b = TestBackends.open(cpu.model(), device); KvCache prefix = b.newCache()) {
            assertTrue(b.supportsPrefixRecord(), device + " records after a cached prefix");
            b.forward(List.of(Arrays.copyOf(in.ids(), first + 2)), List.of(prefix), ForwardOptions.of(LogitsMode.NONE));
            for (boolean checkpointed : new boolean[]{false, true}) {
                AttributionSet got = (checkpointed ? new Attributor(b, 1) : new Attributor(b)).run(in, TargetSpec.argmaxLogit(), methods, o, prefix);
                assertEquals(first + 2, prefix.length(), "the prefix cache is not modified");
                assertEquals(want.target().spec(), got.target().spec(), "target");
                for (Method m : methods) {
                    String what = device + " " + modelName + (checkpointed ? " checkpointed " : " ") + m.cliName();
                    Attribution a = got.get(m);
                    assertEquals(first, a.extras().get("cached_prefix_tokens"), what + " ran after the prefix");
                    if (checkpointed) assertEquals(true, a.extras().get("checkpointed_record"), what + " checkpointed");
                    double[] w = want.get(m).scores(), g = a.scores();
                    double max = 0, worst = 0;
                    for (int i = first; i < w.length; i++) max = Math.max(max, Math.abs(w[i]));
                    assertTrue(max > 0, what + ": all zero");
                    double tol = (bf16 ? 5e-2 : 1e-4) * max;
                    for (int i = 0; i < w.length; i++) {
                        double expected = i < first ? 0 : w[i];
                        worst = Math.max(worst, Math.abs(expected - g[i]));
                        assertTrue(Math.abs(expected - g[i]) <= tol, what + " token " + i + ": " + g[i] + ", CPU " + expected + " (tolerance " + tol + ")");
                    }
                    System.out.printf("[attribution after a prefix] %s: worst |diff| %.3g (%.3g of the largest |score| %.3g)%n", what, worst,
                            worst / max, max);
                }
            }
        }
    }
}
