"""The gated-MLP template's model methods, as source text that render() formats with a point's parameters and
puts into the candidate's class: the tiny, small, replayed and fused small-M paths, the split-K down projection
with its scratch buffers, and the large path (whose text depends on its variants)."""
from __future__ import annotations

from typing import Any


def h_alloc(split: int, last: bool = False) -> str:
    """The lines that take the gate-up kernel's output `gu` and the down kernel's input `h`: one buffer, the SwiGLU
    output in x's dtype (split 1) or float32 partials over `split` K parts that the down kernel finishes; with
    `last`, two: the partials, and h, which the last gate-up program of each tile writes."""
    if split == 1:
        return 'h = gu = self._buffer("h", (M, N), a.dtype)  # SwiGLU output'
    parts = f'self._buffer("gu parts", ({split}, 2, M, N), torch.float32)  # partial sums'
    if not last:
        return f"h = gu = {parts}"
    return f'gu = {parts}\n        h = self._buffer("h", (M, N), a.dtype)  # SwiGLU output, from the partials'


TINY = '''
    def _tiny(self, a):
        """One token (decode): the gate-up GEMV ({fma_block_n} rows of each a program, SwiGLU in its epilogue), then
        the down GEMV ({fma_down_block_n} rows a program), on CUDA cores; weights loaded "{fma_evict}"."""
        M, K = a.shape
        N = self._wg.shape[0]
        h = self._buffer("h", (M, N), a.dtype)
        y = torch.empty((M, K), device=a.device, dtype=a.dtype)
        _launch(self._bound, ("tiny gate-up", a.dtype), _gemv_gateup, (a, self._wg, self._wu, h, N, K),
                lambda: ((_cdiv(N, {fma_block_n}),), dict(
                    ROWS={fma_block_n}, BLOCK_K={fma_block_k}, EVEN=N % {fma_block_n} == 0 and K % {fma_block_k} == 0,
                    W_EVICT="{fma_evict}", GDC=self._pdl, num_warps={fma_warps}, num_stages={fma_stages})))
        _launch(self._bound, ("tiny down", a.dtype), _gemv_down, (h, self._wd, y, K, N),
                lambda: ((_cdiv(K, {fma_down_block_n}),), dict(
                    ROWS={fma_down_block_n}, BLOCK_K={fma_down_block_k},
                    EVEN=K % {fma_down_block_n} == 0 and N % {fma_down_block_k} == 0, W_EVICT="{fma_evict}",
                    GDC=self._pdl, num_warps={fma_down_warps}, num_stages={fma_down_stages}, launch_pdl=self._pdl)))
        return y
'''

SMALL = '''
    def _small(self, a):
        """Small M: tensor-core streaming of gate and up (split over K: {small_gu_split}) with the SwiGLU epilogue
        (or float32 partials that its last program of a tile, or the down kernel, finishes), then the split-K
        down."""
        M, K = a.shape
        N = self._wg.shape[0]
        {h_alloc}
        (wg, wu, packed), small_wd = self._small_weights()
        _launch(self._bound, ("small gate-up", M, a.dtype), _gateup_stream,
                (a, wg, wu, gu, h, {gu_counts}, M, N, K),
                lambda: ((_cdiv(M, _block_m(M, {small_block_m})), _cdiv(N, {small_block_n}), {small_gu_split}), dict(
                    BLOCK_M=_block_m(M, {small_block_m}), BLOCK_N={small_block_n}, BLOCK_K={small_block_k},
                    SPLIT_K={small_gu_split}, EVEN_K=K % ({small_gu_split} * {small_block_k}) == 0,
                    GDC=self._pdl, PACKED=packed, LAST={gu_last}, num_warps={small_warps},
                    num_stages={small_stages})))
        bm = _block_m(M, {small_down_block_m})
        return self._down("small", h, M, {h_parts}, bm, {small_down_block_n}, {small_down_block_k},
                          {small_down_split}, {small_down_warps}, {small_down_stages}, {last}, self._pdl,
                          small_wd)
'''

REPLAYED = '''
    def _small_replayed(self, a):
        """The small path replayed from a CUDA graph captured at the first call of each M: the host launches one
        graph instead of three Triton kernels and their allocations (Triton's launcher costs the host tens of
        microseconds a kernel, as much as the GPU's work at small M). The input is copied into the graph's own
        buffer and its output copied out, so a call's result is never overwritten by the next; calls on one
        stream at a time (the buffers are the model's). Where capture fails, plain launches."""
        M = a.shape[0]
        if M not in self._graphs:
            self._graphs[M] = self._capture(a) if len(self._graphs) < 64 else None
        held = self._graphs[M]
        if held is None:
            return self._small_path(a)
        x, y, graph = held
        x.copy_(a)
        graph.replay()
        return y.clone()

    def _capture(self, a):
        x = a.clone()
        self._small_path(x)  # compiled and warmed up outside the capture
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                y = self._small_path(x)
        except RuntimeError:
            return None
        return x, y, graph
'''

FUSED = '''
    def _fused(self, a):
        """M <= {FUSED_MAX_M}: the whole FFN in one persistent launch (_ffn_fused), {fused_occ} programs an SM taking
        gate-up tiles {fused_gu_bn}x{fused_gu_bk}, then down tiles {fused_d_bn}x{fused_d_bk} in {fused_d_split} slices of
        the intermediate, from one queue. Its counters are the model's, like its buffers: calls on one stream at a
        time."""
        M, K = a.shape
        N = self._wg.shape[0]
        h = self._buffer("h", (M, N), a.dtype)
        part = self._buffer("partials", (FUSED_D_SPLIT, M, K), torch.float32)
        y = torch.empty((M, K), device=a.device, dtype=a.dtype)
        items = N // FUSED_GU_BN + K // FUSED_D_BN * FUSED_D_SPLIT
        _launch(self._bound, ("fused", M, a.dtype), _ffn_fused,
                (a, self._wg, self._wu, self._wd, h, part, y, self._sync, M, K, N),
                lambda: ((min(items, self._sms * {fused_occ}),), dict(
                    BLOCK_M=_block_m(M, {FUSED_MAX_M}), GU_BN=FUSED_GU_BN, GU_BK=FUSED_GU_BK, D_BN=FUSED_D_BN,
                    D_BK=FUSED_D_BK, D_SPLIT=FUSED_D_SPLIT, SYNC_PAD={sync_pad}, num_warps={fused_warps},
                    num_stages={fused_stages})))
        return y
'''

DOWN = '''
    def _down(self, path, h, M, h_parts, bm, block_n, block_k, split_k, num_warps, num_stages, last, pdl,
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
                    EVEN_K=K % (split_k * block_k) == 0, LAST=last, GDC=pdl, PACKED=packed,
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
'''


def uses_tma(p: dict[str, Any]) -> bool:
    """Whether the point's large path has a TMA kernel (its descriptors, its prepare() lines)."""
    return "tma" in (p["large_gateup"], p["large_down"])


def large(p: dict[str, Any]) -> str:
    """The large path's method, its Triton launches bound as the small paths' are (launch.py), the TMA kernel's
    too: Triton's compiled-kernel runner turns host descriptors into the engine's own at each launch, so a bound
    launch takes the descriptors made for each call's activations. With its fallback where TMA cannot run."""
    bm, bn, bk = p["large_block_m"], p["large_block_n"], p["large_block_k"]
    launch = f"GROUP_M={p['large_group_m']}, num_warps={p['large_warps']}, num_stages={p['large_stages']}"

    def tiles(even_k: str) -> str:
        return (f"BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_K={bk}, EVEN_K={even_k} % {bk} == 0,\n"
                f"                              {launch}")

    def tma(a: str, b: str, b2: str, c: str, n: str, k: str, gated: bool, indent: str) -> str:
        what = "gate-up" if gated else "down"
        return (f"{indent}_launch(self._bound, (\"large tma {what}\", M, a.dtype), _gemm_tma,\n"
                f"{indent}        (self._desc({a}, {bm}, {bk}), self._desc({b}, {bn}, {bk}),\n"
                f"{indent}         self._desc({b2}, {bn}, {bk}), self._desc({c}, {bm}, {bn}), M, {n}, {k}),\n"
                f"{indent}        lambda: ((_cdiv(M, {bm}) * _cdiv({n}, {bn}),),\n"
                f"{indent}                 dict(BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_K={bk}, GATED={gated},\n"
                f"{indent}                      {launch})))\n")
    pointer_gateup = ("_launch(self._bound, (\"large gate-up\", M, a.dtype), _gateup_gemm,\n"
                      "                (a, self._wg, self._wu, h, M, N, K),\n"
                      f"                lambda: ((_cdiv(M, {bm}) * _cdiv(N, {bn}),),\n"
                      f"                         dict({tiles('K')})))\n")
    if p["large_gateup"] == "tma":
        gateup = ("        h = torch.empty((M, N), device=a.device, dtype=a.dtype)\n"
                  "        if self._tma:  # TMA GEMM, SwiGLU in its epilogue\n"
                  + tma("a", "self._wg", "self._wu", "h", "N", "K", True, " " * 12)
                  + "        else:  # the same tiles by pointer loads\n            "
                  + pointer_gateup.replace("\n                ", "\n                    "))
    elif p["large_gateup"] == "triton":
        gateup = "        h = torch.empty((M, N), device=a.device, dtype=a.dtype)\n        " + pointer_gateup
    else:
        gateup = ("        if self._wgu is None:\n"
                  "            self._wgu = torch.cat([self._wg, self._wu])\n"
                  "        gu = torch.mm(a, self._wgu.t())  # cuBLAS: gate and up in one GEMM\n"
                  "        h = torch.empty((M, N), device=a.device, dtype=a.dtype)\n"
                  "        _launch(self._bound, (\"large swiglu\", M, a.dtype), _swiglu, (gu, h, N),\n"
                  "                lambda: ((M, _cdiv(N, 1024)), dict(BLOCK=1024)))\n")
    if p["large_down"] == "cublas":
        down = "        return torch.mm(h, self._wd.t())  # cuBLAS: the fastest down GEMM at large M\n"
    elif p["large_down"] == "tma":
        down = ("        if not self._tma:\n"
                "            return torch.mm(h, self._wd.t())  # cuBLAS where TMA cannot run\n"
                "        y = torch.empty((M, K), device=a.device, dtype=a.dtype)\n"
                + tma("h", "self._wd", "self._wd", "y", "K", "N", False, " " * 8) + "        return y\n")
    else:
        down = ("        y = torch.empty((M, K), device=a.device, dtype=a.dtype)\n"
                "        _launch(self._bound, (\"large down\", M, a.dtype), _gemm_epilogue,\n"
                "                (h, self._wd, self._wd, y, M, K, N),\n"
                f"                lambda: ((_cdiv(M, {bm}) * _cdiv(K, {bn}),),\n"
                f"                         dict(HAS_BIAS=False, {tiles('N')})))\n"
                "        return y\n")
    descs = TMA_DESC if uses_tma(p) else ""
    return ('\n    def _large(self, a):\n'
            f'        """Large M, compute bound: gate-up by {p["large_gateup"]}, down by {p["large_down"]}."""\n'
            '        M, K = a.shape\n        N = self._wg.shape[0]\n' + gateup + down + descs)


TMA_DESC = '''
    def _desc(self, t, rows, cols):
        """A TMA descriptor of t for [rows, cols] tiles; a weight's made once (its storage does not change)."""
        if not any(t is w for w in (self._wg, self._wu, self._wd)):
            return TensorDescriptor.from_tensor(t, [rows, cols])
        key = (t.data_ptr(), rows, cols)
        if key not in self._descs:
            self._descs[key] = TensorDescriptor.from_tensor(t, [rows, cols])
        return self._descs[key]
'''

# prepare()'s lines for a large path that uses the TMA kernel
TMA_PREPARE = '''        # the large path's TMA kernel needs Hopper or later, Triton's host descriptors and rows
        # whose bytes are a multiple of 16; elsewhere its fallback runs
        self._tma = (TensorDescriptor is not None and self._wd.is_cuda
                     and torch.cuda.get_device_capability(self._wd.device)[0] >= 9
                     and all(n * self._wd.element_size() % 16 == 0 for n in self._wd.shape))
        self._descs = {}  # (weight's address, tile rows, tile columns) -> its TMA descriptor
'''
