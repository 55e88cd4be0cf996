package io.rationale.cuda;

import io.rationale.engine.Lora;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's unmerged LoRA adapter ({@link Lora}) on the device, beside {@link CudaWeights}: the CUDA side of
 * {@code cpu/LoraBranch}, every product a cuBLAS GEMM ({@link Cublas#gemmEx}, f32 accumulation; on the emulated device
 * the CPU stand-in), no kernel of its own. A is {@code [rank, in]}, B {@code [out, rank]}, x {@code [n, in]}, y and dy
 * {@code [n, out]}, all row-major with the leading dimensions given (a projection's output may be columns of the
 * fused q|k|v or gate|up rows):
 * <pre>
 *   forward        u = x·Aᵀ,  y  += scale·u·Bᵀ
 *   input grad     v = dy·B,  dx += scale·v·A
 *   weight grads   dB += scale·dyᵀ·(x·Aᵀ),  dA += scale·vᵀ·x      (summed over the n rows)
 * </pre>
 *
 * <p><b>Precision.</b> f32 throughout: A and B live on the device in f32 (uploaded from {@link Lora}'s arrays), x is
 * the projection's f32 input (where a pass rounds a GEMM input to 16-bit weights' dtype, the backend gives the
 * branch the f32 value before that rounding, see {@link CudaBackend}), u and v are f32, and y, dx are f32. The weight
 * gradients accumulate in f32 device buffers over the pass and are added into {@link Lora.Gradients} on the host
 * at its end.
 *
 * <p><b>Updates.</b> {@link Lora}'s arrays are the trainer's, updated in place between passes; {@link #refresh} (at
 * the start of every pass) compares them with the host copies of what was uploaded and uploads the modules that
 * changed: a host read of the adapter per pass, and a copy only after an update.
 */
final class CudaLora implements AutoCloseable {
    /** One module's device copies. */
    private static final class Dev {
        final Lora.Module m;
        DevicePointer a, b, ga, gb;
        float[] hostA, hostB;             // what a and b hold

        Dev(Lora.Module m) { this.m = m; }
    }

    private final CudaDevice device;
    private final Cublas cublas;
    private final Workspace ws;
    private final Lora lora;
    private final Dev[] mods;
    private final int maxRank;
    private final List<DevicePointer> owned = new ArrayList<>();

    /** Allocates the device copies (uploaded by the first {@link #refresh}). */
    CudaLora(CudaDevice device, Cublas cublas, Workspace ws, Lora lora) {
        this.device = device;
        this.cublas = cublas;
        this.ws = ws;
        this.lora = lora;
        this.mods = new Dev[lora.modules().size()];
        int r = 1;
        boolean ok = false;
        try {
            for (Lora.Module m : lora.modules()) {
                Dev d = new Dev(m);
                d.a = alloc(4L * m.a().length);
                d.b = alloc(4L * m.b().length);
                mods[m.index()] = d;
                r = Math.max(r, m.rank());
            }
            ok = true;
        } finally {
            if (!ok) close();
        }
        this.maxRank = r;
    }

    private DevicePointer alloc(long bytes) {
        DevicePointer p = device.alloc(bytes);
        owned.add(p);
        return p;
    }

    Lora lora() { return lora; }

    /** The largest rank (the u and v work buffers hold {@code [n, maxRank]} floats). */
    int maxRank() { return maxRank; }

    /** Uploads the modules whose A or B differ from what the device holds (see the class comment). */
    void refresh() {
        for (Dev d : mods) {
            if (!Arrays.equals(d.hostA, d.m.a())) {
                d.hostA = d.m.a().clone();
                device.copyToDevice(d.a, d.hostA);
            }
            if (!Arrays.equals(d.hostB, d.m.b())) {
                d.hostB = d.m.b().clone();
                device.copyToDevice(d.b, d.hostB);
            }
        }
    }

    /** Whether some module sits on projection p of layer l. */
    boolean has(int layer, Lora.Projection p) { return lora.has(layer, p); }

    /** {@code y += Σ_m scale_m·(x·A_mᵀ)·B_mᵀ} over the modules on projection p of layer l; x and y f32. */
    void forward(int layer, Lora.Projection p, DevicePointer x, int ldx, int n, DevicePointer y, int ldy) {
        for (Lora.Module m : lora.modules(layer, p)) {
            Dev d = mods[m.index()];
            int r = m.rank(), in = m.in(), out = m.out();
            DevicePointer u = ws.get("lora.u", 4L * n * maxRank);
            // row-major u[n, r] = x·Aᵀ: column-major uᵀ (r × n) = (A as in × r)ᵀ · (x as in × n)
            cublas.gemmEx(Cublas.OP_T, Cublas.OP_N, r, n, in, 1f, d.a, DataType.F32, in, x, DataType.F32, ldx, 0f, u, DataType.F32, r);
            // y[n, out] += scale·u·Bᵀ: column-major yᵀ (out × n) += scale·(B as r × out)ᵀ · (u as r × n)
            cublas.gemmEx(Cublas.OP_T, Cublas.OP_N, out, n, r, m.scale(), d.b, DataType.F32, r, u, DataType.F32, r, 1f, y, DataType.F32, ldy);
        }
    }

    /**
     * The backward of the modules on projection p of layer l: {@code dx += Σ scale·(dy·B)·A} (all f32); with
     * {@code weightGrads} also their weight gradients into the device gradient buffers ({@link #zeroGradients}),
     * from x, the projection's f32 input (then required).
     */
    void backward(int layer, Lora.Projection p, DevicePointer x, int ldx, DevicePointer dy, int lddy, int n, DevicePointer dx, int lddx,
                  boolean weightGrads) {
        for (Lora.Module m : lora.modules(layer, p)) {
            Dev d = mods[m.index()];
            int r = m.rank(), in = m.in(), out = m.out();
            float s = m.scale();
            DevicePointer v = ws.get("lora.v", 4L * n * maxRank);
            // v[n, r] = dy·B: column-major vᵀ (r × n) = (B as r × out) · (dy as out × n)
            cublas.gemmEx(Cublas.OP_N, Cublas.OP_N, r, n, out, 1f, d.b, DataType.F32, r, dy, DataType.F32, lddy, 0f, v, DataType.F32, r);
            // dx[n, in] += s·v·A: column-major dxᵀ (in × n) += s·(A as in × r) · (v as r × n)
            cublas.gemmEx(Cublas.OP_N, Cublas.OP_N, in, n, r, s, d.a, DataType.F32, in, v, DataType.F32, r, 1f, dx, DataType.F32, lddx);
            if (!weightGrads) continue;
            if (x == null || x.address() == 0) throw new IllegalStateException("no input for the weight gradients of " + m.name());
            if (d.ga == null) throw new IllegalStateException("the LoRA gradient buffers were not zeroed before the pass");
            DevicePointer u = ws.get("lora.u", 4L * n * maxRank);
            cublas.gemmEx(Cublas.OP_T, Cublas.OP_N, r, n, in, 1f, d.a, DataType.F32, in, x, DataType.F32, ldx, 0f, u, DataType.F32, r);
            // dB[out, r] += s·dyᵀ·u: column-major dBᵀ (r × out) += s·(u as r × n) · (dy as out × n)ᵀ
            cublas.gemmEx(Cublas.OP_N, Cublas.OP_T, r, out, n, s, u, DataType.F32, r, dy, DataType.F32, lddy, 1f, d.gb, DataType.F32, r);
            // dA[r, in] += s·vᵀ·x: column-major dAᵀ (in × r) += s·(x as in × n) · (v as r × n)ᵀ
            cublas.gemmEx(Cublas.OP_N, Cublas.OP_T, in, r, n, s, x, DataType.F32, ldx, v, DataType.F32, r, 1f, d.ga, DataType.F32, in);
        }
    }

    /** Zeroes (allocating on first use) the device buffers of every module's dA and dB. */
    void zeroGradients() {
        for (Dev d : mods) {
            if (d.ga == null) {
                d.ga = alloc(4L * d.m.a().length);
                d.gb = alloc(4L * d.m.b().length);
            }
            device.memset(d.ga, (byte) 0, 4L * d.m.a().length);
            device.memset(d.gb, (byte) 0, 4L * d.m.b().length);
        }
    }

    /** Adds the device gradient buffers into {@code grads} (host, f32; accumulated, as the CPU backend does). */
    void addGradientsTo(Lora.Gradients grads) {
        for (Dev d : mods) {
            float[] a = new float[d.m.a().length], b = new float[d.m.b().length];
            device.copyToHost(a, d.ga);
            device.copyToHost(b, d.gb);
            float[] ga = grads.a(d.m), gb = grads.b(d.m);
            for (int i = 0; i < a.length; i++) ga[i] += a[i];
            for (int i = 0; i < b.length; i++) gb[i] += b[i];
        }
    }

    @Override
    public void close() {
        for (DevicePointer p : owned) device.free(p);
        owned.clear();
    }
}
