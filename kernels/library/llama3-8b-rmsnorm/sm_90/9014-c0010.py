"""RMSNorm in one pass over each row.

Written by agentopt's template coder from the template `rmsnorm` at the point:
    rows_per_program = 2
    num_warps = 2
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


class ModelNew(Model):
    """The reference's Model (same constructor, same state dict) with a Triton forward."""

    def forward(self, x):
        a = x.reshape(-1, x.shape[-1]).contiguous()
        M, N = a.shape
        y = torch.empty((M, N), device=a.device, dtype=torch.promote_types(self.weight.dtype, a.dtype))
        _rmsnorm[(triton.cdiv(M, 2),)](a, self.weight, y, M, N, self.variance_epsilon, BLOCK_N=triton.next_power_of_2(N),
                                            ROWS=2, num_warps=2)
        return y.reshape(x.shape)
