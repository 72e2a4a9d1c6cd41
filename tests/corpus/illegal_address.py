"""An illegal memory access (GPU): a Triton RMSNorm whose load pointer is offset 2**40 elements past the input,
far outside any allocation. Nothing here is forbidden statically. Must get `crashed` (a CUDA illegal address
poisons the worker's context; the evaluator survives)."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _rms_far(x_ptr, w_ptr, y_ptr, n, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    far = row.to(tl.int64) * n + offs + (1 << 40)
    x = tl.load(x_ptr + far, mask=offs < n, other=0.0).to(tl.float32)
    r = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n + eps)
    w = tl.load(w_ptr + offs, mask=offs < n, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * n + offs, (x * r * w).to(y_ptr.dtype.element_ty), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        x2 = x.reshape(-1, x.shape[-1]).contiguous()
        out = torch.empty_like(x2)
        _rms_far[(x2.shape[0],)](x2, self.weight, out, x2.shape[1], self.variance_epsilon,
                                 BLOCK=triton.next_power_of_2(x2.shape[1]))
        return out.reshape(x.shape)
