"""The Triton kernels of the gated-MLP template, as source text that goes into candidates unchanged (the
parameters reach them as constexpr arguments, so equal configurations hit Triton's cache across candidates)."""

HELPERS = '''
def _block_m(M, cap):
    """BLOCK_M for M rows on tensor cores: the next power of 2, at least 16, at most cap."""
    return max(16, min(1 << (M - 1).bit_length(), cap))

'''

TILE_MAJOR = '''
def _tile_major(weights, block_n, block_k):
    """[N, K] weights (all of one shape) as [N/block_n, K/block_k, len(weights), block_n, block_k], contiguous: each
    (block_n x block_k) tile of each weight one run of memory, a tile row's K steps one after another."""
    n, k = weights[0].shape
    tiles = [w.reshape(n // block_n, block_n, k // block_k, block_k).transpose(1, 2) for w in weights]
    return torch.stack(tiles, dim=2).contiguous()

'''

STREAM_GATEUP = '''
@triton.jit
def _gateup_stream(x_ptr, wg_ptr, wu_ptr, out_ptr, h_ptr, cnt_ptr, M, N, K,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   SPLIT_K: tl.constexpr, EVEN_K: tl.constexpr, GDC: tl.constexpr,
                   PACKED: tl.constexpr = False, LAST: tl.constexpr = False, W_EVICT: tl.constexpr = ""):
    """Small M, weight streaming: one program reads a BLOCK_N x BLOCK_K tile of W_gate and of W_up per step
    (nn.Linear's [out, in] layout: K is contiguous) for all BLOCK_M tokens at once, so weights are read once.
    On tensor cores (tl.dot, BLOCK_M >= 16).
    SPLIT_K == 1: stores h = silu(x Wg^T) * (x Wu^T), the SwiGLU epilogue, in x's dtype.
    SPLIT_K > 1: stores float32 partial sums [SPLIT_K, 2, M, N] in out_ptr; the down kernel finishes them as it
    loads, or, with LAST, the last of a tile's SPLIT_K programs to finish (a counter per tile in cnt_ptr, left at
    zero for the next call) adds them up in a fixed order and stores the SwiGLU output into h_ptr [M, N], so that
    the down kernel reads h as when SPLIT_K is 1. (h_ptr and cnt_ptr are not read otherwise.) Splitting K gives
    the GPU more, shorter programs to spread over its SMs than the N / BLOCK_N tiles alone.
    GDC (Hopper, programmatic dependent launch): the down kernel's programs may launch at once and wait on the GPU
    for this grid's writes, instead of being launched after its last tile.
    PACKED: wg_ptr is the tile-major copy of both weights (_tile_major: [N/BLOCK_N, K/BLOCK_K, 2, BLOCK_N,
    BLOCK_K], gate then up; the blocks divide N and K), so a step reads one contiguous run of 2 x BLOCK_N x BLOCK_K
    elements and a program its whole stream in order, where nn.Linear's layout gives BLOCK_K-long pieces of
    2 x BLOCK_N rows 2 x K elements apart.
    W_EVICT: the L2 eviction policy of the weights' loads ("": the default; "evict_first": read once, out first)."""
    if GDC:
        tl.extra.cuda.gdc_launch_dependents()
    pid_m = tl.program_id(0)  # fastest axis: programs sharing a weight tile run side by side (L2 hits)
    pid_n = tl.program_id(1)
    pid_k = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_n = offs_n < N
    k_span = tl.cdiv(K, SPLIT_K * BLOCK_K) * BLOCK_K
    k_lo = pid_k * k_span
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(k_lo, k_lo + k_span, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        if EVEN_K:
            mask_x = mask_m[:, None]
            mask_w = mask_n[:, None]
        else:
            mask_x = mask_m[:, None] & (offs_k[None, :] < K)
            mask_w = mask_n[:, None] & (offs_k[None, :] < K)
        x = tl.load(x_ptr + offs_m[:, None] * K + offs_k[None, :], mask=mask_x, other=0.0)
        if PACKED:
            tile = wg_ptr + (pid_n * (K // BLOCK_K) + k0 // BLOCK_K) * (2 * BLOCK_N * BLOCK_K)
            in_tile = tl.arange(0, BLOCK_N)[:, None] * BLOCK_K + tl.arange(0, BLOCK_K)[None, :]
            wg = tl.load(tile + in_tile, eviction_policy=W_EVICT)
            wu = tl.load(tile + BLOCK_N * BLOCK_K + in_tile, eviction_policy=W_EVICT)
        else:
            wg = tl.load(wg_ptr + offs_n[:, None] * K + offs_k[None, :], mask=mask_w, other=0.0,
                         eviction_policy=W_EVICT)
            wu = tl.load(wu_ptr + offs_n[:, None] * K + offs_k[None, :], mask=mask_w, other=0.0,
                         eviction_policy=W_EVICT)
        acc_g += tl.dot(x, tl.trans(wg))
        acc_u += tl.dot(x, tl.trans(wu))
    mask = mask_m[:, None] & mask_n[None, :]
    if SPLIT_K == 1:
        h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
        tl.store(out_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(out_ptr.dtype.element_ty), mask=mask)
    else:
        part = out_ptr + (pid_k * 2 * M + offs_m[:, None]) * N + offs_n[None, :]
        tl.store(part, acc_g, mask=mask)
        tl.store(part + M * N, acc_u, mask=mask)
        if LAST:
            tile = pid_m * tl.num_programs(1) + pid_n
            tl.debug_barrier()  # every thread's partials stored before the counter moves
            if tl.atomic_add(cnt_ptr + tile, 1, sem="acq_rel", scope="gpu") == SPLIT_K - 1:
                g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
                u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
                for s in tl.static_range(SPLIT_K):  # read through L2: other SMs wrote these
                    part = out_ptr + (s * 2 * M + offs_m[:, None]) * N + offs_n[None, :]
                    g += tl.load(part, mask=mask, other=0.0, cache_modifier=".cg")
                    u += tl.load(part + M * N, mask=mask, other=0.0, cache_modifier=".cg")
                h = g / (1.0 + tl.exp(-g)) * u
                tl.store(h_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(h_ptr.dtype.element_ty), mask=mask)
                tl.store(cnt_ptr + tile, 0)
'''

GEMV = '''
@triton.jit
def _gemv_vector(v_ptr, ks, K, EVEN: tl.constexpr):
    """The token's vector (x or h) at ks, kept in L2 ("evict_last": every program reads it)."""
    if EVEN:
        v = tl.load(v_ptr + ks, eviction_policy="evict_last")
    else:
        v = tl.load(v_ptr + ks, mask=ks < K, other=0.0, eviction_policy="evict_last")
    return v


@triton.jit
def _gemv_rows(w_ptr, off, mask, EVEN: tl.constexpr, W_EVICT: tl.constexpr):
    """A tile of row-major weights: off = rows * K + ks, and the mask of those inside N x K (unused if EVEN)."""
    if EVEN:
        w = tl.load(w_ptr + off, eviction_policy=W_EVICT)
    else:
        w = tl.load(w_ptr + off, mask=mask, other=0.0, eviction_policy=W_EVICT)
    return w


@triton.jit
def _gemv_gateup(x_ptr, wg_ptr, wu_ptr, h_ptr, N, K, ROWS: tl.constexpr, BLOCK_K: tl.constexpr, EVEN: tl.constexpr,
                 W_EVICT: tl.constexpr, GDC: tl.constexpr):
    """One token (decode), on CUDA cores: h = silu(x Wg^T) * (x Wu^T). A program reads ROWS whole rows of W_gate
    and of W_up (runs of K contiguous elements), BLOCK_K a step; each lane keeps its float32 products, summed over
    K once after the loop, not a reduction across the warps every step. W_EVICT: the weights' L2 eviction policy
    ("evict_first": read once, out first). EVEN: ROWS divides N and BLOCK_K divides K (no masks). GDC: the down
    kernel may launch at once (programmatic dependent launch)."""
    if GDC:
        tl.extra.cuda.gdc_launch_dependents()
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    acc_g = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    acc_u = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        off, mask = rows[:, None] * K + ks[None, :], (rows[:, None] < N) & (ks[None, :] < K)
        x = _gemv_vector(x_ptr, ks, K, EVEN)
        wg = _gemv_rows(wg_ptr, off, mask, EVEN, W_EVICT)
        wu = _gemv_rows(wu_ptr, off, mask, EVEN, W_EVICT)
        xf = x.to(tl.float32)[None, :]
        acc_g += xf * wg.to(tl.float32)
        acc_u += xf * wu.to(tl.float32)
    g = tl.sum(acc_g, axis=1)
    u = tl.sum(acc_u, axis=1)
    tl.store(h_ptr + rows, (g / (1.0 + tl.exp(-g)) * u).to(h_ptr.dtype.element_ty), mask=rows < N)


@triton.jit
def _gemv_down(h_ptr, w_ptr, y_ptr, N, K, ROWS: tl.constexpr, BLOCK_K: tl.constexpr, EVEN: tl.constexpr,
               W_EVICT: tl.constexpr, GDC: tl.constexpr):
    """One token, y = h W_down^T, as _gemv_gateup (N outputs, K = the intermediate size). GDC: launched early,
    waits on the GPU for the gate-up kernel's h."""
    if GDC:
        tl.extra.cuda.gdc_wait()
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    acc = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        off = rows[:, None] * K + ks[None, :]
        h = _gemv_vector(h_ptr, ks, K, EVEN)
        w = _gemv_rows(w_ptr, off, (rows[:, None] < N) & (ks[None, :] < K), EVEN, W_EVICT)
        acc += h.to(tl.float32)[None, :] * w.to(tl.float32)
    tl.store(y_ptr + rows, tl.sum(acc, axis=1).to(y_ptr.dtype.element_ty), mask=rows < N)

'''

STREAM_DOWN = '''
@triton.jit
def _down_stream(h_ptr, w_ptr, out_ptr, y_ptr, cnt_ptr, M, N, K, H_PARTS: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                 SPLIT_K: tl.constexpr, EVEN_K: tl.constexpr, LAST: tl.constexpr,
                 GDC: tl.constexpr, PACKED: tl.constexpr = False, W_EVICT: tl.constexpr = ""):
    """Small M, the down projection y = h W_down^T, split over K (K = 14336 for Llama-3-8B) so that every SM
    streams weights. H_PARTS == 0: h is the SwiGLU output [M, K]. H_PARTS > 0: h is the gate-up kernel's float32
    partial sums [H_PARTS, 2, M, K], summed and put through SwiGLU here as they are loaded.
    SPLIT_K == 1: stores y in its dtype; else float32 partials [SPLIT_K, M, N] that _splitk_sum adds up, or,
    with LAST, that the last of a tile's SPLIT_K programs to finish (a counter per tile in cnt_ptr, left at zero
    for the next call) adds up in a fixed order and stores into y: no third kernel.
    GDC: launched early by programmatic dependent launch; waits on the GPU for the gate-up grid's h.
    PACKED: w_ptr is the tile-major copy of W_down ([N/BLOCK_N, K/BLOCK_K, BLOCK_N, BLOCK_K]; the blocks
    divide N and K): each step's tile is one contiguous run. W_EVICT: as _gateup_stream's."""
    if GDC:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    pid_k = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_n = offs_n < N
    k_span = tl.cdiv(K, SPLIT_K * BLOCK_K) * BLOCK_K
    k_lo = pid_k * k_span
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(k_lo, k_lo + k_span, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        if EVEN_K:
            mask_h = mask_m[:, None]
            mask_w = mask_n[:, None]
        else:
            mask_h = mask_m[:, None] & (offs_k[None, :] < K)
            mask_w = mask_n[:, None] & (offs_k[None, :] < K)
        if H_PARTS == 0:
            h = tl.load(h_ptr + offs_m[:, None] * K + offs_k[None, :], mask=mask_h, other=0.0)
        else:
            g = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
            u = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
            for p in tl.static_range(H_PARTS):
                part = h_ptr + (p * 2 * M + offs_m[:, None]) * K + offs_k[None, :]
                g += tl.load(part, mask=mask_h, other=0.0)
                u += tl.load(part + M * K, mask=mask_h, other=0.0)
            h = (g / (1.0 + tl.exp(-g)) * u).to(w_ptr.dtype.element_ty)
        if PACKED:
            tile = w_ptr + (pid_n * (K // BLOCK_K) + k0 // BLOCK_K) * (BLOCK_N * BLOCK_K)
            w = tl.load(tile + tl.arange(0, BLOCK_N)[:, None] * BLOCK_K + tl.arange(0, BLOCK_K)[None, :],
                        eviction_policy=W_EVICT)
        else:
            w = tl.load(w_ptr + offs_n[:, None] * K + offs_k[None, :], mask=mask_w, other=0.0,
                        eviction_policy=W_EVICT)
        acc += tl.dot(h, tl.trans(w))
    mask = mask_m[:, None] & mask_n[None, :]
    if SPLIT_K == 1:
        tl.store(y_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        tl.store(out_ptr + (pid_k * M + offs_m[:, None]) * N + offs_n[None, :], acc, mask=mask)
        if LAST:
            tile = pid_m * tl.num_programs(1) + pid_n
            tl.debug_barrier()  # every thread's partial stored before the counter moves
            if tl.atomic_add(cnt_ptr + tile, 1, sem="acq_rel", scope="gpu") == SPLIT_K - 1:
                total = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
                for s in tl.static_range(SPLIT_K):  # read through L2: other SMs wrote these
                    part = out_ptr + (s * M + offs_m[:, None]) * N + offs_n[None, :]
                    total += tl.load(part, mask=mask, other=0.0, cache_modifier=".cg")
                tl.store(y_ptr + offs_m[:, None] * N + offs_n[None, :], total.to(y_ptr.dtype.element_ty), mask=mask)
                tl.store(cnt_ptr + tile, 0)


@triton.jit
def _splitk_sum(ws_ptr, y_ptr, MN, SPLIT_K: tl.constexpr, BLOCK: tl.constexpr, GDC: tl.constexpr):
    """y = the sum of the SPLIT_K float32 partials, cast to y's dtype (GDC: launched early, waits for them)."""
    if GDC:
        tl.extra.cuda.gdc_wait()
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < MN
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for s in tl.static_range(SPLIT_K):
        acc += tl.load(ws_ptr + s * MN + offs, mask=mask, other=0.0)
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=mask)
'''

FUSED = '''
@triton.jit
def _ffn_fused(x_ptr, wg_ptr, wu_ptr, wd_ptr, h_ptr, part_ptr, y_ptr, sync_ptr, M, HID, INTER,
               BLOCK_M: tl.constexpr, GU_BN: tl.constexpr, GU_BK: tl.constexpr, D_BN: tl.constexpr,
               D_BK: tl.constexpr, D_SPLIT: tl.constexpr, SYNC_PAD: tl.constexpr):
    """Small M (M <= BLOCK_M), the whole FFN in one persistent launch. A queue of work items in a fixed order:
    first the gate-up tiles (GU_BN rows of W_gate and W_up over all of HID, SwiGLU stored into h), then the down
    items (D_BN rows of W_down over one of D_SPLIT slices of INTER). Each program takes the next item from an
    atomic counter until none is left, so every SM streams weights until the end whatever the tile counts
    (a fixed grid of tiles leaves some SMs with one tile more than others). A down item waits on the GPU until
    the gate-up tiles of its slice have stored their h: those tiles were taken from the queue before it, by
    programs that are running, so the wait always ends. The last of a down tile's D_SPLIT items to finish sums
    the float32 partials in a fixed order into y. sync_ptr (int32): [queue, finished programs, D_SPLIT slice
    counters, one counter a down tile]; every counter is back at zero when the launch ends."""
    n_gu = INTER // GU_BN
    n_dt = HID // D_BN
    total = n_gu + n_dt * D_SPLIT
    slice_w = INTER // D_SPLIT
    gu_per_slice = slice_w // GU_BN
    slices = sync_ptr + 2
    tiles = sync_ptr + 2 + D_SPLIT
    offs_m = tl.arange(0, BLOCK_M)
    mask_m = offs_m < M
    item = tl.atomic_add(sync_ptr, 1, sem="relaxed", scope="gpu")
    while item < total:
        if item < n_gu:
            offs_n = item * GU_BN + tl.arange(0, GU_BN)
            acc_g = tl.zeros((BLOCK_M, GU_BN), dtype=tl.float32)
            acc_u = tl.zeros((BLOCK_M, GU_BN), dtype=tl.float32)
            for k0 in range(0, HID, GU_BK):
                offs_k = k0 + tl.arange(0, GU_BK)
                x = tl.load(x_ptr + offs_m[:, None] * HID + offs_k[None, :], mask=mask_m[:, None], other=0.0)
                wg = tl.load(wg_ptr + offs_n[:, None] * HID + offs_k[None, :])
                wu = tl.load(wu_ptr + offs_n[:, None] * HID + offs_k[None, :])
                acc_g += tl.dot(x, tl.trans(wg))
                acc_u += tl.dot(x, tl.trans(wu))
            h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
            tl.store(h_ptr + offs_m[:, None] * INTER + offs_n[None, :], h.to(h_ptr.dtype.element_ty),
                     mask=mask_m[:, None])
            tl.debug_barrier()  # every thread's h stored before the slice counter moves
            tl.atomic_add(slices + item // gu_per_slice, 1, sem="release", scope="gpu")
        else:
            s = (item - n_gu) // n_dt  # slice-major: the first slices' h is ready first
            t = (item - n_gu) % n_dt
            while tl.atomic_add(slices + s, 0, sem="acquire", scope="gpu") < gu_per_slice:
                pass
            tl.debug_barrier()
            offs_dn = t * D_BN + tl.arange(0, D_BN)
            acc = tl.zeros((BLOCK_M, D_BN), dtype=tl.float32)
            for k0 in range(s * slice_w, (s + 1) * slice_w, D_BK):
                offs_dk = k0 + tl.arange(0, D_BK)
                # h through L2 (.cg): other SMs wrote it during this launch
                hk = tl.load(h_ptr + offs_m[:, None] * INTER + offs_dk[None, :], mask=mask_m[:, None], other=0.0,
                            cache_modifier=".cg")
                wk = tl.load(wd_ptr + offs_dn[:, None] * INTER + offs_dk[None, :])
                acc += tl.dot(hk, tl.trans(wk))
            out = offs_m[:, None] * HID + offs_dn[None, :]
            tl.store(part_ptr + s * M * HID + out, acc, mask=mask_m[:, None])
            tl.debug_barrier()  # every thread's partial stored before the tile counter moves
            if tl.atomic_add(tiles + t, 1, sem="acq_rel", scope="gpu") == D_SPLIT - 1:
                y = tl.zeros((BLOCK_M, D_BN), dtype=tl.float32)
                for p in tl.static_range(D_SPLIT):
                    y += tl.load(part_ptr + p * M * HID + out, mask=mask_m[:, None], other=0.0, cache_modifier=".cg")
                tl.store(y_ptr + out, y.to(y_ptr.dtype.element_ty), mask=mask_m[:, None])
                tl.store(tiles + t, 0)
        item = tl.atomic_add(sync_ptr, 1, sem="relaxed", scope="gpu")
    # the last program to finish zeroes the queue and the slice counters (every item is done by then)
    if tl.atomic_add(sync_ptr + 1, 1, sem="acq_rel", scope="gpu") == tl.num_programs(0) - 1:
        offs = tl.arange(0, SYNC_PAD)
        tl.store(sync_ptr + offs, tl.zeros((SYNC_PAD,), dtype=tl.int32), mask=offs < 2 + D_SPLIT)
'''
