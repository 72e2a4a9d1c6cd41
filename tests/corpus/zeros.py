"""Zeros: returns an all-zero tensor of the right shape and dtype, the fastest wrong answer. Must get
`incorrect`."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.zeros_like(x)
