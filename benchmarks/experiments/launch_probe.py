"""Probe: the host's cost of one Triton launch, by the way it is launched. Triton's `kernel[grid](...)` binds and
specialises every argument and looks the compiled kernel up on each call; the compiled kernel it returns can be
launched again through `compiled[grid](*args)` (every argument, constexprs included, in the kernel's order),
which skips that. Prints the installed Triton's launch code (the calling convention this relies on), then the
host microseconds a launch of the small-M down kernel (18 arguments) each way, bound through the templates' own
`_bind` (kernels/templates/launch.py), and checks both give one answer.

    python3 benchmarks/experiments/launch_probe.py
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import write_result  # noqa: E402
from host_probe import host_and_gpu_us  # noqa: E402
from stream_probe import H, I, template_kernels  # noqa: E402

from agentopt.problems import load_source  # noqa: E402
from kernels.templates.launch import BIND  # noqa: E402


def main():
    from triton.compiler.compiler import CompiledKernel

    print("triton", triton.__version__)
    print(inspect.getsource(CompiledKernel.__getitem__))
    T = template_kernels()
    M, split = 16, 4
    h = torch.randn(M, I, device="cuda", dtype=torch.bfloat16)
    wd = torch.randn(H, I, device="cuda", dtype=torch.bfloat16) * 0.02
    ws = torch.empty((split, M, H), device="cuda", dtype=torch.float32)
    cnt = torch.zeros(4096, device="cuda", dtype=torch.int32)
    grid = (1, H // 64, split)
    meta = dict(H_PARTS=0, BLOCK_M=16, BLOCK_N=64, BLOCK_K=128, SPLIT_K=split, EVEN_K=True, LAST=True,
                GDC=False, PACKED=False, num_warps=4, num_stages=3)
    y1 = torch.empty((M, H), device="cuda", dtype=torch.bfloat16)

    def plain(y=y1):
        return T._down_stream[grid](h, wd, ws, y, cnt, M, H, I, **meta)

    plain()
    names = T._down_stream.arg_names
    y2 = torch.empty_like(y1)
    runner = load_source("import triton\n" + BIND, "launch_bind")._bind(T._down_stream, grid, meta,
                                                                         (h, wd, ws, y2, cnt, M, H, I))

    def bound(y=y2):
        runner(h, wd, ws, y, cnt, M, H, I)

    bound()
    torch.cuda.synchronize()
    same = torch.equal(y1, y2)
    rows = {"triton": triton.__version__, "arg_names": names, "same_output": same,
            "plain_host_us": host_and_gpu_us(plain, 300)[0], "bound_host_us": host_and_gpu_us(bound, 300)[0]}
    print(rows)
    print(write_result("launch-probe", rows))


if __name__ == "__main__":
    main()
