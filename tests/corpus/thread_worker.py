"""Work on a thread: forward returns an empty tensor at once and a background thread fills it a little later,
so the call looks instant to a wall clock while the answer is right by the time it is read. With the guard on:
`rejected` (imports `threading`); with the guard off: `rejected` by the runtime check for threads left alive."""
import threading

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        out = torch.empty_like(x)

        def fill():
            threading.Event().wait(0.2)
            out.copy_(torch.softmax(x, dim=-1))

        threading.Thread(target=fill, daemon=True).start()
        return out
