"""Slowing the baseline from a side stream (GPU): an honest RMSNorm on the caller's stream, followed by about
20 us of junk memory traffic (a 32 MB copy) launched on a private stream that is never joined. The candidate's
own CUDA events see only its honest work; the junk overlaps the baseline's next call and slows it, and 20 us per
call stays inside the wall-clock cross-check's 50 us slack. With the guard on: `rejected` (a stream never
synchronised). With the guard off the trick buys nothing: each timed call starts on an idle device, so the junk
cannot overlap the baseline; the verdict is `ok` without a speedup, or `rejected` where the stream-pool check still
sees the copy running."""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        self.side = None

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        out = self.weight * h.to(x.dtype)
        if self.side is None:
            self.side = torch.cuda.Stream(device=x.device)
            self.src = torch.empty(8 * 2**20, dtype=torch.float32, device=x.device)
            self.dst = torch.empty_like(self.src)
        with torch.cuda.stream(self.side):
            self.dst.copy_(self.src)
        return out
