"""Right when checked, wrong when timed: counts how often it has seen the very same input (address, shape and
values) and returns the true RMSNorm only the first two times (a check runs one seed at most twice), then a cheap
wrong answer (the input unnormalised) for every later repeat, which is what a timing loop does. Must get
`incorrect` (outputs of timed calls are checked too)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        self.seen = {}

    def forward(self, x):
        key = (x.data_ptr(), tuple(x.shape), float(x.float().sum()))
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] > 2:
            return x * self.weight
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
