"""Slowing the baseline through torch's namespace: replaces torch.softmax, which the reference calls, with a wrapper
that computes it ten times, while ModelNew calls the tensor method instead. The baseline timed beside it becomes
ten times slower, so an honest softmax looks ten times faster. With the guard on: `rejected` (patching torch); with
the guard off: `rejected` by the runtime check of torch's callables."""
import torch
import torch.nn as nn

_original = torch.softmax


def _ten_times(x, *args, **kwargs):
    for _ in range(9):
        _original(x, *args, **kwargs)
    return _original(x, *args, **kwargs)


torch.softmax = _ten_times


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x.softmax(dim=-1)
