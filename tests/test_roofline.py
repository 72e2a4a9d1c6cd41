"""An evaluation's roofline figures (sandbox/roofline.py), on the CPU with a made-up GPU."""
from __future__ import annotations

import pytest

from agentopt.sandbox.records import Evaluation, ShapeCost, ShapeResult
from agentopt.sandbox.roofline import add_floors


class GPU:
    bandwidth_gbps = 1000.0  # 1 GB takes 1 ms

    @staticmethod
    def matmul_rate(dtype: str) -> float:
        return 100.0  # TFLOP/s: 1e11 FLOPs take 1 ms


def test_floor_fraction_and_rates_follow_the_bound_and_a_time_below_the_floor_is_flagged():
    costs = [ShapeCost(shape={"M": 1}, flops=1e9, bytes=1e9),  # memory-bound: floor 1 ms
             ShapeCost(shape={"M": 2}, flops=2e11, bytes=1e8)]  # compute-bound: floor 2 ms
    evaluation = Evaluation(status="ok", shapes=[ShapeResult(shape={"M": 1}, correct=True, time_ms=2.0),
                                                 ShapeResult(shape={"M": 2}, correct=True, time_ms=1.0)])
    add_floors(evaluation, costs, GPU, "bfloat16", slack=1.15)
    memory, compute = evaluation.shapes
    assert memory.floor_ms == pytest.approx(1.0) and memory.fraction_of_floor == pytest.approx(0.5)
    assert memory.achieved_gbps == pytest.approx(500.0) and memory.bandwidth_fraction == pytest.approx(0.5)
    assert compute.floor_ms == pytest.approx(2.0) and compute.achieved_tflops == pytest.approx(200.0)
    assert len(evaluation.flags) == 1 and "shape M=2" in evaluation.flags[0] and "suspicious" in evaluation.flags[0]
