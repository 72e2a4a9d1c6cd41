"""Wrong dtype: computes the softmax in float64 and returns it without casting back, values right. Must get
`incorrect` (the output's dtype differs from the reference's)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x.double(), dim=-1)
