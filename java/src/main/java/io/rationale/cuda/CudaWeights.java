package io.rationale.cuda;

import io.rationale.engine.LayerWeights;
import io.rationale.engine.Model;
import io.rationale.model.ModelConfig;
import io.rationale.weights.DType;
import io.rationale.weights.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A model's weights in device memory, in the checkpoint's dtype (f32, bf16 or f16; never widened), with the
 * projections that read the same input fused into one matrix so that one GEMM computes them: q|k|v
 * ({@code [Q + 2K, H]}) and gate|up ({@code [2I, H]}). Norm weights and biases are f32. With tied embeddings the LM
 * head is the embedding matrix (one copy).
 */
final class CudaWeights implements AutoCloseable {

    /** A row-major {@code [rows, cols]} matrix on the device. */
    record Matrix(DevicePointer ptr, DataType type, int rows, int cols) {}

    /** One decoder layer; optional biases are {@link DevicePointer#NULL}. */
    record Layer(DevicePointer inputNorm, Matrix qkv, DevicePointer qkvBias, Matrix o, DevicePointer oBias,
                 DevicePointer postNorm, Matrix gateUp, DevicePointer gateBias, DevicePointer upBias, Matrix down, DevicePointer downBias) {}

    final Matrix embed, lmHead;
    final DevicePointer finalNorm;
    final List<Layer> layers = new ArrayList<>();
    private final CudaDevice device;
    private final List<DevicePointer> owned = new ArrayList<>();
    private long bytes;

    CudaWeights(CudaDevice device, Model model) {
        this.device = device;
        ModelConfig c = model.config();
        boolean ok = false;
        try {
            embed = matrix("model.embed_tokens.weight", model.embedTokens());
            lmHead = model.lmHead() == model.embedTokens() ? embed : matrix("lm_head.weight", model.lmHead());
            finalNorm = floats(model.finalNorm());
            for (int l = 0; l < c.numLayers(); l++) {
                LayerWeights w = model.layer(l);
                String p = "layer " + l + ": ";
                layers.add(new Layer(floats(w.inputNorm()),
                        fused(p + "q/k/v projections", w.q(), w.k(), w.v()),
                        w.qBias() == null ? DevicePointer.NULL : floats(w.qBias(), w.kBias(), w.vBias()),
                        matrix(p + "o_proj", w.o()), w.oBias() == null ? DevicePointer.NULL : floats(w.oBias()),
                        floats(w.postAttentionNorm()),
                        fused(p + "gate/up projections", w.gate(), w.up()),
                        w.gateBias() == null ? DevicePointer.NULL : floats(w.gateBias()),
                        w.upBias() == null ? DevicePointer.NULL : floats(w.upBias()),
                        matrix(p + "down_proj", w.down()), w.downBias() == null ? DevicePointer.NULL : floats(w.downBias())));
            }
            ok = true;
        } finally {
            if (!ok) close();
        }
    }

    /** Device bytes held. */
    long bytes() { return bytes; }

    /**
     * Bytes a decode step reads: every matrix and vector except the embedding table, of which it reads one row per
     * token (with tied embeddings the table is the LM head, read whole).
     */
    long decodeBytes() {
        long embedBytes = (long) embed.rows() * embed.cols() * embed.type().bytes;
        return lmHead == embed ? bytes : bytes - embedBytes;
    }

    static DataType type(DType d) {
        return switch (d) {
            case F32 -> DataType.F32;
            case BF16 -> DataType.BF16;
            case F16 -> DataType.F16;
        };
    }

    private DevicePointer alloc(long n) {
        DevicePointer p = device.alloc(n);
        owned.add(p);
        bytes += n;
        return p;
    }

    private Matrix matrix(String what, Tensor t) { return fused(what, t); }

    /** The tensors' rows one after the other in one device matrix (all of one dtype and width). */
    private Matrix fused(String what, Tensor... parts) {
        DType dt = parts[0].dtype();
        int cols = parts[0].cols(), rows = 0;
        for (Tensor t : parts) {
            if (t.dtype() != dt)
                throw new IllegalArgumentException(what + " mix dtypes (" + parts[0].name() + " " + dt + ", " + t.name() + " " + t.dtype()
                        + "): the CUDA backend fuses them into one matrix");
            rows += t.rows();
        }
        DevicePointer p = alloc((long) rows * cols * dt.bytes);
        long off = 0;
        for (Tensor t : parts) {
            device.copyToDevice(off == 0 ? p : p.plus(off), t.data());
            off += t.data().byteSize();
        }
        return new Matrix(p, type(dt), rows, cols);
    }

    /** f32 arrays one after the other on the device. */
    private DevicePointer floats(float[]... parts) {
        int n = 0;
        for (float[] a : parts) n += a.length;
        float[] all = new float[n];
        int o = 0;
        for (float[] a : parts) {
            System.arraycopy(a, 0, all, o, a.length);
            o += a.length;
        }
        DevicePointer p = alloc(4L * n);
        device.copyToDevice(p, all);
        return p;
    }

    @Override
    public void close() {
        for (DevicePointer p : owned) device.free(p);
        owned.clear();
    }
}
