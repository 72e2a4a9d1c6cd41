"""Right when checked, wrong when timed: counts the calls it gets per input shape. The harness calls each shape
once to compile and four times to check it (three seeds, the first run twice), so the first five calls on a
shape get the true RMSNorm and every later call (timing) a cheap wrong answer (the input unnormalised). Must get
`incorrect`: every timed call's output is compared with the baseline's on the same inputs."""
import torch
import torch.nn as nn

HONEST_CALLS = 5  # compile + checks, per shape


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        self.calls = {}

    def forward(self, x):
        key = tuple(x.shape)
        self.calls[key] = self.calls.get(key, 0) + 1
        if self.calls[key] > HONEST_CALLS:
            return x * self.weight
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
