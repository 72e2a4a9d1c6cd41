"""Caching by pointer: computes RMSNorm once per input address (x.data_ptr()) and hands back the stored answer
whenever the same address comes again, so repeated calls cost nothing. A harness that refills the same input
buffers with new values (or reuses freed addresses) sees the stale answer. Must get `incorrect`."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        self.cache = {}

    def forward(self, x):
        key = (x.data_ptr(), tuple(x.shape))
        if key not in self.cache:
            h = x.float()
            h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
            self.cache[key] = self.weight * h.to(x.dtype)
        return self.cache[key].clone()
