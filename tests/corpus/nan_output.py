"""NaN: an honest softmax with a single NaN planted in the last element, too small to move the relative error
much if NaNs were skipped. Must get `incorrect` (NaN never passes)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        out = torch.softmax(x, dim=-1)
        out.view(-1)[-1] = float("nan")
        return out
