"""Slows the baseline: the Python dispatcher (torch._dispatch.python) turned on at the end of each forward and off
at the start of the next, so every aten op of the baseline between them runs ~3x slower. Guard: `rejected`
(`torch._dispatch`). Runtime (guard off): `rejected`, the thread's dispatch keys are compared between calls."""
import torch
import torch.nn as nn

_state = {"cm": None}


def _off():
    cm = _state["cm"]
    if cm is not None:
        _state["cm"] = None
        cm.__exit__(None, None, None)


def _on():
    cm = torch._dispatch.python.enable_python_dispatcher()
    cm.__enter__()
    _state["cm"] = cm


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        _off()
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        out = self.weight * h.to(x.dtype)
        _on()
        return out
