"""An evaluation's shapes against the roofline: the floor (bytes over the measured copy rate, or FLOPs over the
measured matrix rate, whichever is longer), the fraction of it reached, the achieved bandwidth and FLOP rate, and
a flag where a time beats the floor by more than `slack` (a measurement to distrust, not a result to celebrate)."""
from __future__ import annotations

from agentopt.problems import shape_label

from .records import Evaluation, ShapeCost


def add_floors(evaluation: Evaluation, costs: list[ShapeCost], hardware, dtype: str, slack: float) -> None:
    bandwidth, rate = hardware.bandwidth_gbps, hardware.matmul_rate(dtype)
    for r in evaluation.shapes:
        cost = next((c for c in costs if c.shape == r.shape), None)
        if cost is None or not r.time_ms:
            continue
        seconds = r.time_ms * 1e-3
        r.floor_ms = max(cost.bytes / (bandwidth * 1e9), cost.flops / (rate * 1e12)) * 1e3
        r.fraction_of_floor = r.floor_ms / r.time_ms
        r.achieved_gbps, r.achieved_tflops = cost.bytes / seconds / 1e9, cost.flops / seconds / 1e12
        r.bandwidth_fraction, r.compute_fraction = r.achieved_gbps / bandwidth, r.achieved_tflops / rate
        if r.time_ms < r.floor_ms / slack:
            evaluation.flags.append(f"shape {shape_label(r.shape)}: {r.time_ms:.4g} ms is faster than the roofline "
                                    f"floor {r.floor_ms:.4g} ms / {slack:g}: suspicious, check the measurement")
