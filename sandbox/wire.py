"""Messages between the judge and its worker and reference processes: a JSON header plus raw tensor bytes.

No pickle: the judge reads what a candidate's process sends, and unpickling untrusted bytes would run its code.
A message is a dict; tensors go in its "tensors" list, each described by (dtype, shape) in the header, their bytes
following it. On the connection's file descriptor: the header's length (8 bytes, big-endian), the header (UTF-8
JSON), then each tensor's bytes, written straight from the tensor's memory and read straight into the receiving
tensor's (a 32 MB output crosses in about half the time of multiprocessing's framing, which copies it four
times).

The receiver trusts nothing it reads: a header longer than MAX_HEADER, a tensor larger than MAX_TENSOR, an unknown
dtype or a negative dimension is a malformed message (ValueError); the peer gone mid-message is EOFError; with a
deadline, a peer that stops sending mid-message is TimeoutError. (A tensor's memory is only touched as its bytes
arrive, so what a lying header can cost the judge is bounded by what the sender really sends before its deadline.)
"""
from __future__ import annotations

import json
import math
import os
import select
import time

MAX_HEADER = 1 << 20  # bytes; a longer header is not ours
MAX_TENSOR = 1 << 34  # bytes; a larger tensor is not an output of ours
_LENGTH = 8


def send(conn, message: dict) -> None:
    tensors = [_flat_bytes(t) for t in message.get("tensors") or []]
    header = {k: v for k, v in message.items() if k != "tensors"}
    header["tensors"] = [_meta(t) for t in message.get("tensors") or []]
    body = json.dumps(header).encode()
    fd = conn.fileno()
    _write(fd, len(body).to_bytes(_LENGTH, "big") + body)
    for data in tensors:
        _write(fd, data)


def recv(conn, deadline: float | None = None) -> dict:
    """Read one message (deadline: time.monotonic() by which it must have come whole)."""
    import torch

    fd = conn.fileno()
    size = int.from_bytes(_read(fd, bytearray(_LENGTH), deadline), "big")
    if size > MAX_HEADER:
        raise ValueError("malformed message: header too long")
    header = json.loads(bytes(_read(fd, bytearray(size), deadline)).decode())
    if not isinstance(header, dict) or not isinstance(header.get("tensors", []), list):
        raise ValueError("malformed message")
    tensors = []
    for meta in header.get("tensors", []):
        dtype, shape = _parse_meta(meta)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > MAX_TENSOR:
            raise ValueError(f"malformed message: a tensor of {nbytes} bytes")
        try:
            out = torch.empty(shape, dtype=dtype)
        except (RuntimeError, MemoryError) as exc:  # more than this machine can hold: not an output of ours
            raise ValueError(f"malformed message: a tensor of {nbytes} bytes") from exc
        if nbytes:
            _read(fd, out.reshape(-1).view(torch.uint8).numpy(), deadline)
        tensors.append(out)
    header["tensors"] = tensors
    return header


def _meta(t) -> dict:
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}


def _flat_bytes(t):
    """The tensor's bytes as a buffer over a contiguous CPU copy (no further copy)."""
    import torch

    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else memoryview(b"")


def _parse_meta(meta) -> tuple:
    import torch

    if not isinstance(meta, dict):
        raise ValueError("malformed message: tensor description")
    dtype = getattr(torch, str(meta.get("dtype")), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {meta.get('dtype')!r}")
    shape = meta.get("shape", [])
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError("malformed message: tensor shape")
    return dtype, shape


def _write(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view):]


def _read(fd: int, buffer, deadline: float | None):
    """Fill `buffer` from fd; EOFError if the peer closes first, TimeoutError past the deadline."""
    view = memoryview(buffer).cast("B")
    got = 0
    while got < len(view):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError("the peer stopped sending in the middle of a message")
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError("the peer closed the connection")
        got += n
    return buffer
