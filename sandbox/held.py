"""The memory a kernel keeps beyond the weights it shares with its caller: copies that prepare() makes (tile-major
weights, [gate; up] concatenated), buffers its calls keep (intermediates, counters), as bytes of distinct storage.
Storage held only inside a CUDA graph's pool, or only by a launch runner's closure, is not seen."""
from __future__ import annotations

import torch
import torch.nn as nn


def held_bytes(kernel: nn.Module) -> int:
    """Bytes of the storages reachable from the kernel's attributes (through modules, dicts, lists and tuples)
    that none of its state dict's tensors uses; each storage counted once."""
    seen = {_storage(t) for t in kernel.state_dict().values()}
    visited: set[int] = set()
    stack: list = [kernel]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        if isinstance(obj, torch.Tensor):
            key = _storage(obj)
            if obj.device.type != "meta" and key not in seen:
                seen.add(key)
                total += obj.untyped_storage().nbytes()
        elif isinstance(obj, nn.Module):
            stack.extend(vars(obj).values())
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            stack.extend(obj)
    return total


def _storage(t: torch.Tensor) -> tuple:
    return (t.device, t.untyped_storage().data_ptr())
