"""The timing protocol's order of calls, on the CPU (sandbox/timing.py)."""
from __future__ import annotations

import torch

from agentopt.sandbox import timing


def _session(seen: list):
    live = [torch.zeros(4)]
    count = [0]

    def refill(_checked):
        count[0] += 1
        live[0].fill_(count[0])

    def baseline(inputs):
        seen.append(("b", float(inputs[0][0])))
        return inputs[0] * 2

    def candidate(inputs):
        seen.append(("c", float(inputs[0][0])))
        return inputs[0] * 2

    return timing.Session(candidate=candidate, baseline=baseline, poison=lambda: None, live=live, refill=refill,
                          fresh=lambda: [torch.ones(4)], checked=[])


def test_heat_calls_run_on_inputs_already_timed_never_on_the_new_ones():
    # a candidate that remembered the heat call's answer would otherwise be handed the timed inputs in advance
    seen: list = []
    session = _session(seen)
    agree = torch.zeros(2, dtype=torch.float64)
    for r in range(2):
        timing._rep(session, r, None, timing._NoTimer(), {}, [], agree, heat=2)
    assert seen == [("b", 0.0), ("b", 0.0), ("c", 1.0), ("b", 1.0),
                    ("b", 1.0), ("b", 1.0), ("b", 2.0), ("c", 2.0)]
    assert agree.tolist() == [0.0, 0.0]
