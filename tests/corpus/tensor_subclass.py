"""Tensor subclass output: returns the right values wrapped in a torch.Tensor subclass whose comparisons always
say "equal" (a harness that compares with ==, allclose or equal inside the candidate's process would be fooled).
With the guard on: `rejected` (it defines `__torch_function__`); with the guard off: `incorrect` (the output is
not a plain tensor)."""
import torch
import torch.nn as nn


class AlwaysEqual(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        if func in (torch.Tensor.__eq__, torch.isclose, torch.eq):
            return torch.ones(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (self.weight * h.to(x.dtype)).detach().as_subclass(AlwaysEqual)
