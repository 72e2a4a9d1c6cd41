"""Messages between the judge and its worker and reference processes: a JSON header plus raw tensor bytes.

No pickle: the judge reads what a candidate's process sends, and unpickling untrusted bytes would run its code.
A message is a dict; tensors go in its "tensors" list, each sent as (dtype, shape) in the header and raw bytes after.
"""
from __future__ import annotations

import json

_MAX_HEADER = 1 << 20  # bytes; a longer header is not ours


def send(conn, message: dict) -> None:
    tensors = list(message.get("tensors") or [])
    header = {k: v for k, v in message.items() if k != "tensors"}
    header["tensors"] = [_tensor_meta(t) for t in tensors]
    conn.send_bytes(json.dumps(header).encode())
    for t in tensors:
        conn.send_bytes(_tensor_bytes(t))


def recv(conn) -> dict:
    """Read one message; raises EOFError when the other side is gone, ValueError when the bytes are not a message."""
    raw = conn.recv_bytes(_MAX_HEADER)
    header = json.loads(raw.decode())
    if not isinstance(header, dict) or not isinstance(header.get("tensors", []), list):
        raise ValueError("malformed message")
    header["tensors"] = [_tensor_from(meta, conn.recv_bytes()) for meta in header.get("tensors", [])]
    return header


def _tensor_meta(t) -> dict:
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}


def _tensor_bytes(t) -> bytes:
    import torch

    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""


def _tensor_from(meta: dict, data: bytes):
    import torch

    dtype = getattr(torch, str(meta.get("dtype")), None)
    shape = [int(s) for s in meta.get("shape", [])]
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {meta.get('dtype')!r}")
    if not data:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape)
