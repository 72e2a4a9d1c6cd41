"""The evolutionary loop: `Search.step` is one step, top to bottom; `Search.run` keeps several steps in flight.

Concurrency: each step is an asyncio task. Its coder call (an LLM request) runs alongside other steps'; its
candidate starts compiling in a worker process (`Evaluator.start`) as soon as it exists; then `Evaluator.finish`
is queued to the judge's own thread, which finishes candidates one at a time and back to back (the event loop's
bookkeeping and proposals never delay the next), so LLM calls and other workers' compilation go on meanwhile (the
evaluator's GPU lock keeps their GPU work out of checks and timing). GPU busy time is the time the evaluator held
the GPU exclusive (its `checks` and `timing` phases). The number of steps in flight bounds both the LLM calls and
the compilation that runs ahead of the GPU.
"""
from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agentopt.agents.base import CandidateView, CoderContext, Proposal
from agentopt.config import SearchConfig
from agentopt.problems import shape_label
from agentopt.runs import CandidateRecord, RunStore

from .cost_model import CostModel
from .population import Member, Population, source_hash
from .steady import SteadyBaseline
from .stopping import StopState, may_start, stop_reason

REFERENCE_CODER = "reference"


def reference_candidate(problem_source: str) -> str:
    """The reference as a candidate: ModelNew is Model. It scores about 1.0 and gives the LLM a first parent."""
    return (problem_source.rstrip() + "\n\n\nclass ModelNew(Model):\n"
            '    """The reference itself, unchanged: the baseline."""\n')


@dataclass
class Counters:
    """What the progress display and the transcript's summary show."""
    evaluated: int = 0
    valid: int = 0
    duplicates: int = 0
    gpu_busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    judged_at: float | None = None  # when the last evaluation's finish returned


@dataclass
class Search:
    problem: Any
    device: str
    store: RunStore
    evaluator: Any  # agentopt.sandbox.evaluator.Evaluator
    coders: dict[str, Any]  # name ("template", "llm") -> Coder
    config: SearchConfig
    hardware: Any = None
    plan: Any = None
    llm: Any = None  # agents.llm.LLMClient, for its budgets and accounting
    cost_model: CostModel | None = None
    seeds: list[Proposal] = field(default_factory=list)

    def __post_init__(self) -> None:
        cfg = self.config
        self.rng = random.Random(cfg.seed)
        self.population = Population(cfg.islands, cfg.elite_per_island, cfg.explore_fraction, rng=self.rng)
        self.shapes = [shape_label(s) for s in self.problem.shapes_for(self.device)]
        self.state = StopState(budget_s=cfg.budget_minutes * 60 if cfg.budget_minutes else None,
                               max_candidates=cfg.max_candidates, shapes=self.shapes,
                               stop_fraction=cfg.stop_fraction_of_floor,
                               llm_reason=(lambda: self.llm.budget_reason) if self.llm else None,
                               max_duplicates_in_a_row=cfg.max_duplicates_in_a_row)
        self.counters = Counters()
        self.baselines = SteadyBaseline()  # the run's eager times per shape (a host-bound eager slowed by compiles)
        self.next_id = 1
        self.generation: dict[str, int] = {}
        # the judge's own thread: candidates are finished one at a time, back to back, whatever the event loop does
        self.judge = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentopt-judge")
        self.steps_started = 0
        self._evaluating: set[asyncio.Task] = set()  # steps past their proposal: finished, not dropped, on a stop

    # ---- resuming -------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the population, the best kernels, the cost model and the id counter from the run's database."""
        taken = [int(p.stem[1:]) for p in (self.store.path / "candidates").glob("c*.py") if p.stem[1:].isdigit()]
        for rec in self.store.candidates():
            taken.append(int(rec.id[1:]) if rec.id[1:].isdigit() else 0)
            self.generation[rec.id] = rec.generation
            self.state.candidates += 1
            if rec.evaluation is None:
                continue
            source = self.store.source(rec.id) if rec.path else ""
            self.baselines.observe(rec.evaluation)
            self._absorb(rec, source, log=False)
        self.next_id = max(taken, default=0) + 1

    # ---- one step -------------------------------------------------------------------------------------------
    async def step(self, island: int, seed: Proposal | None = None) -> None:
        """One evolutionary step: parents and inspirations, the coder's proposal, duplicates dropped, the source
        saved, evaluated, recorded, and the population and best/ updated."""
        # 1. the parents, the inspirations and the task (a seed is a ready proposal)
        coder_name = self._pick_coder() if seed is None else seed.coder
        task, parents = self._pick_task(coder_name, island) if seed is None else ("new", [])
        inspirations = self.population.inspirations(island, self.config.inspirations, {p.id for p in parents})
        ctx = CoderContext(problem=self.problem, device=self.device, hardware=self.hardware, plan=self.plan,
                           task=task, parents=[_view(p) for p in parents],
                           inspirations=[_view(m) for m in inspirations], rng=random.Random(self.rng.random()))

        # 2. the proposal (template points are ranked by the cost model first)
        proposal, predicted = (seed, None) if seed is not None else await self._propose(coder_name, ctx)

        # 3. duplicates dropped (by the normalised source hash)
        if proposal.source is not None and self.population.seen(proposal.source):
            self.counters.duplicates += 1
            self.state.duplicates_in_a_row += 1
            self.store.log("duplicate_dropped", coder=proposal.coder, task=task, hash=source_hash(proposal.source))
            return
        self.state.duplicates_in_a_row = 0
        cid = f"c{self.next_id:04d}"
        self.next_id += 1
        rec = CandidateRecord(id=cid, generation=1 + max((self.generation.get(p, 0) for p in proposal.parents),
                                                         default=-1),
                              island=island, coder=proposal.coder, parents=proposal.parents,
                              template=proposal.template, params=proposal.params, prompt=proposal.prompt,
                              reply=proposal.reply, meta={**proposal.meta, "task": task, "predicted_score": predicted})
        self.generation[cid] = rec.generation
        self.store.link_llm_calls(proposal.llm_call_ids, cid)
        if proposal.source is None:  # the coder had no code to give: a failed candidate with its reason
            rec.status, rec.reason, rec.score = "no_code", proposal.error, 0.0
            self._record(rec, "")
            return

        # 4. the source saved
        rec.source_hash = self.population.remember(proposal.source)
        rec.path = self.store.save_source(cid, proposal.source)
        self.store.log("candidate_proposed", id=cid, coder=rec.coder, task=task, parents=rec.parents,
                       template=rec.template, params=rec.params, predicted_score=predicted)

        # 5. evaluated: compiling starts now; the GPU times one candidate at a time
        self._evaluating.add(asyncio.current_task())
        try:
            pending = self.evaluator.start(proposal.source)
            evaluation, gap = await asyncio.get_running_loop().run_in_executor(self.judge, self._judge, pending)
            rec.meta["judge_gap_s"] = gap
            self.counters.gpu_busy_s += sum(evaluation.phases.get(p, 0.0) for p in ("checks", "timing"))
        except Exception as exc:  # the judge itself failed (e.g. the reference cannot run): no verdict, stop
            self.state.fatal = f"the evaluator failed: {type(exc).__name__}: {exc}"
            return

        # 6. scored against the run's steady eager baselines, recorded, and 7. the population, best/ and the cost
        # model updated
        measured = evaluation.model_dump(mode="json")
        self.baselines.observe(measured)
        rec.evaluation, notes = self.baselines.steady(measured)
        if notes:
            self.store.log("baseline_steadied", id=cid, notes=notes)
        rec.status, rec.reason, rec.score = evaluation.status, evaluation.reason, rec.evaluation["score"]
        self._record(rec, proposal.source)

    def _judge(self, pending: Any) -> tuple[Any, float | None]:
        """In the judge's thread: the evaluation, and how long the judge sat idle since the last one returned."""
        gap = None if self.counters.judged_at is None else round(time.monotonic() - self.counters.judged_at, 4)
        evaluation = self.evaluator.finish(pending)
        self.counters.judged_at = time.monotonic()
        return evaluation, gap

    def _record(self, rec: CandidateRecord, source: str) -> None:
        self.store.put_candidate(rec)
        self.state.candidates += 1
        self._absorb(rec, source, log=True)

    def _absorb(self, rec: CandidateRecord, source: str, log: bool) -> None:
        """A recorded candidate into the counters, the population, best/ and the cost model."""
        self.counters.evaluated += 1
        self.counters.valid += rec.ok
        member = Member(id=rec.id, source=source, coder=rec.coder, evaluation=rec.evaluation, template=rec.template,
                        params=rec.params, island=rec.island, status=rec.status, score=rec.score or 0.0)
        if log:
            self.store.log("candidate_evaluated", id=rec.id, coder=rec.coder, status=rec.status, reason=rec.reason,
                           score=rec.score, speedups=member.speedups(), fraction_of_floor=member.fractions_of_floor())
        changed = self.population.add(member)
        self.state.best_fractions = {label: f for label, m in self.population.best_per_shape.items()
                                     if (f := m.fractions_of_floor().get(label))}
        if changed["best"] or changed["shapes"]:
            self._write_best(member, changed, log)
        if self.cost_model is not None and rec.template and rec.evaluation:
            self.cost_model.observe(rec.template, rec.params or {}, rec.evaluation, rec.meta.get("predicted_score"))
            if log and self.cost_model.pairs and len(self.cost_model.pairs) % self.config.cost_model_report_every == 0:
                self.store.log("cost_model", **self.cost_model.agreement())
        if log and self.state.candidates % self.config.migration_every == 0:
            moves = self.population.migrate()
            if moves:
                self.store.log("migration", moves=[{"id": i, "from": a, "to": b} for i, a, b in moves])

    def _write_best(self, m: Member, changed: dict[str, Any], log: bool) -> None:
        if changed["best"]:
            self.store.write_best("best", m.source)
        for label in changed["shapes"]:
            self.store.write_best(label, m.source)
        best = self.population.best
        self.store.write_best_index({
            "best": {"id": best.id, "score": best.score} if best else None,
            "shapes": {label: {"id": b.id, "speedup": b.speedups().get(label),
                               "fraction_of_floor": b.fractions_of_floor().get(label)}
                       for label, b in self.population.best_per_shape.items()}})
        if log:
            self.store.log("new_best", id=m.id, score=m.score, overall=changed["best"], shapes=changed["shapes"])

    # ---- choices --------------------------------------------------------------------------------------------
    def _pick_coder(self) -> str:
        names = sorted(self.coders)
        return names[self.steps_started % len(names)]

    def _pick_task(self, coder: str, island: int) -> tuple[str, list[Member]]:
        """The task and its parents. The LLM coder fixes recent failures now and then, crosses two good
        candidates, or improves one; the template coder samples afresh, crosses two points or mutates one."""
        pop, cfg, r = self.population, self.config, self.rng.random()
        family = "template" if coder == "template" else None
        if coder != "template" and r < cfg.fix_fraction:
            failed = pop.take_failure(island)
            if failed is not None:
                return ("fix_compile" if failed.status == "compile_error" else "fix_wrong"), [failed]
        first = pop.select_parent(island, family)
        if first is None:
            return "new", []
        if r > 1 - cfg.crossover_fraction:
            second = pop.select_parent(island, family, exclude={first.id})
            if second is not None:
                return "crossover", [first, second]
        if coder == "template" and r < cfg.explore_fraction:
            return "new", []
        return "improve", [first]

    async def _propose(self, coder_name: str, ctx: CoderContext) -> tuple[Proposal, float | None]:
        """The coder's proposal. For the template coder, several points are drawn and the cost model picks the
        most promising one that is new (while untrained, the first new one)."""
        coder = self.coders[coder_name]
        if coder_name != "template" or self.cost_model is None:
            return await coder.propose(ctx), None
        drawn = [await coder.propose(ctx) for _ in range(self.config.cost_model_pool)]
        fresh = [p for p in drawn if p.source is not None and p.template and not self.population.seen(p.source)]
        if not fresh:
            return drawn[0], None
        best_index, predicted = self.cost_model.rank([(p.template, p.params or {}) for p in fresh])[0]
        return fresh[best_index], predicted

    # ---- the run --------------------------------------------------------------------------------------------
    def in_flight_limit(self) -> int:
        steps = self.config.compile_ahead + 1
        return max(steps, self.config.llm_in_flight) if "llm" in self.coders else steps

    async def run(self) -> str:
        """Steps until a stop rule answers; returns the reason."""
        seeds = [s for s in self.seeds if s.source is None or not self.population.seen(s.source)]
        active: set[asyncio.Task] = set()
        reason = None
        while reason is None:
            while may_start(self.state) and len(active) < self.in_flight_limit():
                island = self.steps_started % len(self.population.islands)
                task = asyncio.create_task(self.step(island, seeds.pop(0) if seeds else None))
                self.steps_started += 1
                active.add(task)
                self.state.in_flight = len(active)
            if not active:
                reason = stop_reason(self.state) or "nothing left to do"
                break
            done, active = await asyncio.wait(active, timeout=self.config.poll_s,
                                              return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a bug in a step is a bug of the loop: let it surface
            self.state.in_flight = len(active)
            reason = stop_reason(self.state)
        # candidates already compiling or timing are finished and recorded, unless Ctrl-C asked to stop now
        keep = set() if self.state.interrupted else active & self._evaluating
        for task in active - keep:
            task.cancel()
        for result in await asyncio.gather(*active, return_exceptions=True):
            if isinstance(result, Exception):
                raise result
        self.state.in_flight = 0
        if self.cost_model is not None and self.cost_model.pairs:
            self.store.log("cost_model", final=True, **self.cost_model.agreement())
        return reason

    def summary(self) -> dict[str, Any]:
        """Figures for the progress display and run.json."""
        best = self.population.best
        c = self.counters
        elapsed = time.monotonic() - c.started
        return {
            "device": self.device, "candidates": self.state.candidates, "evaluated": c.evaluated, "valid": c.valid,
            "duplicates": c.duplicates, "best_score": best.score if best else None,
            "best_id": best.id if best else None,
            "speedups": {label: m.speedups().get(label) for label, m in self.population.best_per_shape.items()},
            "fraction_of_floor": dict(self.state.best_fractions), "shapes": self.shapes,
            "gpu_busy_s": c.gpu_busy_s, "elapsed_s": elapsed, "time_left_s": self.state.time_left(),
            "llm_tokens": self.llm.tokens_used if self.llm else None,
            "llm_cost_usd": self.llm.cost_used if self.llm else None,
        }


def _view(m: Member) -> CandidateView:
    return CandidateView(id=m.id, source=m.source, coder=m.coder, template=m.template, params=m.params,
                         evaluation=m.evaluation)


# ---- a session: the evaluator, the coders and the seeds around a Search -------------------------------------
def build_coders(names: list[str], llm: Any, hardware: Any) -> dict[str, Any]:
    """Coder name -> coder (the registry of what `--coder` may choose)."""
    def template() -> Any:
        from agentopt.agents.template_coder import TemplateCoder

        return TemplateCoder(hardware=hardware)

    def llm_coder() -> Any:
        from agentopt.agents.coder import LLMCoder

        return LLMCoder(llm)

    makers = {"template": template, "llm": llm_coder}
    return {name: makers[name]() for name in names}


async def seed_proposals(search: Search) -> list[Proposal]:
    """The first candidates: the starting point of each template that matches the problem (the template coder
    proposes each template's SEED first), the points of the library's kernels for this problem (config
    library_seeds), and for the LLM coder the reference itself."""
    from agentopt.harvest.index import LibraryIndex, default_library
    from agentopt.kernels.templates._base import reference_definitions

    seeds = []
    template = search.coders.get("template")
    if template is not None:
        ctx = CoderContext(problem=search.problem, device=search.device, hardware=search.hardware, plan=search.plan,
                           task="new", rng=random.Random(search.rng.random()))
        for _ in template.matching_templates(search.problem, search.device):
            seeds.append(await template.propose(ctx))
        if search.config.library_seeds:  # kernels verified against this very reference
            entries = [e for e in LibraryIndex.load(default_library()).for_problem(search.problem.name)
                       if e.problem_hash == search.problem.source_hash]
            seeds += template.library_proposals(ctx, entries)
    if "llm" in search.coders:
        seeds.append(Proposal(source=reference_candidate(reference_definitions(search.problem.source)),
                              coder=REFERENCE_CODER))
    return seeds


async def search_session(problem: Any, device: str, store: RunStore, config: SearchConfig, coder_names: list[str],
                         hardware: Any = None, plan: Any = None, costs: Any = None, llm: Any = None,
                         resumed: bool = False, eval_config: Any = None, console: Any = None
                         ) -> tuple[str, dict[str, Any]]:
    """Run a search in a run directory until a stop rule answers (Ctrl-C included), with the progress display;
    the run directory records everything as it happens, and run.json gets the status, the reason and a summary
    at the end. Runs in the caller's event loop (the one the LLM client was first used in)."""
    from agentopt.config import EvalConfig
    from agentopt.sandbox.evaluator import Evaluator

    from .progress import ProgressDisplay
    from .stopping import CtrlC

    coders = build_coders(coder_names, llm, hardware)
    template = coders.get("template")
    cost_model = (CostModel(template.features, problem.shapes_for(device), config.cost_model_min_measured)
                  if template is not None else None)
    evaluator = Evaluator(problem, device, eval_config or EvalConfig(), hardware, costs)
    search = Search(problem=problem, device=device, store=store, evaluator=evaluator, coders=coders, config=config,
                    hardware=hardware, plan=plan, llm=llm, cost_model=cost_model)
    if resumed:
        search.load()
    note = template.note(problem, device) if template is not None else None
    if note:
        store.log("coder_note", note=note)
        if console is not None:
            console.print(note, highlight=False)
    search.seeds = await seed_proposals(search) if not search.population.hashes else []

    reason = "interrupted (Ctrl-C)"
    try:
        with CtrlC(search.state), ProgressDisplay(f"agentopt run {store.path.name}", console=console) as display:
            run = asyncio.create_task(search.run())
            while not run.done():
                display.update(search.summary())
                await asyncio.wait({run}, timeout=0.5)
            display.update(search.summary())
            reason = run.result()
    finally:  # a second Ctrl-C lands here too: what is recorded stands, and run.json says why it stopped
        search.judge.shutdown(wait=False, cancel_futures=True)
        evaluator.close()
        summary = search.summary()
        status = "failed" if search.state.fatal else "stopped" if search.state.interrupted else "finished"
        store.log("run_stopped", reason=reason, status=status, **summary)
        store.update_info(status=status, stop_reason=reason, summary=summary)
    return reason, summary


def run_session(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """`search_session` in an event loop of its own (for scripts with no LLM client)."""
    return asyncio.run(search_session(*args, **kwargs))
