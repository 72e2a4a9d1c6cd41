"""An exception on some shapes: supports only rows of at most 8 and raises ValueError beyond (a candidate that
handles the small case and gives up on the rest). Must get `incorrect`, naming the exception."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        if x.shape[0] > 8:
            raise ValueError(f"only up to 8 rows are supported, got {x.shape[0]}")
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
