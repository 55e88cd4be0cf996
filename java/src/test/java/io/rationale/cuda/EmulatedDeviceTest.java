package io.rationale.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import jcuda.CudaException;
import jcuda.driver.CUDA_ARRAY_DESCRIPTOR;
import jcuda.driver.CUarray;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** JCuda on the emulated device: binding, the kernels of selftest.cu end to end, errors, schedule modes. */
class EmulatedDeviceTest {
    static CudaDevice dev;

    @BeforeAll
    static void open() { dev = CudaDevice.openEmulated(); }

    @AfterAll
    static void close() { dev.close(); }

    @Test
    void jcudaBindsTheEmulatedDriver() throws Exception {
        assertEquals(CudaDriver.Kind.EMULATED, CudaDriver.bound());
        assertTrue(dev.isEmulated());
        assertTrue(dev.name().contains("cuda-emu"), dev.name());
        assertEquals(new CudaDevice.ComputeCapability(9, 0), dev.computeCapability());
        assertEquals(32, dev.attribute(10), "warp size");
        assertEquals(1024, dev.attribute(1), "max threads per block");
        assertEquals(232448, dev.attribute(97), "shared memory per block, opt-in");
        assertEquals(12060, dev.driverVersion());
        // the process mapped our libcuda.so.1, not another one
        String maps = Files.readString(Path.of("/proc/self/maps"));
        assertTrue(maps.contains(EmulatedDevice.driverLibrary().toRealPath().toString()), "emulated driver mapped");
    }

    @Test
    void refusesTheRealDriverInTheSameJvm() {
        var e = assertThrows(IllegalStateException.class, () -> CudaDriver.bind(CudaDriver.Kind.REAL));
        assertTrue(e.getMessage().contains("new JVM"), e.getMessage());
        assertEquals(CudaDriver.Kind.EMULATED, CudaDriver.bound());
    }

    /** Row sums of integer-valued floats: every summation order gives the exact sum. */
    static float[] rowSums(CudaDevice dev, String kernel, int rows, int n, int block) {
        float[] x = new float[rows * n];
        for (int i = 0; i < x.length; i++) x[i] = (i * 7919 % 41) - 20;
        DevicePointer dx = dev.alloc(4L * x.length), dout = dev.alloc(4L * rows);
        try {
            if (kernel.endsWith("bf16")) {
                short[] h = new short[x.length];
                for (int i = 0; i < x.length; i++) h[i] = (short) (Float.floatToRawIntBits(x[i]) >>> 16);  // exact
                dev.copyToDevice(dx, h);
            } else {
                dev.copyToDevice(dx, x);
            }
            dev.launch(kernel, Dim3.of(rows), Dim3.of(block), 0, dx, dout, n);
            float[] out = new float[rows];
            dev.copyToHost(out, dout);
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += x[r * n + i];
                assertEquals((float) s, out[r], 0.0f, kernel + " row " + r);
            }
            return out;
        } finally {
            dev.free(dx);
            dev.free(dout);
        }
    }

    @Test
    void rowSumKernelsRunEndToEnd() {
        rowSums(dev, "selftest_row_sum_f32", 9, 1000, 256);
        rowSums(dev, "selftest_row_sum_f32", 3, 5000, 1024);
        rowSums(dev, "selftest_row_sum_f32", 4, 31, 32);
        rowSums(dev, "selftest_row_sum_bf16", 5, 777, 128);
    }

    @Test
    void dynamicSharedMemoryAbove48KiBIsOptedInto() {
        int block = 1024, blocks = 3, n = block * blocks;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i * 0.5f;
        DevicePointer dx = dev.alloc(4L * n), dy = dev.alloc(4L * n);
        dev.copyToDevice(dx, x);
        dev.launch("selftest_reverse_f32", Dim3.of(blocks), Dim3.of(block), 64 * 1024, dx, dy, n);
        float[] y = new float[n];
        dev.copyToHost(y, dy);
        for (int i = 0; i < n; i++) assertEquals(x[i], y[(i / block) * block + block - 1 - i % block], 0.0f, "element " + i);
        dev.free(dx);
        dev.free(dy);
    }

    @Test
    void scalarParametersOfEveryKind() {
        DevicePointer f = dev.alloc(12), i = dev.alloc(12);
        long l = (5L << 32) + 7;
        dev.launch("selftest_params", Dim3.of(1), Dim3.of(32), 0, f, -42, 2.5f, -3.25, l, 0x80000001, i);
        float[] fo = new float[3];
        int[] io = new int[3];
        dev.copyToHost(fo, f);
        dev.copyToHost(io, i);
        assertArrayEquals(new float[] {2.5f, -3.25f, (float) l}, fo);
        assertArrayEquals(new int[] {-42, 0x80000001, 5}, io);
        var e = assertThrows(IllegalArgumentException.class,
                () -> dev.launch("selftest_params", Dim3.of(1), Dim3.of(32), 0, f, "7", 2.5f, -3.25, l, 1, i));
        assertTrue(e.getMessage().contains("argument 1 is a java.lang.String"), e.getMessage());
        dev.free(f);
        dev.free(i);
    }

    @Test
    void unimplementedDriverCallIsACudaExceptionAndTheJvmLivesOn() {
        var e = assertThrows(CudaException.class, () -> JCudaDriver.cuArrayCreate(new CUarray(), new CUDA_ARRAY_DESCRIPTOR()));
        assertTrue(e.getMessage().contains("CUDA_ERROR_NOT_SUPPORTED"), e.getMessage());
        assertEquals(Optional.of("cuArrayCreate_v2"), EmulatedDevice.lastUnsupported());
        String[] text = new String[1];
        JCudaDriver.cuGetErrorString(801, text);
        assertTrue(text[0].contains("cuArrayCreate_v2"), text[0]);
        rowSums(dev, "selftest_row_sum_f32", 2, 100, 64);  // still usable
    }

    @Test
    void badLaunchesAreExceptionsNamingTheProblem() {
        var unknown = assertThrows(IllegalArgumentException.class, () -> dev.function("no_such_kernel"));
        assertTrue(unknown.getMessage().contains("no_such_kernel"), unknown.getMessage());
        DevicePointer p = dev.alloc(64);
        var big = assertThrows(CudaException.class,
                () -> dev.launch("selftest_row_sum_f32", Dim3.of(1), Dim3.of(2048), 0, p, p, 1));
        assertTrue(big.getMessage().contains("CUDA_ERROR_INVALID_VALUE") && big.getMessage().contains("1024"),
                big.getMessage());
        dev.free(p);
        rowSums(dev, "selftest_row_sum_f32", 2, 100, 64);
    }

    @Test
    void scheduleModesSwitchAndCorrectKernelsAgree() {
        try {
            float[] inOrder = rowSums(dev, "selftest_row_sum_f32", 6, 3000, 512);
            for (int mode : new int[] {1, 2, 9}) {
                EmulatedDevice.setSchedule(mode);
                assertEquals(mode, EmulatedDevice.schedule());
                assertArrayEquals(inOrder, rowSums(dev, "selftest_row_sum_f32", 6, 3000, 512), "mode " + mode);
            }
        } finally {
            EmulatedDevice.setSchedule(0);
        }
        assertEquals(0, EmulatedDevice.schedule());
        assertThrows(IllegalArgumentException.class, () -> EmulatedDevice.setSchedule(-1));
    }

    @Test
    void eventsMeasureElapsedTime() {
        CUevent a = dev.record();
        rowSums(dev, "selftest_row_sum_f32", 64, 4096, 256);
        CUevent b = dev.record();
        float ms = dev.elapsedMillis(a, b);
        assertTrue(ms > 0 && ms < 60_000, "elapsed " + ms);
        dev.destroy(a);
        dev.destroy(b);
    }
}
