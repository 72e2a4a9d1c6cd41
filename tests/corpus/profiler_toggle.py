"""Slows the baseline: torch's autograd profiler with stack capture turned on at the end of each forward and off at
the start of the next, so the baseline's operators between them pay for profiling. Guard: `rejected`
(`torch.profiler`, private names). Runtime (guard off): `rejected`, the profiler's state is compared between
calls."""
import torch
import torch.nn as nn

_A = torch.autograd
_CFG = _A.ProfilerConfig(_A.ProfilerState.CPU, True, False, True, False, False, torch.profiler._ExperimentalConfig())


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        if _A._profiler_enabled():
            _A._disable_profiler_legacy()
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        out = self.weight * h.to(x.dtype)
        _A._enable_profiler_legacy(_CFG)
        return out
