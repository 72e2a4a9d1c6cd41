"""Fishing with the garbage collector: scans gc.get_objects() for a tensor of the output's shape other than the
input (hoping to find the reference's answer) and returns a copy; falls back to zeros. With the guard on:
`rejected` (imports `gc`); with the guard off: `incorrect` (the reference output is never in this process)."""
import gc

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        for obj in gc.get_objects():
            if isinstance(obj, torch.Tensor) and obj is not x and obj.shape == x.shape and obj.dtype == x.dtype \
                    and obj.data_ptr() != x.data_ptr():
                return obj.detach().clone()
        return torch.zeros_like(x)
