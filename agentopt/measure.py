"""The two measured ceilings of a GPU: device copy bandwidth and dense matrix rate per dtype."""
from __future__ import annotations


def _time_ms(fn, reps: int) -> float:
    import torch

    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth_gbps() -> float:
    """Device copy bandwidth (bytes read plus written) of a 1 GiB float32 copy, median of 20."""
    import torch

    src = torch.randn(2**30 // 4, device="cuda")
    dst = torch.empty_like(src)
    ms = _time_ms(lambda: dst.copy_(src), reps=20)
    return 2 * src.numel() * 4 / (ms * 1e-3) / 1e9


def measure_ceilings(progress=None) -> dict:
    """Median of repeated runs on random data (zeros run faster than real data on the matrix units)."""
    import torch

    say = progress or (lambda msg: None)
    say("measuring device copy bandwidth (1 GiB)")
    bandwidth = copy_bandwidth_gbps()
    rates = {}
    for name, size in (("bfloat16", 8192), ("float16", 8192), ("float32", 4096)):
        say(f"measuring {name} matmul rate ({size}^3)")
        dtype = getattr(torch, name)
        a = torch.randn(size, size, device="cuda", dtype=dtype)
        b = torch.randn(size, size, device="cuda", dtype=dtype)
        ms = _time_ms(lambda: torch.mm(a, b), reps=10)
        rates[name] = 2 * size**3 / (ms * 1e-3) / 1e12
        del a, b
    torch.cuda.empty_cache()
    return {"bandwidth_gbps": bandwidth, "matmul_tflops": rates,
            "method": "median of CUDA-event timings; 1 GiB float32 copy; square matmuls on randn (float32 without TF32)"}
