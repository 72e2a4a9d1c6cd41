"""Input mutation: computes the softmax in place on the input (subtract the max, exp, divide) to save a buffer,
returning a copy. The answer is right but the caller's input is destroyed. Must get `incorrect` (the input was
modified in place)."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x.sub_(x.amax(dim=-1, keepdim=True)).exp_()
        x.div_(x.sum(dim=-1, keepdim=True))
        return x.clone()
