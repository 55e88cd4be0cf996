/**
 * Classification datasets with human rationales: {@link io.rationale.dataset.Example} (text fields, gold label,
 * label set, optional foil, per-annotator rationales as WORD indices), {@link io.rationale.dataset.Words} (the
 * project's single definition of a word: whitespace-delimited, with UTF-16 char spans),
 * {@link io.rationale.dataset.Aggregation} of several annotators, and the readers behind
 * {@link io.rationale.dataset.DatasetLoader#load(String)} ({@code KIND:PATH}). Formats and choices are described
 * in each reader's Javadoc and in {@code docs/datasets.md}.
 */
package io.rationale.dataset;
