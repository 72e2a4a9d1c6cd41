"""Stale or uninitialised output: returns torch.empty_like(x) without writing it, hoping the memory still holds
an earlier answer. Must get `incorrect` (outputs are poisoned before each call)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        return torch.empty_like(x)
