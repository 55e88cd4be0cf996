// Label logits of rows of vocabulary logits (engine/LabelLogits#of): a classification read off the next-token
// logits comes back as a few numbers per row instead of a vocabulary row (the flip evaluation's variants). For label
// l with token ids ids[start[l] .. start[l+1]) (at least one): out_logit[r, l] = the largest logit of those ids,
// out_token[r, l] = the first id in list order that has it; out_pred[r] = the first label with the largest label
// logit. Comparisons are `>` on the f32 values, as the host's, so the result is the host's exactly.
#include "kutil.cuh"

// out_logit, out_token [rows, labels]; out_pred [rows]; logits [rows, ld] f32; start [labels + 1], ids [start[labels]].
// grid (ceil(rows / 128)) [rows grid-strided], block (128), no shared memory: one thread per row.
extern "C" __global__ void label_logits(float* out_logit, int* out_token, int* out_pred, const float* logits, long long ld,
                                        const int* start, const int* ids, int rows, int labels) {
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) {
        const float* l = logits + (long long)r * ld;
        int pred = 0;
        float best_label = 0.f;
        for (int g = 0; g < labels; g++) {
            int b = ids[start[g]];
            for (int e = start[g]; e < start[g + 1]; e++)
                if (l[ids[e]] > l[b]) b = ids[e];
            const float v = l[b];
            out_logit[(long long)r * labels + g] = v;
            out_token[(long long)r * labels + g] = b;
            if (g == 0 || v > best_label) {
                pred = g;
                best_label = v;
            }
        }
        out_pred[r] = pred;
    }
}
