"""A search scores candidates against the run's steady eager baselines: an evaluation whose eager read slow (a
host-bound baseline slowed by other workers' compiles) must not make its candidate look faster than it is."""
import asyncio
import math

from agentopt.runs import RunStore
from agentopt.sandbox.records import Evaluation
from agentopt.search.steady import SteadyBaseline

from test_loop import SHAPES, FakeEvaluator, make_search


def evaluation(baseline_ms: float, time_ms: float = 1.0, status: str = "ok") -> dict:
    shapes = [{"shape": {"M": 1}, "correct": True, "time_ms": time_ms, "baseline_ms": baseline_ms,
               "speedup": baseline_ms / time_ms}]
    return Evaluation(status=status, score=baseline_ms / time_ms, shapes=shapes).model_dump(mode="json")


def test_a_slow_baseline_is_scored_against_the_runs_median_and_says_so():
    steady = SteadyBaseline()
    for b in (2.0, 2.1, 1.9, 2.0):
        steady.observe(evaluation(b))
    slow = evaluation(4.6)
    steady.observe(slow)
    out, notes = steady.steady(slow)
    shape = out["shapes"][0]
    assert shape["speedup"] == 2.0 and out["score"] == 2.0  # the median of the five, not 4.6
    assert shape["baseline_ms"] == 4.6 and shape["steady_baseline_ms"] == 2.0  # what it measured stays
    assert len(notes) == 1 and "2.30x the run's median" in notes[0] and "4.6x -> 2x" in notes[0]
    assert slow["shapes"][0]["speedup"] == 4.6  # the caller's record is not changed in place


def test_a_baseline_near_or_below_the_median_and_too_few_to_judge_keep_their_own():
    steady = SteadyBaseline()
    first = evaluation(9.0)
    steady.observe(first)
    assert steady.steady(first) == (first, [])  # one measurement: nothing to compare it with
    for b in (2.0, 2.0, 2.0):
        steady.observe(evaluation(b))
    for b in (2.15, 1.5):  # within 10% of the median, and below it: the evaluation's own stands
        out, notes = steady.steady(evaluation(b))
        assert out["shapes"][0]["speedup"] == b and notes == [] and out["shapes"][0]["steady_baseline_ms"] is None
    failed = evaluation(9.0, status="incorrect")
    assert steady.steady(failed) == (failed, [])


class NoisyEvaluator(FakeEvaluator):
    """Every fourth evaluation to finish reads eager 3x slow, as when the host is busy compiling. Counted by finish
    (the judge's one thread), not by start: with compile-ahead a later candidate may have started, or even been
    judged, before an earlier one, and the first evaluations of a run have too few baselines to be steadied."""

    finished = 0

    def finish(self, source):
        ev = super().finish(source)
        self.finished += 1
        if ev.ok and self.finished % 4 == 0:
            for s in ev.shapes:
                s.baseline_ms *= 3
                s.speedup = s.baseline_ms / s.time_ms
            ev.score *= 3
        return ev


def test_the_search_ranks_by_steady_baselines_and_logs_what_it_replaced(tmp_path):
    search = make_search(tmp_path, max_candidates=16, compile_ahead=1)
    search.evaluator = NoisyEvaluator()
    asyncio.run(search.run())
    rows = [r for r in search.store.candidates() if r.ok]
    steadied = [e for e in search.store.events() if e["event"] == "baseline_steadied"]
    assert steadied and all(len(e["notes"]) == len(SHAPES) for e in steadied)
    for r in rows:  # every recorded score is the stand-in's quiet one: 2 ms of eager over the candidate's time
        quiet = math.exp(sum(math.log(2.0 / s["time_ms"]) for s in r.evaluation["shapes"]) / len(SHAPES))
        assert math.isclose(r.score, quiet), (r.id, r.score, quiet)
    replaced = {e["id"] for e in steadied}
    for r in rows:
        measured = {s["baseline_ms"] for s in r.evaluation["shapes"]}
        assert measured == ({6.0} if r.id in replaced else {2.0})  # the measurement itself is kept
    # a resumed run knows the baselines measured so far
    again = make_search(tmp_path, store=RunStore.open(search.store.path), max_candidates=20)
    again.load()
    assert sum(len(v) for v in again.baselines.seen.values()) == len(rows) * len(SHAPES)
