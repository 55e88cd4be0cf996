package io.rationale.cpu;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.engine.Activations;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.engine.RuleMode;
import io.rationale.engine.Target;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Manual speed check of the backward pass, not a test (surefire does not pick it up): a random bf16 model of
 * TinyLlama-1.1B shape (~2.2 GB of native memory), one sequence of {@code tokens} (default 128): plain forward vs
 * forward with a record + backward, per rule mode and with a checkpointed record, in seconds (median of rounds).
 * Run: {@code java --add-modules=jdk.incubator.vector -cp <classes:test-classes:deps> io.rationale.cpu.ManualBackwardSpeedCheck [threads] [tokens] [rounds]}.
 */
public final class ManualBackwardSpeedCheck {
    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int len = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        String json = """
                {"architectures":["LlamaForCausalLM"],"hidden_size":2048,"intermediate_size":5632,"num_hidden_layers":22,
                 "num_attention_heads":32,"num_key_value_heads":4,"vocab_size":32000,"rms_norm_eps":1e-5,"rope_theta":10000.0,
                 "max_position_embeddings":2048,"tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":2}""";
        ModelConfig c = ModelConfig.parse(new ObjectMapper().readTree(json), "tinyllama-shape");
        Map<String, Tensor> t = new LinkedHashMap<>();
        long seed = 42;
        for (var e : c.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) n *= d;
            MemorySegment seg = Arena.global().allocate(n * 2, 64);
            boolean norm = e.getValue().length == 1;
            for (long i = 0; i < n; i += 4) {
                long bits = 0;
                for (int j = 0; j < 4; j++) {
                    seed = seed * 6364136223846793005L + 1442695040888963407L;
                    int r = (int) (seed >>> 40);
                    short bf = norm ? (short) 0x3f80 : (short) (((r & 1) << 15) | ((120 + ((r >> 1) & 1)) << 7) | ((r >> 2) & 0x7f));
                    bits |= (bf & 0xffffL) << (16 * j);
                }
                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i * 2, bits);
            }
            t.put(e.getKey(), new Tensor(e.getKey(), DType.BF16, e.getValue(), seg));
        }
        int[] prompt = new int[len];
        for (int i = 0; i < len; i++) prompt[i] = 1 + (i * 7919) % 31999;
        List<Target> target = List.of(new Target.Logit(42));
        try (CpuBackend b = new CpuBackend(Model.of(c, t), threads)) {
            System.out.println("threads " + threads + ", vector lanes " + Vec.L + ", tokens " + len);
            String[] names = {"forward", "forward+record", "backward GRADIENT", "backward ATTNLRP", "backward CPLRP",
                    "forward+record (recompute)", "backward GRADIENT (recompute)"};
            double[][] s = new double[names.length][rounds + 1];
            for (int round = 0; round <= rounds; round++) {          // round 0 warms up
                long t0 = System.nanoTime();
                b.forward(prompt, null, LogitsMode.LAST);
                long t1 = System.nanoTime();
                Activations rec = new Activations(false);
                b.forward(List.of(prompt), null, LogitsMode.LAST, rec);
                long t2 = System.nanoTime();
                b.backward(rec, target, RuleMode.GRADIENT);
                long t3 = System.nanoTime();
                b.backward(rec, target, RuleMode.ATTNLRP);
                long t4 = System.nanoTime();
                b.backward(rec, target, RuleMode.CPLRP);
                long t5 = System.nanoTime();
                rec = null;
                Activations light = new Activations(false, true);
                b.forward(List.of(prompt), null, LogitsMode.LAST, light);
                long t6 = System.nanoTime();
                b.backward(light, target, RuleMode.GRADIENT);
                long t7 = System.nanoTime();
                long[] ts = {t0, t1, t2, t3, t4, t5, t6, t7};
                for (int k = 0; k < names.length; k++) s[k][round] = (ts[k + 1] - ts[k]) / 1e9;
                System.out.printf("round %d:", round);
                for (int k = 0; k < names.length; k++) System.out.printf(" %s %.2f s;", names[k], s[k][round]);
                System.out.println();
            }
            double[] med = new double[names.length];
            for (int k = 0; k < names.length; k++) {
                double[] x = Arrays.copyOfRange(s[k], 1, rounds + 1);
                Arrays.sort(x);
                med[k] = x[x.length / 2];
                System.out.printf("median %-32s %.2f s%n", names[k], med[k]);
            }
            System.out.printf("ratio (forward+record+backward GRADIENT) / forward: %.2f%n", (med[1] + med[2]) / med[0]);
            System.out.printf("ratio (forward+record+backward ATTNLRP) / forward: %.2f%n", (med[1] + med[3]) / med[0]);
            System.out.printf("ratio recompute (forward+record+backward GRADIENT) / forward: %.2f%n", (med[5] + med[6]) / med[0]);
        }
    }
}
