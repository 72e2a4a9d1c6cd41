"""Overfitting one shape: the row count is hard-coded (M = 7, the shape the author tried); other shapes get the
rows of a reshape to 7 rows, or the input back. Right on M=7, wrong elsewhere. Must get `incorrect`."""
import torch
import torch.nn as nn

M = 7


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        if x.shape[0] != M:
            return x * self.weight
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
