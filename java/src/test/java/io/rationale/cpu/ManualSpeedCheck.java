package io.rationale.cpu;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Manual speed check, not a test (surefire does not pick it up): a random bf16 model of TinyLlama-1.1B shape
 * (~2.2 GB of native memory), prefill 64 and 512 tokens and greedy-style decode, in tokens per second.
 * Run: {@code java --add-modules=jdk.incubator.vector -cp <classes:test-classes:jackson> io.rationale.cpu.ManualSpeedCheck
 * [threads [all|decode [model-dir]]]}; with a model folder its memory-mapped safetensors are used instead.
 */
public final class ManualSpeedCheck {
    public static void main(String[] args) throws Exception {
        String json = """
                {"architectures":["LlamaForCausalLM"],"hidden_size":2048,"intermediate_size":5632,"num_hidden_layers":22,
                 "num_attention_heads":32,"num_key_value_heads":4,"vocab_size":32000,"rms_norm_eps":1e-5,"rope_theta":10000.0,
                 "max_position_embeddings":2048,"tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":2}""";
        ModelConfig c = ModelConfig.parse(new ObjectMapper().readTree(json), "tinyllama-shape");
        Map<String, Tensor> t = new LinkedHashMap<>();
        long seed = 42;
        for (var e : args.length > 2 ? Map.<String, long[]>of().entrySet() : c.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) n *= d;
            MemorySegment seg = Arena.global().allocate(n * 2, 64);
            boolean norm = e.getValue().length == 1;
            for (long i = 0; i < n; i += 4) {
                long bits = 0;
                for (int j = 0; j < 4; j++) {
                    seed = seed * 6364136223846793005L + 1442695040888963407L;
                    int r = (int) (seed >>> 40);
                    // |w| in [2^-7, 2^-5) with random sign and mantissa; norms near 1
                    short bf = norm ? (short) 0x3f80 : (short) (((r & 1) << 15) | ((120 + ((r >> 1) & 1)) << 7) | ((r >> 2) & 0x7f));
                    bits |= (bf & 0xffffL) << (16 * j);
                }
                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i * 2, bits);
            }
            t.put(e.getKey(), new Tensor(e.getKey(), DType.BF16, e.getValue(), seg));
        }
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        boolean prefill = args.length < 2 || !args[1].equals("decode");
        Model m = args.length > 2 ? Model.load(java.nio.file.Path.of(args[2])) : Model.of(c, t);
        try (CpuBackend b = new CpuBackend(m, threads)) {
            System.out.println("threads " + threads + ", vector lanes " + Vec.L);
            for (int round = 0; round < 2; round++) {
                for (int len : prefill ? new int[]{64, 512} : new int[0]) {
                    int[] prompt = new int[len];
                    for (int i = 0; i < len; i++) prompt[i] = 1 + (i * 7919) % 31999;
                    long t0 = System.nanoTime();
                    b.forward(prompt, null, LogitsMode.LAST);
                    double s = (System.nanoTime() - t0) / 1e9;
                    System.out.printf("round %d prefill %d: %.2f s, %.1f tokens/s%n", round, len, s, len / s);
                }
                KvCache cache = b.newCache();
                int[] prompt = new int[64];
                for (int i = 0; i < 64; i++) prompt[i] = 1 + i;
                b.forward(prompt, cache, LogitsMode.LAST);
                int steps = 64, tok = 5;
                long[] each = new long[steps];
                long t0 = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    long ts = System.nanoTime();
                    tok = b.forward(new int[]{tok}, cache, LogitsMode.LAST).argmax(0, 0);
                    each[i] = System.nanoTime() - ts;
                }
                double s = (System.nanoTime() - t0) / 1e9;
                java.util.Arrays.sort(each);
                System.out.printf("round %d decode (context 64..%d): mean %.1f ms/token (%.2f tokens/s), median %.1f ms, fastest %.1f ms%n",
                        round, 64 + steps, s * 1e3 / steps, steps / s, each[steps / 2] / 1e6, each[0] / 1e6);
            }
        }
    }
}
