package io.rationale.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Small random models in memory for the tests. */
public final class TestModels {
    private TestModels() {}

    public static ModelConfig config(String json) {
        try {
            return ModelConfig.parse(new ObjectMapper().readTree(json), "test config");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Random weights of the given dtype for every tensor the config expects: matrices ~ N(0, 1/in) (embeddings
     * N(0, 1)), norm weights 1 ± 0.2, biases ~ N(0, 0.1²). {@code heap}: segments over Java arrays instead of
     * native memory.
     */
    public static Map<String, Tensor> random(ModelConfig c, DType dt, long seed, boolean heap) {
        Random rnd = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : c.expectedTensors().entrySet()) {
            long[] shape = e.getValue();
            int n = 1;
            for (long d : shape) n *= (int) d;
            String name = e.getKey();
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                double g = rnd.nextGaussian();
                if (name.endsWith("norm.weight")) v[i] = 1 + 0.2 * g;
                else if (name.endsWith(".bias")) v[i] = 0.1 * g;
                else if (name.contains("embed_tokens")) v[i] = g;
                else v[i] = g / Math.sqrt(shape[1]);
            }
            out.put(name, tensor(name, dt, shape, v, heap));
        }
        return out;
    }

    static Tensor tensor(String name, DType dt, long[] shape, double[] v, boolean heap) {
        int n = v.length;
        MemorySegment seg;
        if (heap) {
            seg = dt == DType.F32 ? MemorySegment.ofArray(new float[n]) : MemorySegment.ofArray(new short[n]);
        } else {
            seg = Arena.ofAuto().allocate((long) n * dt.bytes, 64);
        }
        var f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float f = (float) v[i];
            switch (dt) {
                case F32 -> seg.set(f32, 4L * i, f);
                case BF16 -> seg.set(i16, 2L * i, (short) ((Float.floatToRawIntBits(f) + 0x8000) >>> 16)); // round half up
                case F16 -> seg.set(i16, 2L * i, Float.floatToFloat16(f));
            }
        }
        return new Tensor(name, dt, shape, seg);
    }
}
