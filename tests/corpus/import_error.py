"""An import error: imports a function torch.nn.functional does not have (an allowed module, so the guard lets
it through). Must get `compile_error` naming the import failure."""
import torch
import torch.nn as nn
from torch.nn.functional import fused_softmax_that_does_not_exist


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return fused_softmax_that_does_not_exist(x, dim=-1)
