/**
 * Pure functions to evaluate rationales: human alignment ({@link io.rationale.metrics.Alignment} word P/R/F1,
 * {@link io.rationale.metrics.IouF1} ERASER IOU-F1, {@link io.rationale.metrics.AveragePrecision} AUPRC),
 * {@link io.rationale.metrics.TopK} selection, faithfulness arithmetic ({@link io.rationale.metrics.Faithfulness})
 * and {@link io.rationale.metrics.Masking}, {@link io.rationale.metrics.LabelStats}, and
 * {@link io.rationale.metrics.Bootstrap} intervals and paired tests. Word indices follow
 * {@link io.rationale.dataset.Words}.
 */
package io.rationale.metrics;
