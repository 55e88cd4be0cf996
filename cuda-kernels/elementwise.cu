// Element-wise helpers: residual add (+ bias), bias add, f32 -> bf16/f16 conversion, row gather/scatter.
// All take [rows, cols] matrices with row strides (in elements). Launch: grid (ceil(cols / 256), min(rows, 65535)),
// block (256); both dimensions are grid-strided, so any grid works.
#include "kutil.cuh"

#define ROWS_LOOP(r) for (int r = blockIdx.y; r < rows; r += gridDim.y)
#define COLS_LOOP(c) for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)

// x += y (+ b): x [rows, ldx], y [rows, ldy], b null or [cols]; the bias is added to y first (x + (y + b)).
extern "C" __global__ void residual_add(float* x, int ldx, const float* y, int ldy, const float* b, int rows, int cols) {
    ROWS_LOOP(r) COLS_LOOP(c) {
        float v = y[(long long)r * ldy + c];
        if (b) v += b[c];
        x[(long long)r * ldx + c] += v;
    }
}

// y += b on every row: y [rows, ld], b [cols].
extern "C" __global__ void bias_add(float* y, int ld, const float* b, int rows, int cols) {
    ROWS_LOOP(r) COLS_LOOP(c) y[(long long)r * ld + c] += b[c];
}

template <class OutT>
__device__ void convert_impl(OutT* out, int ldo, const float* in, int ldi, int rows, int cols) {
    ROWS_LOOP(r) COLS_LOOP(c) out[(long long)r * ldo + c] = ku::from_f32<OutT>(in[(long long)r * ldi + c]);
}

// out = round-to-nearest-even(in): out [rows, ldo], in [rows, ldi].
extern "C" __global__ void convert_bf16(__nv_bfloat16* out, int ldo, const float* in, int ldi, int rows, int cols) {
    convert_impl(out, ldo, in, ldi, rows, cols);
}
extern "C" __global__ void convert_f16(__half* out, int ldo, const float* in, int ldi, int rows, int cols) {
    convert_impl(out, ldo, in, ldi, rows, cols);
}

// out[r] = in[idx[r]] for r < rows (gather).
extern "C" __global__ void gather_rows(float* out, int ldo, const float* in, int ldi, const int* idx, int rows, int cols) {
    ROWS_LOOP(r) {
        long long src = (long long)idx[r] * ldi;
        COLS_LOOP(c) out[(long long)r * ldo + c] = in[src + c];
    }
}

// out[idx[r]] = in[r] for r < rows (scatter; idx distinct).
extern "C" __global__ void scatter_rows(float* out, int ldo, const float* in, int ldi, const int* idx, int rows, int cols) {
    ROWS_LOOP(r) {
        long long dst = (long long)idx[r] * ldo;
        COLS_LOOP(c) out[dst + c] = in[(long long)r * ldi + c];
    }
}
