"""Llama-style gated MLP: GEMV/weight-streaming paths for small M, fused GEMMs for large M.

Written by agentopt's template coder from the template `gated_mlp` at the point:
    fma_max_m = 0
    small_max_m = 64
    fma_block_n = 1
    fma_block_k = 2048
    fma_warps = 8
    fma_stages = 1
    fma_down_block_n = 1
    fma_down_block_k = 1024
    fma_down_warps = 4
    fma_down_stages = 2
    fma_evict = 'evict_first'
    small_block_m = 128
    small_block_n = 64
    small_block_k = 64
    small_gu_split = 1
    small_gu_reduce = 'down'
    small_warps = 8
    small_stages = 3
    small_packed = 1
    small_down_block_m = 128
    small_down_block_n = 64
    small_down_block_k = 128
    small_down_split = 4
    small_down_warps = 4
    small_down_stages = 3
    small_down_packed = 1
    small_down_reduce = 'kernel'
    small_down_pdl = 1
    small_graph = 0
    small_fused = 0
    fused_gu_bn = 32
    fused_gu_bk = 64
    fused_d_bn = 64
    fused_d_bk = 128
    fused_d_split = 8
    fused_occ = 2
    fused_warps = 8
    fused_stages = 3
    large_gateup = 'cublas'
    large_down = 'cublas'
    large_block_m = 128
    large_block_n = 256
    large_block_k = 64
    large_group_m = 8
    large_warps = 4
    large_stages = 3
"""

import torch
import triton
import triton.language as tl

# The reference, unchanged: ModelNew derives from its Model.
import torch
import torch.nn as nn
import torch.nn.functional as F
M = 1
HIDDEN = 4096
INTERMEDIATE = 14336
class Model(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

def _cdiv(a, b):
    return -(-a // b)  # as triton.cdiv, without its constexpr handling (microseconds a call on the host)


def _bind(kernel, grid, meta, args):
    """kernel[grid](*args, **meta), and a launcher of the kernel it compiled for later calls with tensors of the
    same kinds (dtypes, 16-byte alignment) and the same grid and constexprs: Triton's compiled-kernel runner
    takes every argument, constexprs included, in the kernel's order, and skips the binding, specialisation and
    cache lookup that each kernel[grid](...) does on the host (half of a launch's host time, 20 against 9 us on
    an H200 host: benchmarks/experiments/launch_probe.py). None under Triton's interpreter, which compiles
    nothing."""
    compiled = kernel[grid](*args, **meta)
    if getattr(compiled, "function", None) is None:
        return None
    runner = compiled[tuple(grid) + (1,) * (3 - len(grid))]  # the runner reads three grid dimensions
    tail = [meta.get(p.name, p.default) for p in kernel.params[len(args):]]  # constexprs; defaults where not given
    return lambda *again: runner(*again, *tail)


def _launch(bound, key, kernel, args, launch):
    """kernel[grid](*args, **meta), (grid, meta) = launch(); after the first call with this key, through the
    launcher _bind made of it (kept in `bound`), which keeps that call's grid and constexprs. The key must name
    what decides them (the candidate's path, M, the activations' dtype), and launch() is not called again: a
    bound call spends nothing on them."""
    run = bound.get(key)
    if run is not None:
        run(*args)
    elif key in bound:  # nothing to bind (Triton's interpreter)
        grid, meta = launch()
        kernel[grid](*args, **meta)
    else:
        bound[key] = _bind(kernel, *launch(), args)


def _block_m(M, cap):
    """BLOCK_M for M rows on tensor cores: the next power of 2, at least 16, at most cap."""
    return max(16, min(1 << (M - 1).bit_length(), cap))


@triton.jit
def _gateup_stream(x_ptr, wg_ptr, wu_ptr, out_ptr, h_ptr, cnt_ptr, M, N, K,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   SPLIT_K: tl.constexpr, USE_DOT: tl.constexpr, EVEN_K: tl.constexpr, GDC: tl.constexpr,
                   PACKED: tl.constexpr = False, LAST: tl.constexpr = False, W_EVICT: tl.constexpr = ""):
    """Small M, weight streaming: one program reads a BLOCK_N x BLOCK_K tile of W_gate and of W_up per step
    (nn.Linear's [out, in] layout: K is contiguous) for all BLOCK_M tokens at once, so weights are read once.
    USE_DOT: tensor cores (BLOCK_M >= 16); else a CUDA-core multiply and sum over K (a GEMV).
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
        if USE_DOT:
            acc_g += tl.dot(x, tl.trans(wg))
            acc_u += tl.dot(x, tl.trans(wu))
        else:
            xf = x.to(tl.float32)[:, None, :]
            acc_g += tl.sum(xf * wg.to(tl.float32)[None, :, :], axis=2)
            acc_u += tl.sum(xf * wu.to(tl.float32)[None, :, :], axis=2)
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

@triton.jit
def _down_stream(h_ptr, w_ptr, out_ptr, y_ptr, cnt_ptr, M, N, K, H_PARTS: tl.constexpr,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                 SPLIT_K: tl.constexpr, USE_DOT: tl.constexpr, EVEN_K: tl.constexpr, LAST: tl.constexpr,
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
        if USE_DOT:
            acc += tl.dot(h, tl.trans(w))
        else:
            acc += tl.sum(h.to(tl.float32)[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
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

def _tile_major(weights, block_n, block_k):
    """[N, K] weights (all of one shape) as [N/block_n, K/block_k, len(weights), block_n, block_k], contiguous: each
    (block_n x block_k) tile of each weight one run of memory, a tile row's K steps one after another."""
    n, k = weights[0].shape
    tiles = [w.reshape(n // block_n, block_n, k // block_k, block_k).transpose(1, 2) for w in weights]
    return torch.stack(tiles, dim=2).contiguous()


@triton.jit
def _swiglu(gu_ptr, h_ptr, N, BLOCK: tl.constexpr):
    """h[m] = silu(gu[m, :N]) * gu[m, N:], one row and BLOCK columns per program."""
    row = tl.program_id(0)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    g = tl.load(gu_ptr + row * 2 * N + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(gu_ptr + row * 2 * N + N + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(h_ptr + row * N + offs, (g / (1.0 + tl.exp(-g)) * u).to(h_ptr.dtype.element_ty), mask=mask)

FMA_MAX_M = 0  # M <= this: CUDA-core GEMV (0: never)
SMALL_MAX_M = 64  # M <= this: tensor-core weight streaming; above: compute-bound GEMMs
SMALL_DOWN_PDL = 1  # 1: the small path's kernels chained by programmatic dependent launch
SMALL_GRAPH = 0  # 1: the small path replayed from a CUDA graph captured once per M
SMALL_FUSED = 0  # 1: M <= 128 in one persistent launch (gate-up and down from one queue)


class ModelNew(Model):
    """The reference's Model (same constructor, same state dict) with a Triton forward."""

    _prepared = False

    def prepare(self):
        """The weights as the kernels read them, taken once after the state dict is loaded (untimed): plain tensors
        (not Parameters, which nn.Module would register), so that the state dict stays the reference's."""
        self._wg = self.gate_proj.weight.detach().contiguous()
        self._wu = self.up_proj.weight.detach().contiguous()
        self._wd = self.down_proj.weight.detach().contiguous()
        # [gate; up] as one [2N, K] matrix for the large path's one cuBLAS GEMM: made at its first
        # call (a decode-only caller never pays its memory), once, like the rest of prepare()
        self._wgu = None
        self._small_w = None  # the small path's weights (_small_weights)
        # programmatic dependent launch needs Hopper or later (elsewhere the kernels run plainly one after another)
        self._pdl = (bool(SMALL_DOWN_PDL) and self._wd.is_cuda
                     and torch.cuda.get_device_capability(self._wd.device)[0] >= 9)
        # the down kernel's tile counters (LAST: the last program of a tile sums it); its last program zeroes them
        self._tile_counts = torch.zeros(4096, device=self._wd.device, dtype=torch.int32)
        self._graphs = {} if SMALL_GRAPH and self._wd.is_cuda else None  # M -> (x, y, graph), or None: failed
        self._scratch = {}  # the small paths' intermediates (_buffer; not nn.Module's _buffers): one stream at a time
        self._bound = {}  # (path, M, dtype) -> a bound Triton launch (see _launch)
        self._prepared = True

    def forward(self, x):
        if not self._prepared:
            self.prepare()
        a = x.reshape(-1, x.shape[-1]).contiguous()
        if a.data_ptr() % 16:  # the bound launches are specialised, as Triton does, to 16-byte aligned tensors
            a = a.clone()
        M = a.shape[0]
        if M <= SMALL_MAX_M:
            y = self._small_path(a) if self._graphs is None else self._small_replayed(a)
        else:
            y = self._large(a)
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def _small_path(self, a):
        """The fused kernel where its tiles divide the weights (they are not masked), else the separate kernels."""
        return self._fused(a) if SMALL_FUSED and self._fused_fits and a.shape[0] <= 128 else self._small(a)

    def _small(self, a):
        """Small M: tensor-core streaming of gate and up (split over K: 1) with the SwiGLU epilogue
        (or float32 partials that its last program of a tile, or the down kernel, finishes), then the split-K
        down."""
        M, K = a.shape
        N = self._wg.shape[0]
        h = gu = self._buffer("h", (M, N), a.dtype)  # SwiGLU output
        (wg, wu, packed), small_wd = self._small_weights()
        _launch(self._bound, ("small gate-up", M, a.dtype), _gateup_stream,
                (a, wg, wu, gu, h, self._tile_counts, M, N, K),
                lambda: ((_cdiv(M, _block_m(M, 128)), _cdiv(N, 64), 1), dict(
                    BLOCK_M=_block_m(M, 128), BLOCK_N=64, BLOCK_K=64,
                    SPLIT_K=1, USE_DOT=True, EVEN_K=K % (1 * 64) == 0,
                    GDC=self._pdl, PACKED=packed, LAST=False, num_warps=8,
                    num_stages=3)))
        bm = _block_m(M, 128)
        return self._down("small", h, M, 0, bm, True, 64, 128,
                          4, 4, 3, False, self._pdl,
                          small_wd)

    def _small_weights(self):
        """(gate, up, PACKED) and (down, PACKED) as _gateup_stream and _down_stream take them; a
        copy is made at the small path's first call: a caller that never runs that path never
        holds it."""
        if self._small_w is None:
            gu, wd = (self._wg, self._wu, False), (self._wd, False)
            if self._wg.shape[0] % 64 == 0 and self._wg.shape[1] % 64 == 0:
                tiles = _tile_major((self._wg, self._wu), 64, 64)
                gu = (tiles, tiles, True)
            if self._wd.shape[0] % 64 == 0 and self._wd.shape[1] % 512 == 0:
                wd = (_tile_major((self._wd,), 64, 128), True)
            self._small_w = gu, wd
        return self._small_w

    def _down(self, path, h, M, h_parts, bm, use_dot, block_n, block_k, split_k, num_warps, num_stages, last, pdl,
              weight):
        """The down projection for small M, split over its K so that every SM streams weights; the partials
        summed by the last program of each tile (`last`) or by a third kernel; `pdl`: launched early; `weight`:
        (W_down as the kernel reads it, whether tile-major)."""
        N, K = self._wd.shape
        wd, packed = weight
        y = torch.empty((M, N), device=h.device, dtype=self._wd.dtype)
        out = y if split_k == 1 else self._buffer("partials", (split_k, M, N), torch.float32)
        grid = (_cdiv(M, bm), _cdiv(N, block_n), split_k)
        last = last and split_k > 1 and grid[0] * grid[1] <= self._tile_counts.numel()
        _launch(self._bound, (path, "down", M, h.dtype), _down_stream,
                (h, wd, out, y, self._tile_counts, M, N, K), lambda: (grid, dict(
                    H_PARTS=h_parts, BLOCK_M=bm, BLOCK_N=block_n, BLOCK_K=block_k, SPLIT_K=split_k,
                    USE_DOT=use_dot, EVEN_K=K % (split_k * block_k) == 0, LAST=last, GDC=pdl, PACKED=packed,
                    num_warps=num_warps, num_stages=num_stages, launch_pdl=pdl)))
        if split_k > 1 and not last:
            _launch(self._bound, (path, "sum", M, y.dtype), _splitk_sum, (out, y, M * N), lambda: (
                (_cdiv(M * N, 1024),), dict(SPLIT_K=split_k, BLOCK=1024, GDC=pdl, launch_pdl=pdl)))
        return y

    def _buffer(self, name, shape, dtype):
        """A scratch tensor kept per name, shape and dtype (the kernels' intermediates: every call writes all of
        it before reading it), so that a call allocates only its output."""
        key = (name, shape, dtype)
        if key not in self._scratch:
            self._scratch[key] = torch.empty(shape, device=self._wd.device, dtype=dtype)
        return self._scratch[key]

    def _large(self, a):
        """Large M, compute bound: gate-up by cublas, down by cublas."""
        M, K = a.shape
        N = self._wg.shape[0]
        if self._wgu is None:
            self._wgu = torch.cat([self._wg, self._wu])
        gu = torch.mm(a, self._wgu.t())  # cuBLAS: gate and up in one GEMM
        h = torch.empty((M, N), device=a.device, dtype=a.dtype)
        _launch(self._bound, ("large swiglu", M, a.dtype), _swiglu, (gu, h, N),
                lambda: ((M, _cdiv(N, 1024)), dict(BLOCK=1024)))
        return torch.mm(h, self._wd.t())  # cuBLAS: the fastest down GEMM at large M
