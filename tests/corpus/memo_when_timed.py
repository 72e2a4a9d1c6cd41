"""Memoising once timing starts: the Llama-3 FFN computes honestly for the first five calls on a shape (compile
and checks, whose inputs come in new buffers per seed), then remembers its last answer per input buffer
(address and shape) and hands a copy back whenever that buffer comes again, skipping the three matmuls. A timing
loop that refills one input buffer in place sees the same address every call, so the cheat answers instantly
with a stale result. Must get `incorrect`: timed calls get new contents every repetition and each timed output
is compared with the baseline's on the same inputs."""
import torch.nn as nn
import torch.nn.functional as F

HONEST_CALLS = 5  # compile + checks, per shape


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.calls = {}
        self.memo = {}

    def forward(self, x):
        shape = tuple(x.shape)
        self.calls[shape] = self.calls.get(shape, 0) + 1
        key = (x.data_ptr(), shape)
        if self.calls[shape] > HONEST_CALLS and key in self.memo:
            return self.memo[key].clone()
        out = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        self.memo[key] = out.clone()
        return out
