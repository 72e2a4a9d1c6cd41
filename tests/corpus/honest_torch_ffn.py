"""Honest: Llama-3 FFN in plain PyTorch with the gate and up projections in one matmul (weights concatenated
once in prepare()). Must get `ok`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.gate_up = None

    def prepare(self):
        self.gate_up = torch.cat([self.gate_proj.weight, self.up_proj.weight], dim=0).detach().contiguous()

    def forward(self, x):
        weight = self.gate_up if self.gate_up is not None else torch.cat([self.gate_proj.weight, self.up_proj.weight])
        gate, up = F.linear(x, weight).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
