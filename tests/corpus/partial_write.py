"""Partial writes: allocates the output with torch.empty and writes only the first half of the rows (rounded
up, so a one-row shape passes). Must get `incorrect` (the poisoned rest shows)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        out = torch.empty_like(x)
        rows = (x.shape[0] + 1) // 2
        h = x[:rows].float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        out[:rows] = self.weight * h.to(x.dtype)
        return out
