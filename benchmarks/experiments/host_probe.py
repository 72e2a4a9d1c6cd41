"""Probe: is the small-M FFN bound by the host's launch path? Per M, for eager and the library kernel: the host's
time to enqueue one forward (perf_counter over 200 calls with no synchronize, the GPU far behind), the GPU's
time per call back to back (CUDA events around 200 calls) and do_bench's median (L2 flushed before each call,
which gives the host a head start of one 256 MB memset). Where the host's enqueue time nears the GPU's time plus
that head start, do_bench reads the host, and a slower host (another process, a lower clock) slows the reading.
Writes benchmarks/results/<gpu>-host-probe.json.

    python3 benchmarks/experiments/host_probe.py [--compare OTHER_LIBRARY_FOLDER]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import bench_us, write_result  # noqa: E402
from ffn import build  # noqa: E402


def host_and_gpu_us(fn, calls=200):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    host = (time.perf_counter() - t0) / calls * 1e6
    end.record()
    torch.cuda.synchronize()
    return host, start.elapsed_time(end) / calls * 1e3


def main():
    from agentopt import kernels
    from agentopt.problems import get_problem

    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", default=None, help="another library folder, timed side by side as 'other library'")
    args = ap.parse_args()
    problem = get_problem("llama3-8b-ffn")
    libraries = [("library", kernels.load(problem.name, device="cuda"))]
    if args.compare:
        libraries.append(("other library", kernels.load(problem.name, device="cuda", library=args.compare)))
    rows = []
    with torch.no_grad():
        for shape in problem.shapes[:4]:
            model, inputs = build(problem, shape, torch.bfloat16)
            for _, lib in libraries:
                lib.load_state_dict(model.state_dict())
            for name, fn in (("eager", model), *libraries):
                host, gpu = host_and_gpu_us(lambda: fn(*inputs))
                row = {"M": shape["M"], "variant": name, "host_enqueue_us": host, "back_to_back_us": gpu,
                       "do_bench_us": bench_us(lambda: fn(*inputs))}
                rows.append(row)
                print(" ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                      flush=True)
    path = write_result("host-probe", {"gpu": torch.cuda.get_device_name(0), "rows": rows})
    print(path)


if __name__ == "__main__":
    main()
