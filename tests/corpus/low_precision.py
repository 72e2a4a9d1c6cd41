"""Precision below the tolerance: computes RMSNorm in float32 but truncates every output's mantissa to 7 bits
(bfloat16 by truncation, about 0.5% relative error) on a float32 problem whose bound is 1e-3. Must get
`incorrect`."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        h = x.float()
        out = self.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))
        bits = out.contiguous().view(torch.int32) & -65536  # keep sign, exponent and 7 mantissa bits
        return bits.view(torch.float32).to(x.dtype)
