"""The evolutionary loop, the population, the cost model and the stop rules, with a stand-in evaluator and coders
(the real ones are exercised end to end in test_run_cli.py)."""
import asyncio
import json
import math
import os
import random
import signal
import statistics
import threading
import time

from agentopt.agents.base import Proposal
from agentopt.config import SearchConfig
from agentopt.problems import get_problem, shape_label
from agentopt.runs import RunStore
from agentopt.sandbox.records import Evaluation, ShapeResult
from agentopt.search.cost_model import CostModel, kendall, spearman
from agentopt.search.loop import Search
from agentopt.search.population import Member, Population, normalise_source, source_hash
from agentopt.search.progress import ProgressDisplay
from agentopt.search.stopping import CtrlC, StopState, stop_reason

PROBLEM = get_problem("llama3-8b-rmsnorm")
SHAPES = PROBLEM.cpu_shapes


def true_ms(block: int, warps: int, m: int) -> float:
    """The stand-in's 'hardware': a best block that grows with M, a penalty for too many warps."""
    best = 16 if m < 8 else 64
    return 1.0 + abs(math.log2(block / best)) * 0.4 + 0.05 * warps


def fake_source(block: int, warps: int, **more: int) -> str:
    lines = [f"{k} = {v}" for k, v in {"BLOCK": block, "WARPS": warps, **more}.items()]
    return "\n".join(lines) + "\nclass ModelNew: pass\n"


class FakeEvaluator:
    """start() returns the source, finish() an Evaluation from the source's BLOCK and WARPS; 'BROKEN' fails."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.started = 0
        self.timing = threading.Lock()
        self.overlaps = 0

    def start(self, source):
        self.started += 1
        return source

    def finish(self, source):
        if not self.timing.acquire(blocking=False):
            self.overlaps += 1
            self.timing.acquire()
        try:
            threading.Event().wait(self.delay_s)
            if "BROKEN" in source:
                return Evaluation(status="compile_error", reason="SyntaxError: line 1")
            env = {}
            exec(source.split("class")[0], env)
            shapes = []
            for shape in SHAPES:
                t = true_ms(env["BLOCK"], env["WARPS"], shape["M"])
                shapes.append(ShapeResult(shape=shape, correct=True, time_ms=t, baseline_ms=2.0, speedup=2.0 / t,
                                          floor_ms=0.9, fraction_of_floor=0.9 / t))
            score = math.exp(sum(math.log(s.speedup) for s in shapes) / len(shapes))
            return Evaluation(status="ok", score=score, shapes=shapes)
        finally:
            self.timing.release()


class FakeTemplateCoder:
    name = "template"
    space = {"BLOCK": [8, 16, 32, 64, 128], "WARPS": [1, 2, 4, 8]}

    def __init__(self, **more_space):
        self.space = {**self.space, **more_space}

    async def propose(self, ctx):
        if ctx.task in ("improve", "crossover") and ctx.parents and ctx.parents[0].params:
            params = dict(ctx.parents[0].params)
            key = ctx.rng.choice(sorted(self.space))
            params[key] = ctx.rng.choice(self.space[key])
        else:
            params = {k: ctx.rng.choice(v) for k, v in self.space.items()}
        return Proposal(source=fake_source(**{k.lower(): v for k, v in params.items()}), template="fake", params=params,
                        parents=[p.id for p in ctx.parents])


def features(template, params, shape):
    return {"log_block": math.log2(params["BLOCK"]), "warps": params["WARPS"]}


def make_search(tmp_path, store=None, **cfg):
    store = store or RunStore.create(tmp_path, PROBLEM.name, {"problem": PROBLEM.to_dict()})
    config = SearchConfig(**{"budget_minutes": 5, "islands": 2, "seed": 1, "poll_s": 0.01, **cfg})
    cost = CostModel(features, SHAPES, min_measured=config.cost_model_min_measured)
    return Search(problem=PROBLEM, device="cpu", store=store, evaluator=FakeEvaluator(), config=config,
                  coders={"template": FakeTemplateCoder()}, cost_model=cost)


def test_normalised_hash_ignores_comments_blank_lines_and_trailing_space_only():
    a = "import torch\n\nx = 1  # one\n# a note\ns = '#not a comment'\n"
    b = "import torch\nx = 1   \n\n\ns = '#not a comment'\n"
    assert normalise_source(a) == normalise_source(b)
    assert source_hash(a) == source_hash(b)
    assert source_hash(a) != source_hash(a.replace("x = 1", "x = 2"))
    assert source_hash(a) != source_hash(a.replace("'#not a comment'", "''"))


def _member(mid, speedups, island=0):
    shapes = [{"shape": {"M": m}, "speedup": s, "fraction_of_floor": s / 2} for m, s in speedups.items()]
    score = math.exp(sum(math.log(s) for s in speedups.values()) / len(speedups))
    return Member(id=mid, source=f"# {mid}\nx = '{mid}'", coder="template", template="t", params={},
                  evaluation={"status": "ok", "score": score, "shapes": shapes}, island=island, status="ok",
                  score=score)


def test_population_keeps_a_shape_winner_beside_the_overall_best_and_migrates():
    pop = Population(islands=2, elite_size=1, rng=random.Random(0))
    overall = _member("a", {1: 1.0, 4096: 3.0})
    small = _member("b", {1: 2.0, 4096: 0.5})
    assert pop.add(overall)["best"] is True
    changed = pop.add(small)
    assert changed["best"] is False and changed["shapes"] == ["M=1"]
    assert pop.best.id == "a" and pop.best_per_shape["M=1"].id == "b"
    # the elite holds one member, the MAP-Elites cell of small shapes keeps the other
    assert {m.id for m in pop.members(0)} == {"a", "b"}
    assert pop.seen(small.source.replace("# b", "# another comment"))
    assert pop.migrate() == [("a", 0, 1)]
    assert pop.select_parent(1).id == "a"


def test_failures_are_offered_once_for_fixing():
    pop = Population(islands=1)
    broken = Member(id="f", source="x =", coder="llm:m", evaluation={"status": "compile_error"},
                    status="compile_error")
    pop.add(broken)
    assert pop.take_failure(0).id == "f"
    assert pop.take_failure(0) is None


def test_cost_model_learns_to_rank_unseen_points():
    cm = CostModel(features, SHAPES, min_measured=8)
    ev = FakeEvaluator()
    rng = random.Random(0)
    space = FakeTemplateCoder.space
    points = [{"BLOCK": b, "WARPS": rng.choice(space["WARPS"])} for b in space["BLOCK"]]  # each block seen once
    points += [{k: rng.choice(v) for k, v in space.items()} for _ in range(5)]
    for p in points:
        cm.observe("fake", p, ev.finish(fake_source(p["BLOCK"], p["WARPS"])).model_dump())
    assert cm.trained
    unseen = [{"BLOCK": b, "WARPS": w} for b in space["BLOCK"] for w in space["WARPS"]]
    predicted = [cm.predict_score("fake", p) for p in unseen]
    measured = [ev.finish(fake_source(p["BLOCK"], p["WARPS"])).score for p in unseen]
    assert spearman(predicted, measured) > 0.6
    ranked = cm.rank([("fake", p) for p in unseen])
    best_measured = max(measured)
    assert measured[ranked[0][0]] >= 0.9 * best_measured


def test_rank_correlations():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 2], [1, 2]) is None


def test_search_records_every_candidate_writes_best_and_times_one_at_a_time(tmp_path):
    search = make_search(tmp_path, max_candidates=20, compile_ahead=3)
    search.evaluator.delay_s = 0.01
    search.seeds = [Proposal(source="BROKEN", coder="template", template="fake", params={}),
                    Proposal(error="the template does not fit this problem", coder="template")]
    reason = asyncio.run(search.run())
    assert "candidate count reached (20 of 20)" in reason
    store = search.store
    rows = store.candidates()
    assert len(rows) == 20 and len({r.id for r in rows}) == 20
    assert search.evaluator.overlaps == 0  # the GPU times one candidate at a time
    by_status = {r.status for r in rows}
    assert {"ok", "compile_error", "no_code"} <= by_status
    no_code = next(r for r in rows if r.status == "no_code")
    assert no_code.reason == "the template does not fit this problem" and no_code.score == 0.0
    hashes = [r.source_hash for r in rows if r.source_hash]
    assert len(hashes) == len(set(hashes))
    best = max((r for r in rows if r.ok), key=lambda r: r.score)
    assert (store.path / "best" / "best.py").read_text() == store.source(best.id)
    index = json.loads((store.path / "best" / "best.json").read_text())
    assert index["best"]["id"] == best.id and set(index["shapes"]) == {shape_label(s) for s in SHAPES}
    for label in index["shapes"]:
        assert (store.path / "best" / f"{label}.py").is_file()
    events = [e["event"] for e in store.events()]
    assert events.count("candidate_evaluated") == 20 and "new_best" in events
    assert any(r.parents for r in rows)  # later candidates descend from earlier ones
    generation = {r.id: r.generation for r in rows}
    for r in rows:  # one more than the eldest parent's; 0 for a fresh point
        assert r.generation == (1 + max(generation[p] for p in r.parents) if r.parents else 0)


class SlowCoder(FakeTemplateCoder):
    """Proposes while holding the event loop (as rendering and ranking template points does)."""

    async def propose(self, ctx):
        time.sleep(0.03)
        return await super().propose(ctx)


def test_the_judge_goes_from_one_candidate_to_the_next_without_waiting_on_the_event_loop(tmp_path):
    """Proposals and bookkeeping that hold the event loop must not leave the GPU idle between evaluations."""
    search = make_search(tmp_path, max_candidates=10, compile_ahead=3, cost_model_pool=4)
    search.coders = {"template": SlowCoder()}
    search.evaluator.delay_s = 0.3
    asyncio.run(search.run())
    gaps = [r.meta["judge_gap_s"] for r in search.store.candidates() if r.meta.get("judge_gap_s") is not None]
    assert len(gaps) >= 8
    # a step's proposal holds the loop 4 x 30 ms, while the judge takes 300 ms a candidate: the next one is
    # always waiting when the judge is done
    assert max(gaps) < 0.03, gaps


def test_resume_rebuilds_the_population_and_keeps_counting(tmp_path):
    first = make_search(tmp_path, max_candidates=3)
    asyncio.run(first.run())
    best_before = first.population.best.score
    store = RunStore.open(first.store.path)
    again = make_search(tmp_path, store=store, max_candidates=6)
    again.load()
    assert again.state.candidates == 3 and again.population.best.score == best_before
    asyncio.run(again.run())
    ids = [r.id for r in store.candidates()]
    assert ids == ["c0001", "c0002", "c0003", "c0004", "c0005", "c0006"]


def test_cost_model_agreement_is_reported_in_the_transcript(tmp_path):
    search = make_search(tmp_path, max_candidates=30, cost_model_min_measured=6, cost_model_report_every=5,
                         islands=1)
    asyncio.run(search.run())
    reports = [e for e in search.store.events() if e["event"] == "cost_model"]
    assert reports and reports[-1]["final"] is True and reports[-1]["n"] > 0
    assert reports[-1]["spearman"] is not None
    predicted = [r.meta["predicted_score"] for r in search.store.candidates() if r.meta.get("predicted_score")]
    assert predicted  # once trained, points were ranked before they were evaluated


def test_stop_rules():
    s = StopState(max_candidates=4, candidates=4)
    assert "candidate count" in stop_reason(s)
    s = StopState(shapes=["M=1", "M=2"], stop_fraction=0.9, best_fractions={"M=1": 0.95})
    assert stop_reason(s) is None
    s.best_fractions["M=2"] = 0.91
    assert "within 90% of its floor" in stop_reason(s)
    s = StopState(llm_reason=lambda: "token budget spent (10 of 10)")
    assert stop_reason(s) == "LLM token budget spent (10 of 10)"
    assert "time budget" in stop_reason(StopState(budget_s=0.0))


def test_ctrl_c_stops_cleanly_after_recording_what_is_done(tmp_path):
    search = make_search(tmp_path, max_candidates=1000)
    search.coders["template"] = FakeTemplateCoder(UNROLL=list(range(100)))  # more points than the run can try
    search.evaluator.delay_s = 0.02

    async def main():
        with CtrlC(search.state):
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, os.kill, os.getpid(), signal.SIGINT)
            return await search.run()

    reason = asyncio.run(main())
    assert reason == "interrupted (Ctrl-C)"
    rows = search.store.candidates()
    assert 0 < len(rows) < 1000
    evaluated = [e for e in search.store.events() if e["event"] == "candidate_evaluated"]
    assert len(evaluated) == len(rows)


def test_progress_prints_a_plain_line_per_recorded_candidate(tmp_path):
    from rich.console import Console

    search = make_search(tmp_path, max_candidates=3)
    asyncio.run(search.run())
    console = Console(record=True, width=200)
    with ProgressDisplay("run", console=console) as display:  # not a terminal: plain lines
        display.update(search.summary())
        display.update(search.summary())  # nothing new recorded: no new line
    text = console.export_text()
    assert text.count("candidates 3") == 1
    best = search.population.best
    assert f"best {best.score:.3f}x ({best.id})" in text and "valid 100%" in text and "left 4m" in text
    assert "judging" in text and "GPU" not in text  # a CPU search says nothing of a GPU
