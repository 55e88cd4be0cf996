// The fused masked-batch flip evaluation (engine/FlipBatch, engine/Backend#flipEvaluation): the masked variants of one
// input built on the device from the word rankings, and after the batched forwards their label probabilities,
// predictions and per-request flip / comprehensiveness / sufficiency computed on the device, so that only those
// numbers come back to the host.
//
// flip_build: variant v masks the top size[v] words of ranking rank_of[v] (keep[v]: every other word). Its FORMS
// (FlipBatch#select): per field, a word that stays (unmasked, or masked when `replace`) is a unit; its left context is
// FIRST (1) for the field's first unit, else BREAK + break_before[j] (2 + k) when the first word j after the previous
// unit with a line-break gap (next_break) comes before it (j < w), else OWN (0); its right context LAST (1) for the
// field's last unit, else BREAK + break_before[j] when that j comes at or before the next unit, else 0; its form index
// is ((w·2 + masked)·contexts + left)·contexts + right. A field with words but no unit is its empty form. The tokens (FlipBatch#tokens): for t = 0..T−1, for every word w with word_start[w] == t in order, the empty
// form of w's field when w is its first word and the field has no unit, then w's form when w is a unit; then rest[t]
// when glue[t]. Form c's tokens are forms[form_start[c] .. + form_len[c]) (form_start −1: w's own rest tokens
// [word_start[w], word_end[w]); −2: absent, an error); the host checked every variant's length against its tokens.
//
// flip_scores: per variant, p = softmax over its label logits in double, max-shifted, summed left to right (the
// host's engine/LabelLogits#probabilities, operation for operation); predicted from the label logits (label_logits);
// a given original (variant 0 not run) replaces variant 0's probabilities and prediction. With y = predicted[0]:
// flipped[r] = predicted[remove[r]] != y, comprehensiveness[r] = p0[y] − p[remove[r]][y], sufficiency[r] =
// p0[y] − p[keep[r]][y] (engine/FlipScores#of, metrics/Faithfulness).
#include "kutil.cuh"

// out [Σ lengths] token ids, row b at out_off[b]; out_len [rows]: tokens written (checked by the host);
// vidx [rows]: the variant of each row; scratch [rows, words + fields] ints.
// Tables (engine/FlipBatch): rest, glue [T]; field_words [fields + 1]; word_start, word_end, break_before,
// next_break [words]; forms; form_start, form_len [words·4·contexts]; empty_start, empty_len [fields];
// rank_start [rankings + 1], ranks; rank_of, size, keep [variants].
// grid (rows) [one block per row, grid-strided], block (32): thread 0 builds the row (a sequential walk of T + words).
extern "C" __global__ void flip_build(int* out, const int* out_off, int* out_len, const int* vidx, int* scratch, int rows,
                                      const int* rest, const int* glue, int T, const int* field_words, int fields,
                                      const int* word_start, const int* word_end, const int* break_before,
                                      const int* next_break, int words, int contexts, int replace, const int* forms,
                                      const int* form_start, const int* form_len, const int* empty_start,
                                      const int* empty_len, const int* rank_start, const int* ranks, const int* rank_of,
                                      const int* size, const int* keep) {
    for (int b = blockIdx.x; b < rows; b += gridDim.x) {
        if (threadIdx.x != 0) continue;
        const int v = vidx[b];
        int* form = scratch + (long long)b * (words + fields);   // per word: masked, then its form (-1: deleted)
        int* empty = form + words;                                // per field: 1 when it has no unit
        for (int w = 0; w < words; w++) form[w] = 0;
        const int r = rank_of[v];
        if (r >= 0) {
            for (int i = 0; i < size[v]; i++) form[ranks[rank_start[r] + i]] = 1;
            if (keep[v]) for (int w = 0; w < words; w++) form[w] = 1 - form[w];
        }
        for (int f = 0; f < fields; f++) {
            int prev = -1, prev_left = 0, prev_masked = 0;
            for (int w = field_words[f]; w < field_words[f + 1]; w++) {
                const int masked = form[w];
                if (masked && !replace) {
                    form[w] = -1;
                    continue;
                }
                int left;
                if (prev < 0) left = 1;
                else {
                    const int j = next_break[prev + 1];
                    left = j < w ? 2 + break_before[j] : 0;
                    form[prev] = ((prev * 2 + prev_masked) * contexts + prev_left) * contexts + (j <= w ? 2 + break_before[j] : 0);
                }
                prev = w;
                prev_left = left;
                prev_masked = masked;
            }
            if (prev >= 0) form[prev] = ((prev * 2 + prev_masked) * contexts + prev_left) * contexts + 1;
            empty[f] = prev < 0 && field_words[f + 1] > field_words[f] ? 1 : 0;
        }
        int* o = out + out_off[b];
        int n = 0, w = 0, f = 0;
        for (int t = 0; t < T; t++) {
            for (; w < words && word_start[w] == t; w++) {
                while (w >= field_words[f + 1]) f++;
                if (w == field_words[f] && empty[f]) {
                    if (empty_start[f] < 0) { n = -1; break; }
                    for (int i = 0; i < empty_len[f]; i++) o[n++] = forms[empty_start[f] + i];
                }
                const int c = form[w];
                if (c < 0) continue;
                if (form_start[c] == -2) { n = -1; break; }
                if (form_start[c] == -1) for (int i = word_start[w]; i < word_end[w]; i++) o[n++] = rest[i];
                else for (int i = 0; i < form_len[c]; i++) o[n++] = forms[form_start[c] + i];
            }
            if (n < 0) break;
            if (glue[t]) o[n++] = rest[t];
        }
        out_len[b] = n;
    }
}

// probs [variants, labels] f64 (out); logit [variants, labels] f32, pred [variants] int (label_logits; row 0 unused
// when has_original); orig_probs [labels] f64, orig_pred: the given original (has_original 1); remove, keep [requests];
// flipped [requests] int, comp, suff [requests] f64 (out).
// grid (1), block (128): threads stride over variants, then over requests.
extern "C" __global__ void flip_scores(double* probs, const float* logit, int* pred, int variants, int labels,
                                       int has_original, const double* orig_probs, int orig_pred, const int* remove,
                                       const int* keep, int requests, int* flipped, double* comp, double* suff) {
    for (int v = threadIdx.x; v < variants; v += blockDim.x) {
        double* p = probs + (long long)v * labels;
        if (v == 0 && has_original) {
            for (int l = 0; l < labels; l++) p[l] = orig_probs[l];
            pred[0] = orig_pred;
            continue;
        }
        const float* z = logit + (long long)v * labels;
        double mx = -INFINITY, s = 0.0;
        for (int l = 0; l < labels; l++) mx = fmax(mx, (double)z[l]);
        for (int l = 0; l < labels; l++) s += (p[l] = exp((double)z[l] - mx));
        for (int l = 0; l < labels; l++) p[l] /= s;
    }
    __syncthreads();
    const int y = pred[0];
    const double py = probs[y];
    for (int r = threadIdx.x; r < requests; r += blockDim.x) {
        flipped[r] = pred[remove[r]] != y ? 1 : 0;
        comp[r] = py - probs[(long long)remove[r] * labels + y];
        suff[r] = py - probs[(long long)keep[r] * labels + y];
    }
}
