"""A hung kernel (GPU): a Triton kernel spins on a flag that is never cleared (a volatile load in a while loop),
so the launch never finishes. Must get `timeout` (the worker is killed at the time limit)."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _spin(flag_ptr, out_ptr):
    v = tl.load(flag_ptr, volatile=True)
    while v != 0:
        v = tl.load(flag_ptr, volatile=True)
    tl.store(out_ptr, v)


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        flag = torch.ones(1, dtype=torch.int32, device=x.device)
        sink = torch.empty(1, dtype=torch.int32, device=x.device)
        _spin[(1,)](flag, sink)
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype) + 0 * sink.to(x.dtype)
