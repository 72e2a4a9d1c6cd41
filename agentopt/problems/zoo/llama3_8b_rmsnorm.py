"""Llama-3-8B RMSNorm (Hugging Face LlamaRMSNorm): x * rsqrt(mean(x^2) + eps) * weight, computed in float32."""
import torch
import torch.nn as nn

M = 1  # tokens
HIDDEN = 4096
EPS = 1e-5


class Model(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        with torch.no_grad():  # a non-trivial weight, so that a kernel that ignores it fails
            self.weight.add_(0.1 * torch.randn(hidden_size))

    def forward(self, x):
        dtype = x.dtype
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dtype)


def get_inputs():
    return [torch.randn(M, HIDDEN)]


def get_init_inputs():
    return [HIDDEN, EPS]
