"""The judge's wire (sandbox/wire.py): tensors cross exactly, and bytes that are not a message never hang or fool it."""
from __future__ import annotations

import multiprocessing
import os
import time

import pytest
import torch

from agentopt.sandbox import wire


@pytest.fixture
def pair():
    a, b = multiprocessing.Pipe()
    yield a, b
    a.close()
    b.close()


def test_tensors_of_every_kind_cross_exactly(pair):
    a, b = pair
    tensors = [torch.randn(3, 5).to(torch.bfloat16), torch.arange(7, dtype=torch.int64), torch.tensor(2.5),
               torch.zeros(0, 4), torch.tensor([True, False, True]), torch.randn(4, 6).t()]  # the last not contiguous
    wire.send(a, {"kind": "outputs", "n": 3, "tensors": tensors})
    got = wire.recv(b, time.monotonic() + 10)
    assert got["kind"] == "outputs" and got["n"] == 3 and len(got["tensors"]) == len(tensors)
    for sent, came in zip(tensors, got["tensors"]):
        assert came.dtype == sent.dtype and came.shape == sent.shape and torch.equal(came, sent)


def test_a_large_output_crosses_while_the_sender_is_still_writing(pair):
    a, b = pair
    big = torch.randn(1 << 22)  # 16 MB: far more than the socket holds
    sender = multiprocessing.get_context("fork").Process(target=wire.send, args=(a, {"tensors": [big]}))
    sender.start()
    got = wire.recv(b, time.monotonic() + 30)
    sender.join(10)
    assert torch.equal(got["tensors"][0], big)


def _raw(conn, data: bytes) -> None:
    os.write(conn.fileno(), data)


def test_garbage_and_lies_are_malformed_not_believed(pair):
    a, b = pair
    _raw(a, (10**9).to_bytes(8, "big"))  # a header longer than any of ours
    with pytest.raises(ValueError):
        wire.recv(b, time.monotonic() + 5)
    for header in (b"[1, 2]", b"not json", b'{"tensors": [{"dtype": "os.system", "shape": [1]}]}',
                   b'{"tensors": [{"dtype": "float32", "shape": [-4]}]}',
                   b'{"tensors": [{"dtype": "float32", "shape": [1000000, 1000000]}]}'):
        c, d = multiprocessing.Pipe()
        _raw(c, len(header).to_bytes(8, "big") + header)
        with pytest.raises(ValueError):
            wire.recv(d, time.monotonic() + 5)
        c.close()
        d.close()


def test_a_sender_that_stops_mid_message_times_out_and_one_that_leaves_is_eof(pair):
    a, b = pair
    header = b'{"tensors": [{"dtype": "float32", "shape": [1000]}]}'
    _raw(a, len(header).to_bytes(8, "big") + header + b"\0" * 100)  # 100 of the 4000 bytes promised
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wire.recv(b, time.monotonic() + 0.5)
    assert time.monotonic() - t0 < 3
    a.close()
    with pytest.raises(EOFError):
        wire.recv(b, time.monotonic() + 5)
