"""A segfault: forward calls faulthandler._sigsegv(), killing the process with SIGSEGV. With the guard on:
`rejected` (imports `faulthandler`); with the guard off: `crashed` (the worker died; the evaluator lives on)."""
import faulthandler

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        faulthandler._sigsegv()
        return torch.softmax(x, dim=-1)
