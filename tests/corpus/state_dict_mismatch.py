"""A state-dict mismatch: names its parameter `scale` where the reference has `weight`, so the reference's
weights cannot be loaded (strict=True). Must get `compile_error` naming the missing key."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.scale * h.to(x.dtype)
