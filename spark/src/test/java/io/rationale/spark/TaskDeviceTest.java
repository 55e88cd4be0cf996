package io.rationale.spark;

import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which device a task runs on: the first GPU address Spark assigned it as {@code cuda:N}, else the fallback. */
class TaskDeviceTest {
    @Test
    void anAssignedGpuBecomesItsCudaDevice() {
        var gpus = Map.of("gpu", new ResourceInformation("gpu", new String[]{"3", "1"}));
        assertEquals("cuda:3", SparkEval.taskDevice(gpus, "cpu"));
    }

    @Test
    void noGpuMeansTheFallbackDevice() {
        assertEquals("cpu", SparkEval.taskDevice(Map.of(), "cpu"));
        assertEquals("auto", SparkEval.taskDevice(Map.of("gpu", new ResourceInformation("gpu", new String[0])), "auto"));
        assertEquals("cpu", SparkEval.taskDevice(Map.of("fpga", new ResourceInformation("fpga", new String[]{"0"})), "cpu"));
    }

    @Test
    void anAddressThatIsNoDeviceNumberIsRefused() {
        var odd = Map.of("gpu", new ResourceInformation("gpu", new String[]{"GPU-5f2e"}));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> SparkEval.taskDevice(odd, "cpu"));
        assertTrue(e.getMessage().startsWith("GPU address 'GPU-5f2e' from Spark is not a CUDA device number"), e.getMessage());
    }
}
