package io.rationale.cuda;

import io.rationale.cpu.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * What every kernel parity test class shares: the device under test ({@link Parity#open}), its kernels, two CPU
 * threads for the CPU layers, and the class's error report, printed when the class ends. JUnit runs a superclass's
 * {@code @BeforeAll} before the test class's own and its {@code @AfterAll} after, once per test class.
 */
abstract class ParityFixture {
    static CudaDevice dev;
    static Kernels kernels;
    static Parallel par;
    static Parity.Report report;

    @BeforeAll
    static void openDevice() {
        report = new Parity.Report();
        dev = Parity.open();
        kernels = new Kernels(dev);
        par = new Parallel(2);
    }

    @AfterAll
    static void closeDevice() {
        report.print();
        if (par != null) par.close();
        if (dev != null) dev.close();
        par = null;
        dev = null;
        kernels = null;
    }
}
