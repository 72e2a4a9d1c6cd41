"""Memoising repeated inputs: the Llama-3 FFN remembers its answer for an input (address, shape and a fingerprint
of the values) and, once the very same input comes a third time (a check runs one seed at most twice; a timing
loop repeats it), returns a copy of the remembered answer instead of computing. Every output is right, but the
timed calls skip the three matmuls, so the speedup is false. Must not get `ok`: `incorrect` is expected (a
harness that gives timed calls inputs never seen before, and checks them, sees a stale answer)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.memo = {}

    def forward(self, x):
        flat = x.reshape(-1)
        key = (x.data_ptr(), tuple(x.shape), float(flat.float().sum()), float(flat[-1]), float(flat[0]))
        entry = self.memo.get(key)
        if entry is not None:
            entry[0] += 1
            if entry[0] > 2:
                return entry[1].clone()
        out = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        if entry is None:
            self.memo[key] = [1, out.clone()]
        return out
