"""Llama-3-8B rotary position embedding on queries (rotate_half form), 32 heads of 128."""
import torch
import torch.nn as nn

M = 1  # tokens
HEADS = 32
HEAD_DIM = 128
THETA = 500000.0


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Model(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        self.head_dim = head_dim
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=True)

    def forward(self, q, positions):
        freqs = positions.to(torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos().to(q.dtype)[:, None, :]
        sin = emb.sin().to(q.dtype)[:, None, :]
        return q * cos + rotate_half(q) * sin


def get_inputs():
    return [torch.randn(M, HEADS, HEAD_DIM), torch.randint(0, 8192, (M,))]


def get_init_inputs():
    return [HEAD_DIM, THETA]
