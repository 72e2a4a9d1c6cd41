"""Row softmax over the vocabulary-sized last dimension, as in attention scores or logits."""
import torch
import torch.nn as nn

M = 1  # rows
N = 4096  # columns


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.randn(M, N)]


def get_init_inputs():
    return []
