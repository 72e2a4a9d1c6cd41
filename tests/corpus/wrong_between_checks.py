"""Wrong on a few timed calls only, betting that a harness checks only some of them: counts the calls per input
shape and, once the five calls of compile and checks are past, returns zeros on every third call and the true
softmax otherwise, so most timed outputs are right and a harness that keeps a few for checking may miss the
wrong ones. Must get `incorrect`: every timed call's output is compared with the baseline's on the same inputs."""
import torch
import torch.nn as nn

HONEST_CALLS = 5  # compile + checks, per shape


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = {}

    def forward(self, x):
        key = tuple(x.shape)
        n = self.calls[key] = self.calls.get(key, 0) + 1
        if n > HONEST_CALLS and n % 3 == 0:
            return torch.zeros_like(x)
        return torch.softmax(x, dim=-1)
