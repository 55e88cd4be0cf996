package io.rationale.cuda;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.rationale.engine.KvCache;
import io.rationale.engine.LogitsMode;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.tools.Presets;
import io.rationale.tools.TinyModel;
import jcuda.driver.CUevent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The timing half of the one-command GPU check ({@code scripts/gpu-check.sh}): on one device, measures what the
 * CUDA backend's speed targets are stated against, side by side in one run, and writes them as JSON.
 * <ul>
 * <li>device memory bandwidth: device-to-device copies of a large buffer, timed with CUDA events (bytes read plus
 *     bytes written over time);</li>
 * <li>cuBLAS GEMM throughput on the model's own prefill shapes ({@code T × H} by each fused projection, bf16 in,
 *     f32 out, the calls the backend makes), timed with events;</li>
 * <li>the backend's prefill of T tokens (wall time, logits copied back) and its decode per token after T tokens;</li>
 * <li>the two ratios of the speed targets: decode time over the time to read every weight once at the measured
 *     bandwidth (target ≤ 1.3), and the layer GEMMs' cuBLAS time over the whole prefill time, i.e. the prefill's
 *     throughput as a fraction of cuBLAS's on the same shapes (target ≥ 0.5).</li>
 * </ul>
 * Usage: {@code GpuCheck --device cuda|cuda-emu --preset llama-3.1-8b --tokens 512 --decode 64 [--models DIR] --out FILE.json}
 * ({@code --models}: write the model to DIR/PRESET, or reuse it from there, and keep it for the attribution timings of
 * {@link GpuCheckAttribution}). The model is bf16 whatever the preset's own dtype.
 */
public final class GpuCheck {
    private GpuCheck() {}

    public static void main(String[] argv) throws IOException {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--device", "cuda", "--preset", "llama-3.1-8b", "--tokens", "512",
                "--decode", "64", "--repeat", "5", "--models", "", "--out", "gpu-check.json"));
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!a.containsKey(argv[i])) throw new IllegalArgumentException("unknown option " + argv[i] + " (known: " + a.keySet() + ")");
            a.put(argv[i], argv[i + 1]);
        }
        int tokens = Integer.parseInt(a.get("--tokens")), decode = Integer.parseInt(a.get("--decode")), repeat = Integer.parseInt(a.get("--repeat"));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("preset", a.get("--preset"));
        out.put("tokens", tokens);
        out.put("decode_tokens", decode);

        boolean shared = !a.get("--models").isBlank();      // a folder of models kept for the next steps (GpuCheckAttribution)
        Path dir = shared ? Path.of(a.get("--models")).resolve(a.get("--preset")) : Files.createTempDirectory("gpu-check-model-");
        try {
            long t0 = System.nanoTime();
            if (!Files.exists(dir.resolve("config.json"))) {
                var spec = Presets.get(a.get("--preset"));
                spec.dtype = io.rationale.tools.DType.BF16;
                TinyModel.write(spec, 0, dir, 0, Runtime.getRuntime().availableProcessors(), null);
            }
            out.put("model_write_s", (System.nanoTime() - t0) / 1e9);
            try (Model model = Model.load(dir)) {
                t0 = System.nanoTime();
                CudaDevice device = a.get("--device").equals("cuda-emu") ? CudaDevice.openEmulated() : CudaDevice.open(CudaDriver.Kind.REAL, 0);
                try (CudaBackend b = new CudaBackend(model, device)) {
                    out.put("upload_s", (System.nanoTime() - t0) / 1e9);
                    out.put("device", b.device());
                    out.put("weights_bytes", b.weightBytes());
                    measure(b, model.config(), tokens, decode, repeat, out);
                }
            }
        } finally {
            if (!shared) try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Path file = Path.of(a.get("--out"));
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), out);
        System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(out));
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Milliseconds of {@code body} between two events on the device's stream, median of {@code repeat} after one warm-up. */
    private static double eventMillis(CudaDevice d, int repeat, Runnable body) {
        body.run();
        double[] t = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            CUevent s = d.record();
            body.run();
            CUevent e = d.record();
            t[i] = d.elapsedMillis(s, e);
            d.destroy(s);
            d.destroy(e);
        }
        return median(t);
    }

    static void measure(CudaBackend b, ModelConfig c, int T, int decode, int repeat, Map<String, Object> out) {
        CudaDevice d = b.cudaDevice();
        // 1. memory bandwidth: copies of a buffer of up to 2 GiB (an eighth of the free memory at most)
        long bytes = Math.min(2L << 30, d.memoryInfo().free() / 8) & ~0xffffL;
        DevicePointer src = d.alloc(bytes), dst = d.alloc(bytes);
        double copyMs = eventMillis(d, repeat, () -> d.copy(dst, src, bytes));
        d.free(src);
        d.free(dst);
        double bandwidth = 2.0 * bytes / (copyMs / 1e3);
        out.put("bandwidth_bytes_per_s", bandwidth);
        out.put("bandwidth_copy_bytes", bytes);

        // 2. cuBLAS on the prefill's GEMM shapes, one layer's worth, bf16 (the weights' dtype) in, f32 out
        CudaWeights.Layer w = b.weights().layers.get(0);
        List<CudaWeights.Matrix> shapes = List.of(w.qkv(), w.o(), w.gateUp(), w.down());
        List<Map<String, Object>> gemms = new ArrayList<>();
        double layerMs = 0, layerFlops = 0;
        for (CudaWeights.Matrix m : shapes) {
            DevicePointer x = d.alloc((long) T * m.cols() * m.type().bytes), y = d.alloc(4L * T * m.rows());
            d.memset(x, (byte) 0, (long) T * m.cols() * m.type().bytes);
            double ms = eventMillis(d, repeat, () -> b.cublas().matmulTransposed(y, x, m.ptr(), m.type(), T, m.cols(), m.rows()));
            d.free(x);
            d.free(y);
            double flops = 2.0 * T * m.rows() * m.cols();
            layerMs += ms;
            layerFlops += flops;
            gemms.add(Map.of("out", m.rows(), "in", m.cols(), "rows", T, "ms", ms, "tflops", flops / (ms / 1e3) / 1e12));
        }
        out.put("cublas_gemms_one_layer", gemms);
        double gemmMs = layerMs * c.numLayers();
        out.put("cublas_layer_gemms_ms", gemmMs);
        out.put("cublas_tflops_same_shapes", layerFlops / (layerMs / 1e3) / 1e12);

        // 3. prefill of T tokens (logits of the last one copied back: the pass is complete)
        Random r = new Random(42);
        int[] ids = new int[T];
        for (int i = 0; i < T; i++) ids[i] = r.nextInt(c.vocabSize());
        double[] prefill = new double[repeat];
        for (int i = -1; i < repeat; i++) {
            try (KvCache cache = b.newCache()) {
                long t0 = System.nanoTime();
                b.forward(ids, cache, LogitsMode.LAST);
                if (i >= 0) prefill[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        double prefillMs = median(prefill);
        out.put("prefill_ms", prefillMs);
        out.put("prefill_tokens_per_s", T / (prefillMs / 1e3));
        out.put("prefill_fraction_of_cublas", gemmMs / prefillMs);

        // 4. decode after T tokens: per token, batch 1, greedy on the device
        double perToken;
        try (KvCache cache = b.newCache()) {
            int next = b.forward(ids, cache, LogitsMode.LAST).argmax(0, 0);
            for (int i = 0; i < 4; i++) next = b.forward(new int[]{next}, cache, LogitsMode.LAST).argmax(0, 0);  // warm-up
            long t0 = System.nanoTime();
            for (int i = 0; i < decode; i++)
                next = b.forwardAndSample(List.of(new int[]{next}), List.of(cache), null, io.rationale.engine.SamplingParams.greedy(), new double[1])[0];
            perToken = (System.nanoTime() - t0) / 1e6 / decode;
        }
        double readOnceMs = b.weightBytes() / bandwidth * 1e3;
        out.put("decode_ms_per_token", perToken);
        out.put("decode_tokens_per_s", 1e3 / perToken);
        out.put("weights_read_once_ms", readOnceMs);
        out.put("decode_over_weight_read", perToken / readOnceMs);
        out.put("target_decode_over_weight_read", 1.3);
        out.put("target_prefill_fraction_of_cublas", 0.5);
    }
}
