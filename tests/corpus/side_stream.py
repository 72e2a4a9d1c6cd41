"""Work left on a side stream (GPU): runs the whole FFN on a private CUDA stream and returns without making the
caller's stream wait, so CUDA events recorded on the current stream measure almost nothing while the answer is
right once the device is synchronised. With the guard on: `rejected` (a stream never synchronised); with the
guard off: `rejected` by the runtime checks (after forward returns, the caller's stream finishes while a stream of
torch's pool is still busy; behind that, the wall-clock cross-check), or `incorrect` where the output, as the
caller's stream holds it when forward returns, is not the answer yet; or `ok`, never faster than eager, where the
host's launches outlast the GPU work so that nothing is left running when forward returns."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.side = None

    def forward(self, x):
        if self.side is None:
            self.side = torch.cuda.Stream(device=x.device)
        with torch.cuda.stream(self.side):
            for _ in range(3):  # enough hidden work to stand out of any timer's noise
                out = self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        return out
