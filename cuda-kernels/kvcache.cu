// KV cache append: each new token's key and value rows (slices of the fused qkv buffer) go to its sequence's
// block at its position. Block layout (per layer, from the block base, in floats): keys at k_off, values at v_off,
// each [kvHead][64][hd] f32. Forking a partly filled block: the host copies the whole block allocation with
// cuMemcpyDtoDAsync (no kernel).
#include "kutil.cuh"

#define KV_BLOCK 64

// k, v: [n, ld] (kv_heads·hd columns each); block table: block_ptrs[seq_table[s] + p/64] is the base of the block
// holding position p of sequence s. grid (n) [rows grid-strided], block (multiple of 32; 128).
extern "C" __global__ void kv_append(const float* k, const float* v, int ld, const int* tok_seq, const int* tok_pos,
                                     const unsigned long long* block_ptrs, const int* seq_table, long long k_off,
                                     long long v_off, int n, int kv_heads, int hd) {
    int width = kv_heads * hd;
    for (int t = blockIdx.x; t < n; t += gridDim.x) {
        int s = tok_seq[t], p = tok_pos[t];
        float* base = reinterpret_cast<float*>(block_ptrs[seq_table[s] + p / KV_BLOCK]);
        long long row = p % KV_BLOCK;
        for (int e = threadIdx.x; e < width; e += blockDim.x) {
            int g = e / hd, d = e - g * hd;
            long long o = ((long long)g * KV_BLOCK + row) * hd + d;
            base[k_off + o] = k[(long long)t * ld + e];
            base[v_off + o] = v[(long long)t * ld + e];
        }
    }
}
