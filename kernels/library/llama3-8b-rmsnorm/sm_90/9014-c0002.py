"""RMSNorm in one pass over each row.

Written by agentopt's template coder from the template `rmsnorm` at the point:
    rows_per_program = 2
    num_warps = 16
"""

import torch
import triton
import triton.language as tl

# The reference, unchanged: ModelNew derives from its Model.
import torch
import torch.nn as nn
M = 1
HIDDEN = 4096
EPS = 1e-5
class Model(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        with torch.no_grad():  # a non-trivial weight, so that a kernel that ignores it fails
            self.weight.add_(0.1 * torch.randn(hidden_size))

    def forward(self, x):
        dtype = x.dtype
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dtype)

@triton.jit
def _rmsnorm(x_ptr, w_ptr, y_ptr, M, N, eps, BLOCK_N: tl.constexpr, ROWS: tl.constexpr):
    """ROWS rows per program, each read once: sum of squares in float32, x * rstd rounded to x's dtype (as the
    reference does), times the weight."""
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < N
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    for r in tl.static_range(ROWS):
        row = tl.program_id(0) * ROWS + r
        mask = cmask & ((cols * 0 + row) < M)
        x = tl.load(x_ptr + row * N + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + eps)
        h = (x * rstd).to(x_ptr.dtype.element_ty).to(tl.float32)
        tl.store(y_ptr + row * N + cols, (h * w).to(y_ptr.dtype.element_ty), mask=mask)


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



class ModelNew(Model):
    """The reference's Model (same constructor, same state dict) with a Triton forward, launched through a runner
    bound at the first call of each M (launch.py): half of Triton's host time a launch."""

    _bound = None

    def forward(self, x):
        a = x.reshape(-1, x.shape[-1]).contiguous()
        if a.data_ptr() % 16:  # the bound launch is specialised, as Triton does, to 16-byte aligned tensors
            a = a.clone()
        M, N = a.shape
        w = self.weight
        y = torch.empty((M, N), device=a.device, dtype=torch.promote_types(w.dtype, a.dtype))
        if self._bound is None:
            self._bound = {}
        _launch(self._bound, (M, N, a.dtype, w.dtype, w.data_ptr() % 16 == 0), _rmsnorm,
                (a, w, y, M, N, self.variance_epsilon),
                lambda: ((_cdiv(M, 2),), dict(BLOCK_N=triton.next_power_of_2(N), ROWS=2, num_warps=16)))
        return y.reshape(x.shape)
