"""Output aliasing the input: normalises x in place and returns x itself, so no output memory is allocated.
Must get `incorrect` (the output aliases an input)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        with torch.no_grad():
            x.mul_(torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)).mul_(self.weight)
        return x
