package io.rationale.engine;

import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Unmerged LoRA adapters on the CPU backend and the CUDA backend (cuda-emu here; {@link TestBackends#devices}) ({@link Lora}, {@link Model#withLora}, {@link Model#mergeLora},
 * {@link Backend#backwardLora}) on a small random model with biases, GQA and two modules on one projection:
 * <ul>
 * <li>the weight gradients against central finite differences of {@link ReferenceLlama} (double precision, shares
 *     no code with the engine) at the merged weights {@code W' = W + Σ s·B·A}: the finite differences give
 *     dL/dW' for every element of every targeted projection (step 1e-3, divided by the step the f32 weights really
 *     took), and the chain rule of {@code W'(A, B)} turns them into {@code dL/dA = s·Bᵀ·dL/dW'} and
 *     {@code dL/dB = s·dL/dW'·Aᵀ}; the loss is a fixed random combination of the last logits of two packed
 *     sequences; with last-row records, all-row records and checkpointed records. Tolerance: 1e-3·max|g| + 1e-6;</li>
 * <li>on every backend, merged and unmerged adapters give the same logits (1e-5·max|logit|) and input gradients in
 *     every rule mode (1e-4·max|g|) for f32 weights; the merge rounds to bf16 once, so bf16 weights agree within
 *     bf16 rounding (2e-2·max|logit|);</li>
 * <li>the device's branch against the CPU's: logits, {@code backwardLora}'s dA and dB, input gradients
 *     ({@link #theDeviceBranchMatchesTheCpu}, tolerances there);</li>
 * <li>B = 0 (a fresh adapter) leaves the logits exactly as without it.</li>
 * </ul>
 */
class LoraTest {
    static final String CONFIG = """
            {"architectures":["LlamaForCausalLM"],"hidden_size":16,"intermediate_size":24,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":23,"rms_norm_eps":1e-5,
             "rope_theta":10000.0,"attention_bias":true,"tie_word_embeddings":false}""";

    /** Every projection of layer 0, q, v and down of layer 1, and a second module on layer 1's v. */
    static Lora adapter(ModelConfig c, long seed, double bScale) {
        Random r = new Random(seed);
        List<Lora.Spec> specs = new ArrayList<>();
        for (Lora.Projection p : Lora.Projection.values()) specs.add(spec(c, r, 0, p, 3, 0.75f, bScale));
        specs.add(spec(c, r, 1, Lora.Projection.Q, 2, 1.5f, bScale));
        specs.add(spec(c, r, 1, Lora.Projection.V, 4, 0.5f, bScale));
        specs.add(spec(c, r, 1, Lora.Projection.DOWN, 2, 2f, bScale));
        specs.add(spec(c, r, 1, Lora.Projection.V, 1, -0.8f, bScale));
        return Lora.of(c, specs);
    }

    static Lora.Spec spec(ModelConfig c, Random r, int layer, Lora.Projection p, int rank, float scale, double bScale) {
        int[] shape = p.shape(c);
        float[] a = new float[rank * shape[1]], b = new float[shape[0] * rank];
        for (int i = 0; i < a.length; i++) a[i] = (float) (0.4 * r.nextGaussian());
        for (int i = 0; i < b.length; i++) b[i] = (float) (bScale * r.nextGaussian());
        return new Lora.Spec("test: layer " + layer + " " + p, layer, p, rank, scale, a, b);
    }

    enum RecordKind { LAST_ROWS, ALL_ROWS, CHECKPOINTED }

    @ParameterizedTest
    @EnumSource(RecordKind.class)
    void weightGradientsMatchFiniteDifferences(RecordKind kind) {
        ModelConfig c = TestModels.config(CONFIG);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 11, false);
        Lora lora = adapter(c, 5, 0.4);
        List<int[]> seqs = List.of(BackwardTest.ids(6, c.vocabSize(), 1), BackwardTest.ids(4, c.vocabSize(), 2));
        Random r = new Random(9);
        List<float[]> seeds = new ArrayList<>();
        for (int s = 0; s < seqs.size(); s++) {
            float[] g = new float[c.vocabSize()];
            for (int v = 0; v < g.length; v++) g[v] = (float) r.nextGaussian();
            seeds.add(g);
        }

        Lora.Gradients got = lora.newGradients();
        try (Backend b = Backends.open(Model.of(c, w).withLora(lora), Device.CPU, 2).backend()) {
            assertTrue(b.supportsLoraGradients());
            ForwardRecord rec = b.newRecord(false, kind == RecordKind.CHECKPOINTED);
            b.forward(seqs, null, kind == RecordKind.ALL_ROWS ? LogitsMode.ALL : LogitsMode.LAST, rec);
            b.backwardLora(rec, seeds, got);
        }

        // dL/dW' by finite differences of the double reference at the merged weights
        Map<String, Tensor> merged = mergedInDouble(c, w, lora);
        ReferenceLlama ref = new ReferenceLlama(c, merged);
        Map<String, double[]> dW = new LinkedHashMap<>();
        for (Lora.Module m : lora.modules()) {
            String name = "model.layers." + m.layer() + "." + m.projection().path + ".weight";
            if (dW.containsKey(name)) continue;
            Tensor t = merged.get(name);
            MemorySegment seg = t.data();
            double[] d = new double[(int) t.numel()];
            for (int i = 0; i < d.length; i++) {
                float w0 = seg.get(F32, 4L * i);
                float up = (float) (w0 + 1e-3), down = (float) (w0 - 1e-3);
                seg.set(F32, 4L * i, up);
                double lu = loss(ref, seqs, seeds);
                seg.set(F32, 4L * i, down);
                double ld = loss(ref, seqs, seeds);
                seg.set(F32, 4L * i, w0);
                d[i] = (lu - ld) / ((double) up - down);
            }
            dW.put(name, d);
        }
        for (Lora.Module m : lora.modules()) {
            double[] d = dW.get("model.layers." + m.layer() + "." + m.projection().path + ".weight");
            int rk = m.rank(), in = m.in(), out = m.out();
            double[] wantA = new double[rk * in], wantB = new double[out * rk];
            for (int o = 0; o < out; o++)
                for (int k = 0; k < rk; k++)
                    for (int i = 0; i < in; i++) {
                        wantA[k * in + i] += m.scale() * m.b()[o * rk + k] * d[o * in + i];
                        wantB[o * rk + k] += m.scale() * d[o * in + i] * m.a()[k * in + i];
                    }
            assertClose(wantA, got.a(m), kind + " " + m.name() + " dA");
            assertClose(wantB, got.b(m), kind + " " + m.name() + " dB");
        }
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Σ_s seed_s · last logits of sequence s, in double. */
    static double loss(ReferenceLlama ref, List<int[]> seqs, List<float[]> seeds) {
        double l = 0;
        for (int s = 0; s < seqs.size(); s++) {
            double[][] logits = ref.logits(seqs.get(s));
            double[] last = logits[logits.length - 1];
            for (int v = 0; v < last.length; v++) l += seeds.get(s)[v] * last[v];
        }
        return l;
    }

    /** The weights with every module folded in, computed in double and rounded to f32 once (fresh memory). */
    static Map<String, Tensor> mergedInDouble(ModelConfig c, Map<String, Tensor> w, Lora lora) {
        Map<String, Tensor> out = new LinkedHashMap<>(w);
        for (int l = 0; l < c.numLayers(); l++) {
            for (Lora.Projection p : Lora.Projection.values()) {
                List<Lora.Module> mods = lora.modules(l, p);
                String name = "model.layers." + l + "." + p.path + ".weight";
                Tensor t = w.get(name);
                int rows = t.rows(), cols = t.cols();
                MemorySegment seg = Arena.ofAuto().allocate(4L * rows * cols, 64);
                for (int o = 0; o < rows; o++)
                    for (int i = 0; i < cols; i++) {
                        double v = t.get((long) o * cols + i);
                        for (Lora.Module m : mods)
                            for (int k = 0; k < m.rank(); k++) v += (double) m.scale() * m.b()[o * m.rank() + k] * m.a()[k * cols + i];
                        seg.set(F32, 4L * ((long) o * cols + i), (float) v);
                    }
                out.put(name, new Tensor(name, DType.F32, t.shape().clone(), seg));
            }
        }
        return out;
    }

    static void assertClose(double[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        double max = 0;
        for (double x : want) max = Math.max(max, Math.abs(x));
        assertTrue(max > 1e-4, what + ": the reference gradient is (almost) zero: " + max);
        double tol = 1e-3 * max + 1e-6;
        for (int i = 0; i < want.length; i++) {
            int idx = i;
            assertTrue(Math.abs(got[i] - want[i]) <= tol, () -> what + "[" + idx + "] is " + got[idx] + ", finite differences "
                    + want[idx] + " (tolerance " + tol + ")");
        }
    }

    static List<String> devices() { return TestBackends.devices(); }

    @ParameterizedTest
    @MethodSource("devices")
    void mergedAndUnmergedGiveTheSameLogitsAndGradients(String device) {
        for (DType dt : List.of(DType.F32, DType.BF16)) {
            ModelConfig c = TestModels.config(CONFIG);
            Map<String, Tensor> w = TestModels.random(c, dt, 3, false);
            Lora lora = adapter(c, 8, 0.2);
            List<int[]> seqs = List.of(BackwardTest.ids(7, c.vocabSize(), 4), BackwardTest.ids(12, c.vocabSize(), 5));
            Model base = Model.of(c, w);
            Model unmerged = base.withLora(lora), merged = Model.of(c, w).mergeLora(lora);
            try (Backend u = TestBackends.open(unmerged, device); Backend m = TestBackends.open(merged, device)) {
                Logits lu = u.forward(seqs, LogitsMode.ALL), lm = m.forward(seqs, LogitsMode.ALL);
                float[] a = lu.data(), b = lm.data();
                double max = 0, diff = 0;
                for (int i = 0; i < a.length; i++) {
                    max = Math.max(max, Math.abs(a[i]));
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                }
                System.out.printf("[lora] %s %s merged vs unmerged logits: max |diff| %.3g of max |logit| %.3g%n", device, dt, diff, max);
                assertTrue(diff <= (dt == DType.F32 ? 1e-5 : 2e-2) * max, dt + ": merged and unmerged logits differ by " + diff);
                try (Backend plain = TestBackends.open(base, device)) {
                    float[] p = plain.forward(seqs, LogitsMode.ALL).data();
                    double moved = 0;
                    for (int i = 0; i < p.length; i++) moved = Math.max(moved, Math.abs(p[i] - a[i]));
                    assertTrue(moved > 100 * diff, dt + ": the adapter hardly moves the logits (" + moved + "), the comparison says nothing");
                }
                if (dt != DType.F32) continue;
                for (RuleMode mode : RuleMode.values()) {
                    if (mode.rules().positionalRelevance()) continue;
                    List<Target> targets = List.of(new Target.Logit(3), new Target.Contrast(5, 7));
                    ForwardRecord ru = u.newRecord(false), rm = m.newRecord(false);
                    u.forward(seqs, null, LogitsMode.LAST, ru);
                    m.forward(seqs, null, LogitsMode.LAST, rm);
                    float[][] gu = u.backward(ru, targets, mode), gm = m.backward(rm, targets, mode);
                    for (int s = 0; s < seqs.size(); s++) {
                        double gmax = 0, gdiff = 0;
                        for (int i = 0; i < gu[s].length; i++) {
                            gmax = Math.max(gmax, Math.abs(gm[s][i]));
                            gdiff = Math.max(gdiff, Math.abs(gu[s][i] - gm[s][i]));
                        }
                        assertTrue(gmax > 0 && gdiff <= 1e-4 * gmax, device + " " + mode + " sequence " + s + ": gradients differ by " + gdiff + " of " + gmax);
                    }
                }
            }
        }
    }

    @Test
    void aFreshAdapterChangesNothing() {
        ModelConfig c = TestModels.config(CONFIG);
        Map<String, Tensor> w = TestModels.random(c, DType.F32, 3, false);
        Lora zero = adapter(c, 8, 0.0);
        List<int[]> seqs = List.of(BackwardTest.ids(9, c.vocabSize(), 4));
        try (Backend u = Backends.open(Model.of(c, w).withLora(zero), Device.CPU, 2).backend();
             Backend p = Backends.open(Model.of(c, w), Device.CPU, 2).backend()) {
            assertTrue(Arrays.equals(u.forward(seqs, LogitsMode.ALL).data(), p.forward(seqs, LogitsMode.ALL).data()));
        }
    }

    /**
     * The CUDA backend's unmerged branch (on the emulated device, or on a GPU under {@code -Drationale.test.devices})
     * against the CPU backend's with the same adapter, f32 and bf16 weights: the logits of a prefill (every row) and
     * of a decode step after it (one row per sequence: the f32 path) within {@link TestBackends#logitTolerance} of
     * max(1, the row's largest |logit|); {@link Backend#backwardLora}'s dA and dB with last-row, all-row and
     * checkpointed records (twice into the same buffers: they accumulate) relative to each module's largest |value|,
     * and the input gradients with the adapter in every rule mode relative to each sequence's largest |value|: 1e-4
     * for f32 weights (both backends sum the same products in f32, in different orders; measured 1.4e-6), 5e-2 for
     * bf16 (the device rounds a GEMM's input, the backward's dy included, to bf16 as PyTorch does, the CPU does not;
     * about three times the measured 1.4e-2 for dA/dB, 5.9e-3 for input gradients).
     */
    @ParameterizedTest
    @MethodSource("devices")
    void theDeviceBranchMatchesTheCpu(String device) {
        org.junit.jupiter.api.Assumptions.assumeFalse(device.equals("cpu"), "the reference itself");
        for (DType dt : List.of(DType.F32, DType.BF16)) {
            ModelConfig c = TestModels.config(CONFIG);
            Map<String, Tensor> w = TestModels.random(c, dt, 3, false);
            Lora lora = adapter(c, 8, 0.2);
            Model model = Model.of(c, w).withLora(lora);
            List<int[]> seqs = List.of(BackwardTest.ids(7, c.vocabSize(), 4), BackwardTest.ids(12, c.vocabSize(), 5));
            List<int[]> next = List.of(new int[]{3}, new int[]{11});
            double tol = TestBackends.logitTolerance(device, dt);
            try (Backend cpu = TestBackends.open(model, "cpu"); Backend dev = TestBackends.open(model, device)) {
                assertTrue(dev.supportsLoraGradients(), device);
                assertRowsClose(cpu.forward(seqs, LogitsMode.ALL), dev.forward(seqs, LogitsMode.ALL), c.vocabSize(), tol, device + " " + dt + " prefill");
                List<KvCache> kc = List.of(cpu.newCache(), cpu.newCache()), kd = List.of(dev.newCache(), dev.newCache());
                cpu.forward(seqs, kc, LogitsMode.NONE, null);
                dev.forward(seqs, kd, LogitsMode.NONE, null);
                assertRowsClose(cpu.forward(next, kc, LogitsMode.LAST, null), dev.forward(next, kd, LogitsMode.LAST, null), c.vocabSize(), tol, device + " " + dt + " decode");
                for (KvCache k : kc) k.close();
                for (KvCache k : kd) k.close();
                double gtol = dt == DType.F32 ? 1e-4 : 5e-2;

                Random r = new Random(9);
                List<float[]> seeds = new ArrayList<>();
                for (int s = 0; s < seqs.size(); s++) {
                    float[] g = new float[c.vocabSize()];
                    for (int v = 0; v < g.length; v++) g[v] = (float) r.nextGaussian();
                    seeds.add(g);
                }
                double worstW = 0, worstX = 0;
                for (RecordKind kind : RecordKind.values()) {
                    Lora.Gradients gc = lora.newGradients(), gd = lora.newGradients();
                    LogitsMode lm = kind == RecordKind.ALL_ROWS ? LogitsMode.ALL : LogitsMode.LAST;
                    try (ForwardRecord rc = cpu.newRecord(false, kind == RecordKind.CHECKPOINTED);
                         ForwardRecord rd = dev.newRecord(false, kind == RecordKind.CHECKPOINTED)) {
                        cpu.forward(seqs, null, lm, rc);
                        dev.forward(seqs, null, lm, rd);
                        cpu.backwardLora(rc, seeds, gc);
                        dev.backwardLora(rd, seeds, gd);
                        dev.backwardLora(rd, seeds, gd);     // accumulates: twice the gradient
                    }
                    for (Lora.Module m : lora.modules()) {
                        worstW = Math.max(worstW, assertGradientClose(gc.a(m), gd.a(m), 2, gtol, device + " " + kind + " " + m.name() + " dA"));
                        worstW = Math.max(worstW, assertGradientClose(gc.b(m), gd.b(m), 2, gtol, device + " " + kind + " " + m.name() + " dB"));
                    }
                }
                for (RuleMode mode : RuleMode.values()) {
                    if (mode.rules().positionalRelevance()) continue;
                    List<Target> targets = List.of(new Target.Logit(3), new Target.Contrast(5, 7));
                    try (ForwardRecord rc = cpu.newRecord(false); ForwardRecord rd = dev.newRecord(false)) {
                        cpu.forward(seqs, null, LogitsMode.LAST, rc);
                        dev.forward(seqs, null, LogitsMode.LAST, rd);
                        float[][] g0 = cpu.backward(rc, targets, mode), g1 = dev.backward(rd, targets, mode);
                        for (int s = 0; s < seqs.size(); s++)
                            worstX = Math.max(worstX, assertGradientClose(g0[s], g1[s], 1, gtol, device + " " + mode + " sequence " + s + " input gradient"));
                    }
                }
                System.out.printf("[lora] %s %s: worst dA/dB difference %.3g, input gradients %.3g of the largest |value| (tolerance %.3g)%n", device, dt, worstW, worstX, gtol);
            }
        }
    }

    /** Every row of {@code got} within {@code tol}·max(1, the row's largest |logit|) of {@code want}'s. */
    static void assertRowsClose(Logits want, Logits got, int vocab, double tol, String what) {
        float[] a = want.data(), b = got.data();
        assertEquals(a.length, b.length, what);
        double worst = 0;
        for (int row = 0; row < a.length / vocab; row++) {
            double max = 1;
            for (int v = 0; v < vocab; v++) max = Math.max(max, Math.abs(a[row * vocab + v]));
            for (int v = 0; v < vocab; v++) {
                double d = Math.abs(a[row * vocab + v] - b[row * vocab + v]) / max;
                worst = Math.max(worst, d);
                int rr = row, vv = v;
                assertTrue(d <= tol, () -> what + ": row " + rr + " logit " + vv + " is " + b[rr * vocab + vv] + ", cpu " + a[rr * vocab + vv] + " (tolerance " + tol + " of the row's max)");
            }
        }
        System.out.printf("[lora] %s: worst logit difference %.3g of the row's max (tolerance %.3g)%n", what, worst, tol);
    }

    /** {@code got} within tol·max|times·want| of {@code times·want} (the CPU's gradient, a nonzero one); returns |Δ|/max. */
    static double assertGradientClose(float[] want, float[] got, int times, double tol, String what) {
        assertEquals(want.length, got.length, what);
        double max = 0, diff = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(times * want[i]));
            diff = Math.max(diff, Math.abs(got[i] - times * want[i]));
        }
        assertTrue(max > 1e-6, what + ": the reference gradient is (almost) zero: " + max);
        double d = diff, m = max;
        assertTrue(diff <= tol * max, () -> what + ": differs from the cpu's by " + d + " of max " + m + " (tolerance " + tol + ")");
        return diff / max;
    }

    @Test
    void everyBuiltInBackendRunsUnmergedAdapters() {
        ModelConfig c = TestModels.config(CONFIG);
        Model m = Model.of(c, TestModels.random(c, DType.F32, 3, false)).withLora(adapter(c, 1, 0.1));
        for (String d : TestBackends.devices())
            try (Backend b = TestBackends.open(m, d)) {
                assertTrue(b.supportsLoraGradients(), d);
            }
        // what a provider without the branch would answer (none in this build)
        String msg = Backends.unmergedRefusal(Device.Kind.CUDA);
        assertTrue(msg.contains("--device cpu"), msg);
    }

    static void assumeEmulatedDevice() {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestBackends.emulatedDeviceBuilt(), "no emulated device in this build");
    }
}
