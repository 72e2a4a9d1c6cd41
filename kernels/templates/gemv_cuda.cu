// Small-M gated MLP in CUDA C: h = silu(x Wg^T) * (x Wu^T), then y = h Wd^T, for bf16 weights in nn.Linear's
// [out, in] layout (K contiguous). A block of WARPS warps owns ROWS * WARPS / KW output rows: KW warps share
// each group of ROWS rows and split its K between them (interleaved 512-byte pieces, so the block reads one
// contiguous stretch of each row per step), their partial sums meeting in shared memory. Each lane reads 16
// bytes (a uint4, 8 bf16) of every row per step, UNROLL steps ahead, so many loads are in flight; a warp-shuffle
// sum finishes each warp's part. KW > 1 gives a short matrix (the down projection: 4096 rows of 28 KB) enough
// warps to keep every SM's loads in flight.
// fused_mlp does both in one pass (no second launch, no gap between kernels): a persistent grid in which each
// block takes a contiguous range of h's rows, CHUNK = ROWS * WARPS rows at a time; its warps compute the chunk's
// h values as above into shared memory, then the whole block multiplies them into the matching rows of Wd^T
// ([N, K], transposed once in prepare(), so the rows are contiguous), each thread owning VPT 16-byte column
// groups of y in float32 registers. At the end every block adds its y into a float32 accumulator (vector
// reductions in L2), and the last block to finish (a ticket counter) casts it to bf16 and zeroes accumulator and
// counter for the next call.
// Set by the template before this text: MAX_M (tokens at most), ROWS, WARPS, GU_KW and DOWN_KW (the KW of each
// kernel), UNROLL, LOAD (a 16-byte load), K8 (the hidden size in 16-byte groups), BLOCKS_PER_SM.
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

// The dot products of rows row0 .. row0 + ROWS - 1 of wa (and wb) with the M rows of x over this warp's share of K
// (kw of KW interleaved 512-byte pieces), summed over the warp: every lane ends with the warp's sums.
template <bool GATED, int KW>
__device__ __forceinline__ void dot_rows(const uint4* __restrict__ x, const uint4* __restrict__ wa,
                                         const uint4* __restrict__ wb, int row0, int kw, int M, int N, int K8,
                                         float (&acc_a)[ROWS][MAX_M], float (&acc_b)[ROWS][MAX_M]) {
    const int lane = threadIdx.x & 31;
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
    dot_rows<GATED, KW>(x, wa, wb, row0, kw, M, N, K8, acc_a, acc_b);
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

__device__ __forceinline__ void red_add4(float* at, float a, float b, float c, float d) {  // one 16-byte reduction
    asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" :: "l"(at), "f"(a), "f"(b), "f"(c), "f"(d)
                 : "memory");
}

extern "C" __global__ void __launch_bounds__(WARPS * 32, BLOCKS_PER_SM)
fused_mlp(const uint4* __restrict__ x, const uint4* __restrict__ wg, const uint4* __restrict__ wu,
          const uint4* __restrict__ wdt, float* __restrict__ y32, unsigned int* __restrict__ ticket,
          bf16_t* __restrict__ y, int M, int N) {
    constexpr int THREADS = WARPS * 32;
    constexpr int CHUNK = ROWS * WARPS;               // rows of h a block computes, then multiplies, at a time
    constexpr int VPT = HIDDEN8 / THREADS;            // 16-byte column groups of y each thread owns
    constexpr int BATCH = VPT >= 8 ? 1 : 8 / VPT;     // rows of Wd^T whose loads are issued together
    static_assert(HIDDEN8 % THREADS == 0 && CHUNK % BATCH == 0, "the template prunes such points");
    __shared__ float h_s[2][CHUNK][MAX_M];           // double-buffered: one barrier a chunk
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int chunks = (N + CHUNK - 1) / CHUNK;
    const int first = (int)((long long)blockIdx.x * chunks / gridDim.x);
    const int last = (int)((long long)(blockIdx.x + 1) * chunks / gridDim.x);
    float acc[VPT][8][MAX_M];
#pragma unroll
    for (int j = 0; j < VPT; ++j)
#pragma unroll
        for (int e = 0; e < 8; ++e)
#pragma unroll
            for (int m = 0; m < MAX_M; ++m) acc[j][e][m] = 0.f;

    int buf = 0;
    for (int c = first; c < last; ++c, buf ^= 1) {
        const int n0 = c * CHUNK;
        float g[ROWS][MAX_M], u[ROWS][MAX_M];
        dot_rows<true, 1>(x, wg, wu, n0 + warp * ROWS, 0, M, N, HIDDEN8, g, u);
        if (lane == 0)
#pragma unroll
            for (int r = 0; r < ROWS; ++r)
#pragma unroll
                for (int m = 0; m < MAX_M; ++m)
                    h_s[buf][warp * ROWS + r][m] = g[r][m] / (1.f + __expf(-g[r][m])) * u[r][m];
        __syncthreads();
#pragma unroll 1
        for (int r0 = 0; r0 < CHUNK; r0 += BATCH) {
            const uint4 zero = {0u, 0u, 0u, 0u};
            uint4 w[BATCH][VPT];
#pragma unroll
            for (int b = 0; b < BATCH; ++b)
#pragma unroll
                for (int j = 0; j < VPT; ++j)
                    w[b][j] = n0 + r0 + b < N
                        ? LOAD(wdt + (size_t)(n0 + r0 + b) * HIDDEN8 + threadIdx.x + j * THREADS) : zero;
#pragma unroll
            for (int b = 0; b < BATCH; ++b)
#pragma unroll
                for (int m = 0; m < MAX_M; ++m) {
                    if (m >= M) break;
                    const float h = h_s[buf][r0 + b][m];
#pragma unroll
                    for (int j = 0; j < VPT; ++j) {
                        const unsigned int v[4] = {w[b][j].x, w[b][j].y, w[b][j].z, w[b][j].w};
#pragma unroll
                        for (int q = 0; q < 4; ++q) {
                            acc[j][2 * q][m] = fmaf(h, lo_bf16(v[q]), acc[j][2 * q][m]);
                            acc[j][2 * q + 1][m] = fmaf(h, hi_bf16(v[q]), acc[j][2 * q + 1][m]);
                        }
                    }
                }
        }
    }
    // this block's share of y into the float32 accumulator, then the last block casts and clears it
#pragma unroll
    for (int m = 0; m < MAX_M; ++m) {
        if (m >= M) break;
#pragma unroll
        for (int j = 0; j < VPT; ++j) {
            float* at = y32 + (size_t)m * HIDDEN8 * 8 + (size_t)(threadIdx.x + j * THREADS) * 8;
            red_add4(at, acc[j][0][m], acc[j][1][m], acc[j][2][m], acc[j][3][m]);
            red_add4(at + 4, acc[j][4][m], acc[j][5][m], acc[j][6][m], acc[j][7][m]);
        }
    }
    __threadfence();
    __syncthreads();
    __shared__ bool is_last;
    if (threadIdx.x == 0) is_last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    const float4 zero4 = {0.f, 0.f, 0.f, 0.f};
    for (int i = threadIdx.x; i < M * HIDDEN8 * 2; i += THREADS) {  // float4 groups of y
        const float4 v = __ldcg(reinterpret_cast<const float4*>(y32) + i);
        __stcg(reinterpret_cast<float4*>(y32) + i, zero4);
        const unsigned int lo = (unsigned int)to_bf16(v.x) | ((unsigned int)to_bf16(v.y) << 16);
        const unsigned int hi = (unsigned int)to_bf16(v.z) | ((unsigned int)to_bf16(v.w) << 16);
        reinterpret_cast<uint2*>(y)[i] = make_uint2(lo, hi);
    }
    if (threadIdx.x == 0) *ticket = 0u;
}
