"""Llama-3-8B MLP (Hugging Face LlamaMLP): down(silu(gate(x)) * up(x)), no bias."""
import torch
import torch.nn as nn
import torch.nn.functional as F

M = 1  # tokens
HIDDEN = 4096
INTERMEDIATE = 14336


class Model(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def get_inputs():
    return [torch.randn(M, HIDDEN)]


def get_init_inputs():
    return [HIDDEN, INTERMEDIATE]
