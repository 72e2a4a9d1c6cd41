"""The Triton kernels of the gated-MLP template's large path (compute bound), as source text that goes into
candidates unchanged: the gate-up GEMM with SwiGLU in its epilogue by pointer loads, the same GEMM fed by Hopper's
tensor-copy engine (TMA; also the down GEMM, ungated), and the SwiGLU pass that follows cuBLAS's gate-up."""

GATEUP_GEMM = '''
@triton.jit
def _gateup_gemm(x_ptr, wg_ptr, wu_ptr, h_ptr, M, N, K,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                 GROUP_M: tl.constexpr, EVEN_K: tl.constexpr):
    """Large M, compute bound: h = silu(x Wg^T) * (x Wu^T) as one tensor-core GEMM whose N tile holds the
    gate and the up rows of the same outputs (two accumulators), with SwiGLU in the epilogue, so the
    [M, 2N] intermediate never goes to memory. Grouped raster: GROUP_M row tiles share weight tiles in L2."""
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    in_group = GROUP_M * num_n
    first_m = (pid // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % in_group) % size_m
    pid_n = (pid % in_group) // size_m
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rows = offs_m % M  # wrapped, not masked: the loads stay unpredicated; the store is masked
    cols = offs_n % N
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        a_ptrs = x_ptr + rows[:, None] * K + offs_k[None, :]
        w_off = cols[None, :] * K + offs_k[:, None]
        if EVEN_K:
            a = tl.load(a_ptrs)
            bg = tl.load(wg_ptr + w_off)
            bu = tl.load(wu_ptr + w_off)
        else:
            a = tl.load(a_ptrs, mask=offs_k[None, :] < K, other=0.0)
            bg = tl.load(wg_ptr + w_off, mask=offs_k[:, None] < K, other=0.0)
            bu = tl.load(wu_ptr + w_off, mask=offs_k[:, None] < K, other=0.0)
        acc_g += tl.dot(a, bg)
        acc_u += tl.dot(a, bu)
    h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(h_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(h_ptr.dtype.element_ty), mask=mask)
'''

GEMM_TMA = '''
try:  # host-side tensor descriptors (Triton >= 3.4); without them the large path takes its fallback
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:
    TensorDescriptor = None


@triton.jit
def _gemm_tma(a_d, b_d, b2_d, c_d, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
              GROUP_M: tl.constexpr, GATED: tl.constexpr):
    """Large M, compute bound: c = a b^T on tensor cores, every tile brought by Hopper's tensor-copy engine (TMA
    descriptors: the engine zero-fills and clips the edges, so nothing is masked). GATED: c = silu(a b^T) * (a b2^T),
    the gate and up rows of the same outputs in one program (two accumulators share each tile of a), SwiGLU in the
    epilogue, so the [M, 2N] intermediate never goes to memory. One tile a program, grouped raster: GROUP_M row
    blocks share each weight tile in L2. The tile is taken in a loop of one turn: Triton 3.6 schedules the K loop
    inside it faster (1541 against 1758 us at M=4096 on an H200, benchmarks/experiments/tma_diag.py)."""
    num_m = tl.cdiv(M, BLOCK_M)
    tiles = num_m * tl.cdiv(N, BLOCK_N)
    in_group = GROUP_M * tl.cdiv(N, BLOCK_N)
    for pid in tl.range(tl.program_id(0), tiles, tiles):
        first_m = (pid // in_group) * GROUP_M
        size_m = tl.minimum(num_m - first_m, GROUP_M)
        om = (first_m + (pid % in_group) % size_m) * BLOCK_M
        on = ((pid % in_group) // size_m) * BLOCK_N
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc2 = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(0, K, BLOCK_K):
            a = a_d.load([om, k])
            acc = tl.dot(a, b_d.load([on, k]).T, acc)
            if GATED:
                acc2 = tl.dot(a, b2_d.load([on, k]).T, acc2)
        if GATED:
            acc = acc / (1.0 + tl.exp(-acc)) * acc2
        c_d.store([om, on], acc.to(c_d.dtype))
'''

SWIGLU = '''
@triton.jit
def _swiglu(gu_ptr, h_ptr, N, BLOCK: tl.constexpr):
    """h[m] = silu(gu[m, :N]) * gu[m, N:], one row and BLOCK columns per program."""
    row = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    g = tl.load(gu_ptr + row * 2 * N + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(gu_ptr + row * 2 * N + N + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(h_ptr + row * N + offs, (g / (1.0 + tl.exp(-g)) * u).to(h_ptr.dtype.element_ty), mask=mask)
'''
