"""Slowing the baseline: registers a global forward pre-hook (torch.nn.modules.module.register_module_forward_
pre_hook) that runs for every module in the process, and makes every module other than ModelNew run its forward
ten extra times. The reference model timed beside the candidate as the baseline becomes ten times slower, so an
honest softmax looks ten times faster. With the guard on: `rejected` (global hooks); with the guard off:
`rejected` is expected (the harness must notice hooks that reach its baseline)."""
import torch
import torch.nn as nn


def _slow_down_others(module, args):
    if not isinstance(module, ModelNew):
        for _ in range(10):
            module.forward(*args)


nn.modules.module.register_module_forward_pre_hook(_slow_down_others)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=-1)
