"""Wrong on the timed calls nobody checks: counts how often it has seen the very same input and returns a cheap
wrong answer (zeros) on the fourth sighting only. Checks never show one input four times, and on CPU the harness
keeps the outputs of timed calls 1, 3 and 5 of 5 for checking, so the wrong fourth call goes unseen (on a GPU
it is a warm-up call). Must get `incorrect` (every timed call's output must be right)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = {}

    def forward(self, x):
        key = (x.data_ptr(), tuple(x.shape), float(x.float().sum()))
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] == 4:
            return torch.zeros_like(x)
        return torch.softmax(x, dim=-1)
