"""A hard exit: forward calls os._exit(3), ending the worker without cleanup. With the guard on: `rejected`
(imports `os`); with the guard off: `crashed`."""
import os

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        os._exit(3)
        return torch.softmax(x, dim=-1)
