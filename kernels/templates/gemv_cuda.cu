// Small-M gated MLP in CUDA C: h = silu(x Wg^T) * (x Wu^T), then y = h Wd^T, for bf16 weights in nn.Linear's
// [out, in] layout (K contiguous). A block of WARPS warps owns ROWS * WARPS / KW output rows: KW warps share
// each group of ROWS rows and split its K between them (interleaved 512-byte pieces, so the block reads one
// contiguous stretch of each row per step), their partial sums meeting in shared memory. Each lane reads 16
// bytes (a uint4, 8 bf16) of every row per step, UNROLL steps ahead, so many loads are in flight; a warp-shuffle
// sum finishes each warp's part. KW > 1 gives a short matrix (the down projection: 4096 rows of 28 KB) enough
// warps to keep every SM's loads in flight.
// Set by the template before this text: MAX_M (tokens at most), ROWS, WARPS, GU_KW and DOWN_KW (the KW of each
// kernel), UNROLL, LOAD (a 16-byte load).
// bf16 is handled as raw 16-bit words (no cuda_bf16.h needed, so NVRTC and nvcc both compile it as is).

typedef unsigned short bf16_t;

__device__ __forceinline__ float lo_bf16(unsigned int v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float hi_bf16(unsigned int v) { return __uint_as_float(v & 0xffff0000u); }

__device__ __forceinline__ float dot8(uint4 w, uint4 x, float acc) {
    acc = fmaf(lo_bf16(w.x), lo_bf16(x.x), acc);
    acc = fmaf(hi_bf16(w.x), hi_bf16(x.x), acc);
    acc = fmaf(lo_bf16(w.y), lo_bf16(x.y), acc);
    acc = fmaf(hi_bf16(w.y), hi_bf16(x.y), acc);
    acc = fmaf(lo_bf16(w.z), lo_bf16(x.z), acc);
    acc = fmaf(hi_bf16(w.z), hi_bf16(x.z), acc);
    acc = fmaf(lo_bf16(w.w), lo_bf16(x.w), acc);
    acc = fmaf(hi_bf16(w.w), hi_bf16(x.w), acc);
    return acc;
}

__device__ __forceinline__ bf16_t to_bf16(float f) {  // round to nearest even; NaN stays NaN
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// GATED: two weight matrices (gate, up) and a SwiGLU epilogue; otherwise one matrix and a plain store.
template <bool GATED, int KW>
__device__ __forceinline__ void gemv_rows(const uint4* __restrict__ x, const uint4* __restrict__ wa,
                                          const uint4* __restrict__ wb, bf16_t* __restrict__ out,
                                          int M, int N, int K8) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int kw = warp % KW;  // this warp's share of K
    const int row0 = (blockIdx.x * (WARPS / KW) + warp / KW) * ROWS;
    float acc_a[ROWS][MAX_M];
    float acc_b[ROWS][MAX_M];
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
#pragma unroll
        for (int m = 0; m < MAX_M; ++m) { acc_a[r][m] = 0.f; acc_b[r][m] = 0.f; }

    for (int k = kw * 32 + lane; k < K8; k += 32 * KW * UNROLL) {
        const uint4 zero = {0u, 0u, 0u, 0u};
        uint4 va[UNROLL][ROWS];
        uint4 vb[UNROLL][ROWS];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u)  // issue every load of this step before any arithmetic
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                const int kk = k + u * 32 * KW;
                const bool ok = kk < K8 && row0 + r < N;
                const size_t at = (size_t)(row0 + r) * K8 + kk;
                va[u][r] = ok ? LOAD(wa + at) : zero;
                if (GATED) vb[u][r] = ok ? LOAD(wb + at) : zero;
            }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const int kk = k + u * 32 * KW;
            if (kk >= K8) break;
#pragma unroll
            for (int m = 0; m < MAX_M; ++m) {
                if (m >= M) break;
                const uint4 xv = __ldg(x + (size_t)m * K8 + kk);
#pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    acc_a[r][m] = dot8(va[u][r], xv, acc_a[r][m]);
                    if (GATED) acc_b[r][m] = dot8(vb[u][r], xv, acc_b[r][m]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
#pragma unroll
        for (int m = 0; m < MAX_M; ++m) {
            acc_a[r][m] = warp_sum(acc_a[r][m]);
            if (GATED) acc_b[r][m] = warp_sum(acc_b[r][m]);
        }
    if (KW > 1) {  // the KW warps of a row group add their parts in shared memory
        __shared__ float part_a[WARPS][ROWS][MAX_M];
        __shared__ float part_b[WARPS][ROWS][MAX_M];
        if (lane == 0)
#pragma unroll
            for (int r = 0; r < ROWS; ++r)
#pragma unroll
                for (int m = 0; m < MAX_M; ++m) {
                    part_a[warp][r][m] = acc_a[r][m];
                    if (GATED) part_b[warp][r][m] = acc_b[r][m];
                }
        __syncthreads();
        if (kw != 0) return;
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
#pragma unroll
            for (int m = 0; m < MAX_M; ++m)
#pragma unroll
                for (int j = 1; j < KW; ++j) {
                    acc_a[r][m] += part_a[warp + j][r][m];
                    if (GATED) acc_b[r][m] += part_b[warp + j][r][m];
                }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
#pragma unroll
        for (int m = 0; m < MAX_M; ++m) {
            const float a = acc_a[r][m];
            const float b = acc_b[r][m];
            if (lane == 0 && m < M && row0 + r < N)
                out[(size_t)m * N + row0 + r] = to_bf16(GATED ? a / (1.f + __expf(-a)) * b : a);
        }
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
gateup_swiglu(const uint4* __restrict__ x, const uint4* __restrict__ wg, const uint4* __restrict__ wu,
              bf16_t* __restrict__ h, int M, int N, int K8) {
    gemv_rows<true, GU_KW>(x, wg, wu, h, M, N, K8);
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
down_gemv(const uint4* __restrict__ h, const uint4* __restrict__ wd, bf16_t* __restrict__ y,
          int M, int N, int K8) {
    gemv_rows<false, DOWN_KW>(h, wd, wd, y, M, N, K8);
}
