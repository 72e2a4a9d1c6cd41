"""Stale output buffer: computes the softmax into a buffer on the first call for each shape, then returns that
same buffer, unchanged, on every later call. Must get `incorrect` (a fresh seed gives different inputs)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.buffers = {}

    def forward(self, x):
        if x.shape not in self.buffers:
            self.buffers[x.shape] = torch.softmax(x, dim=-1)
        return self.buffers[x.shape]
