/**
 * The forward pass on the CPU: f32 arithmetic with the Vector API on all cores, weights (f32, bf16, f16) widened
 * inside the kernels. One small file per layer so that each can later hold its backward and LRP rule next to the
 * forward: {@link io.rationale.cpu.Embedding}, {@link io.rationale.cpu.RmsNorm}, {@link io.rationale.cpu.Rope},
 * {@link io.rationale.cpu.Attention}, {@link io.rationale.cpu.Mlp}, {@link io.rationale.cpu.MatMul}; the
 * orchestration is {@link io.rationale.cpu.CpuBackend}, the thread pool {@link io.rationale.cpu.Parallel}.
 */
package io.rationale.cpu;
