/**
 * Performance measurement around the engine, for {@code rationale bench matrix} and {@code rationale bench compare}:
 * <ul>
 * <li>{@link io.rationale.perf.CostModel}: FLOPs and bytes per call of forward and backward passes, from the model
 *     config alone (formulas in its Javadoc);</li>
 * <li>{@link io.rationale.perf.CpuCalibration}: the CPU's measured f32 FMA throughput and memory read bandwidth (a
 *     device backend measures its own through {@link io.rationale.engine.DeviceProbe});</li>
 * <li>{@link io.rationale.perf.MachineInfo}: the machine, JVM and commit a result carries;</li>
 * <li>{@link io.rationale.perf.MatrixReport}: the matrix's table, CSV and self-contained HTML;</li>
 * <li>{@link io.rationale.perf.JmhResults}, {@link io.rationale.perf.JmhComparison}: JMH JSON result files and the
 *     regression test between two of them.</li>
 * </ul>
 */
package io.rationale.perf;
