"""The evaluator: the judge of DESIGN.md's evaluation protocol.

    ev = Evaluator(problem, device="cuda", config=EvalConfig(), hardware=profile, costs=shape_costs)
    pending = ev.start(source)        # static guard, then a worker imports and compiles it in the background
    evaluation = ev.finish(pending)   # correctness + timing, the GPU ours alone
    ev.close()                        # ends the reference process

The judge (this process) draws the seeds, asks the reference process for float32 reference outputs, asks the
worker for the candidate's outputs and timings, and compares them itself; the worker never sees a reference output.

The GPU (procs.gpu_lock): workers compile ahead holding the lock shared around each step that may launch GPU work;
finish waits for its worker's compile message without the lock, fetches every reference output it needs (once per
evaluator: the seeds are fixed per evaluator), and only then takes the lock exclusive for checks and timing, so
that no other process of ours launches GPU work meanwhile. Inside, the check commands are queued to the worker at
once and the judge compares one reply's outputs while the worker computes the next; then the timing commands, whose
replies the judge only collects until the last has come (its own CPU work may perturb timed calls), and judges
after. After the last reply (or a verdict) the worker is killed and reaped before the lock is let go.
`Evaluation.phases` says where the time went (seconds; worker_* figures are the worker's own, summed over its
replies).
"""
from __future__ import annotations

import math
import os
import secrets
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from agentopt.config import EvalConfig
from agentopt.problems import shape_label

from . import checks, cpus, guard, procs, reference, roofline, timing, wire, worker
from .compiler_info import from_ptxas_log
from .records import (CheckResult, CompileResult, Evaluation, KernelInfo, ShapeCost, ShapeResult,  # noqa: F401
                      TimingResult, geomean)


class ReferenceFailed(RuntimeError):
    """The problem's own reference could not be built or run: no candidate can be judged against it."""


class Verdict(Exception):
    """A verdict reached part-way (inside finish); carries the status and reason."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Pending:
    source: str
    started: float
    guard: list[str] = field(default_factory=list)
    early: Evaluation | None = None
    proc: object = None
    conn: object = None
    log_path: str = ""
    compile_deadline: float = 0.0
    compiled: bool = False  # its compile message was read
    killed: bool = False  # stopped past its compile limit while the judge waited for the GPU


class _ReferenceProcess:
    def __init__(self, problem, device: str, dtype: str, weight_seed: int, folder: str):
        self.proc, self.conn = procs.start(reference.main, problem, device, dtype, weight_seed, folder)

    def ask(self, message: dict) -> None:
        wire.send(self.conn, message)

    def answer(self) -> dict:
        kind, msg = procs.receive(self.proc, self.conn, time.monotonic() + 3600)
        if kind != "msg":
            raise ReferenceFailed(f"the reference process {procs.describe_exit(self.proc.exitcode)}")
        if not msg.get("ok"):
            raise ReferenceFailed(f"the reference failed: {msg.get('error')}")
        return msg

    def close(self) -> None:
        procs.stop(self.proc, self.conn, 2.0)


class Evaluator:
    def __init__(self, problem, device: str = "cuda", config: EvalConfig | None = None, hardware=None,
                 costs: list[ShapeCost] | None = None):
        if device not in ("cuda", "cpu"):
            raise ValueError(f"device must be 'cuda' or 'cpu', not {device!r}")
        self.problem, self.device = problem, device
        self.config = config or EvalConfig()
        self.hardware, self.costs = hardware, costs
        self.shapes = problem.shapes_for(device)
        self.dtype = problem.dtype_for(device)
        self.tol = problem.tolerance(device)
        n = max(1, self.config.seeds_per_shape)
        self.seeds = [[secrets.randbits(62) for _ in range(n)] for _ in self.shapes]  # drawn here, never shown
        self.timing_seeds = [secrets.randbits(62) for _ in self.shapes]
        k = max(1, self.config.checked_timed_calls)
        self.checked_seeds = [[secrets.randbits(62) for _ in range(k)] for _ in self.shapes]
        self._folder = procs.scratch_dir()
        cpus.judge(device)
        self._ref: _ReferenceProcess | None = None
        self._prepared: dict | None = None
        self._outputs: dict[tuple, checks.Reference] = {}  # (shape, seed, heavy) -> float32 reference output
        self._live: dict[int, Pending] = {}  # started, not finished: stopped by close()
        self._count = 0

    # ----- public interface -----
    def evaluate(self, source: str) -> Evaluation:
        return self.finish(self.start(source))

    def start(self, source: str) -> Pending:
        pending = Pending(source=source, started=time.monotonic())
        pending.guard = guard.check_source(source) if self.config.static_guard else []
        if pending.guard:
            pending.early = Evaluation(status="rejected", reason="; ".join(pending.guard), guard=pending.guard,
                                       device=self.device)
            return pending
        prepared = self._prepare()
        self._count += 1
        pending.log_path = os.path.join(self._folder, f"worker-{self._count}.log")
        spec = {"problem": self.problem, "device": self.device, "dtype": self.dtype, "source": source,
                "weights": prepared["weights"], "pending_work_ms": self.config.pending_work_ms,
                "timing": self.config.model_dump()}
        pending.proc, pending.conn = procs.start(worker.main, spec, pending.log_path)
        pending.compile_deadline = time.monotonic() + self.config.compile_timeout_s
        self._live[id(pending)] = pending
        return pending

    def finish(self, pending: Pending) -> Evaluation:
        if pending.early is not None:
            pending.early.seconds = time.monotonic() - pending.started
            return pending.early
        results: list[ShapeResult] = []
        compile_result = CompileResult(ok=False)
        phases: dict[str, float] = {}
        phase = "compile (import and the first call on each shape)"
        try:
            t0 = time.monotonic()
            if pending.killed:
                raise Verdict("timeout", f"compile time limit of {self.config.compile_timeout_s:g} s exceeded "
                              f"during {phase} (stopped while another candidate waited for the GPU)")
            msg = self._receive(pending, pending.compile_deadline, phase, compile_limit=True)  # no lock: CPU work
            pending.compiled = True
            _add(phases, msg, "worker_")
            phases["compile_wait"] = time.monotonic() - t0
            compile_result = CompileResult(ok=True, seconds=float(msg.get("seconds", 0.0)),
                                           kernels=[KernelInfo(**k) for k in msg.get("kernels", [])],
                                           held_bytes=msg.get("held_bytes"))
            t0 = time.monotonic()
            self._references()  # before the GPU is ours: the reference process needs it too (once per evaluator)
            phases["references"] = time.monotonic() - t0
            t0 = time.monotonic()
            with self._gpu_exclusive():
                phases["lock_wait"] = time.monotonic() - t0
                try:
                    deadline = time.monotonic() + self.config.run_timeout_s
                    t0 = time.monotonic()
                    self._check_all(pending, deadline, results, phases)
                    phases["checks"] = time.monotonic() - t0
                    t0 = time.monotonic()  # timings asked once every check is judged: the judge is quiet now
                    self._time_all(pending, deadline, results, phases)
                    phases["timing"] = time.monotonic() - t0
                finally:  # inside the lock: the worker and whatever it still had queued end before the next
                    t0 = time.monotonic()
                    procs.kill(pending.proc, pending.conn, self.config.kill_grace_s)
                    phases["stop"] = time.monotonic() - t0
            evaluation = Evaluation(status="ok", shapes=results, score=geomean([r.speedup for r in results]))
            if self.costs and self.hardware is not None and self.device == "cuda":
                roofline.add_floors(evaluation, self.costs, self.hardware, self.dtype, self.config.roofline_slack)
        except Verdict as v:
            evaluation = Evaluation(status=v.status, reason=v.reason, shapes=results)
            compile_result.error = None if compile_result.ok else v.reason
        finally:
            procs.stop(pending.proc, pending.conn, self.config.kill_grace_s)
            self._live.pop(id(pending), None)
        compile_result.log = procs.read_log(pending.log_path)
        compile_result.kernels += [KernelInfo(**k) for k in from_ptxas_log(compile_result.log)]
        evaluation.compile = compile_result
        evaluation.device = self.device
        evaluation.gpu = self.hardware.name if self.hardware is not None and self.device == "cuda" else None
        evaluation.seconds = time.monotonic() - pending.started
        evaluation.phases = {k: round(v, 4) for k, v in phases.items()}
        return evaluation

    def close(self) -> None:
        for pending in list(self._live.values()):
            procs.stop(pending.proc, pending.conn, self.config.kill_grace_s)
        self._live.clear()
        if self._ref is not None:
            self._ref.close()
            self._ref = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- the GPU -----
    def _gpu_exclusive(self):
        """The GPU lock, exclusive (procs): no other process of ours launches GPU work while a candidate is checked
        and timed. While waiting, workers compiling past their limit are stopped: a hung first call holds the lock
        shared and would keep the judge waiting for ever."""
        return procs.gpu_lock(waiting=self._stop_overdue) if self.device == "cuda" else nullcontext()

    def _stop_overdue(self) -> None:
        now = time.monotonic()
        for p in list(self._live.values()):
            if not (p.killed or p.compiled) and p.proc is not None and now > p.compile_deadline and not p.conn.poll(0):
                p.killed = True
                p.proc.kill()

    # ----- the reference -----
    def _prepare(self) -> dict:
        if self._prepared is None:
            self._ref = _ReferenceProcess(self.problem, self.device, self.dtype, self.config.weight_seed,
                                          self._folder)
            self._ref.ask({"cmd": "prepare"})
            self._prepared = self._ref.answer()
        return self._prepared

    def _references(self) -> None:
        """Every reference output this evaluator compares with (the seeds are drawn once per evaluator), asked all
        at once and kept with their norms (checks.Reference): computed for the first candidate, reused after."""
        keys = [(i, seed, k == len(seeds) - 1 and len(seeds) > 1) for i, seeds in enumerate(self.seeds)
                for k, seed in enumerate(seeds)]
        keys += [(i, seed, False) for i, seeds in enumerate(self.checked_seeds) for seed in seeds]
        missing = [key for key in dict.fromkeys(keys) if key not in self._outputs]
        for i, seed, heavy in missing:
            self._ref.ask({"cmd": "ref", "shape": i, "seed": seed, "heavy": heavy})
        for key in missing:  # answers come in the order asked
            self._outputs[key] = checks.reference(self._ref.answer()["tensors"][0])

    # ----- talking to the worker -----
    def _receive(self, pending: Pending, deadline: float, phase: str, compile_limit: bool = False) -> dict:
        kind, msg = procs.receive(pending.proc, pending.conn, deadline)
        if kind == "timeout":
            limit = self.config.compile_timeout_s if compile_limit else self.config.run_timeout_s
            which = "compile" if compile_limit else "run"
            raise Verdict("timeout", f"{which} time limit of {limit:g} s exceeded during {phase}")
        if kind == "malformed":
            raise Verdict("rejected", f"the worker sent bytes that are not a harness message during {phase}")
        if kind == "died":
            tail = procs.log_tail(pending.log_path)
            raise Verdict("crashed", f"the worker {procs.describe_exit(pending.proc.exitcode)} during {phase}"
                          + (f"; its last output: {tail}" if tail else ""))
        status = msg.get("kind")
        if status in ("compile_error", "incorrect", "rejected", "crashed"):
            raise Verdict(status, str(msg.get("error")))
        return msg

    def _send(self, pending: Pending, message: dict) -> None:
        try:
            wire.send(pending.conn, message)
        except (BrokenPipeError, OSError):
            pass  # it died: _receive says how

    # ----- the protocol -----
    def _ask_checks(self, pending: Pending) -> list[tuple]:
        """Each shape's seeds, the first run twice (races), the last heavy-tailed."""
        asked = []
        for i, seeds in enumerate(self.seeds):
            for k, seed in enumerate(seeds):
                heavy = k == len(seeds) - 1 and len(seeds) > 1
                self._send(pending, {"cmd": "check", "shape": i, "seed": seed, "heavy": heavy,
                                     "runs": 2 if k == 0 else 1})
                asked.append((i, k, seed, heavy))
        return asked

    def _ask_timings(self, pending: Pending) -> list[int]:
        asked = []
        for i, seeds in enumerate(self.checked_seeds):
            checked_at = [secrets.randbelow(10**6) / 10**6 for _ in seeds]  # fresh per candidate: unpredictable
            self._send(pending, {"cmd": "time", "shape": i, "seed": self.timing_seeds[i], "checked_seeds": seeds,
                                 "checked_at": checked_at, "vary_seed": secrets.randbits(62)})
            asked.append(i)
        return asked

    def _check_all(self, pending: Pending, deadline: float, results: list[ShapeResult], phases: dict) -> None:
        """Fills `results` as it goes, so that a verdict part-way keeps the shapes already judged; the worker
        runs the next command while the judge compares the last one's outputs."""
        asked = self._ask_checks(pending)
        worst: dict[int, list[float]] = {}
        for i, k, seed, heavy in asked:
            shape, seeds = self.shapes[i], self.seeds[i]
            label, dtype = shape_label(shape), self._prepared["out_dtypes"][i]
            where = f"seed {k + 1} of {len(seeds)}{', heavy-tailed' if heavy else ''}"
            t0 = time.monotonic()
            msg = self._receive(pending, deadline, f"check of shape {label} ({where})")
            phases["check_receive"] = phases.get("check_receive", 0.0) + time.monotonic() - t0
            _add(phases, msg, "worker_check_")
            t0 = time.monotonic()
            outs = msg["tensors"]
            worst_rel, worst_max = worst.setdefault(i, [0.0, 0.0])
            for out in outs:
                cmp = checks.compare(out, self._outputs[(i, seed, heavy)], dtype, self.tol)
                if cmp.error:
                    results.append(ShapeResult(shape=shape, correct=False, rel_err=cmp.rel_err,
                                               max_err=cmp.max_err, error=f"{cmp.error} ({where})"))
                    raise Verdict("incorrect", f"shape {label}: {cmp.error} ({where})")
                worst_rel, worst_max = max(worst_rel, cmp.rel_err), max(worst_max, cmp.max_err)
            worst[i] = [worst_rel, worst_max]
            if len(outs) == 2 and (race := checks.compare_runs(outs[0], outs[1], self.tol)).error:
                results.append(ShapeResult(shape=shape, correct=False, error=race.error))
                raise Verdict("incorrect", f"shape {label}: {race.error}")
            phases["check_compare"] = phases.get("check_compare", 0.0) + time.monotonic() - t0
            if k == len(seeds) - 1:
                results.append(ShapeResult(shape=shape, correct=True, rel_err=worst_rel, max_err=worst_max))

    def _time_all(self, pending: Pending, deadline: float, results: list[ShapeResult], phases: dict) -> None:
        """Every shape's timing received first, judged after: while the worker times, the judge only waits on
        the pipe: its comparisons are CPU work that could perturb the timed calls (when they ran alongside, small-M
        times read up to 70 us high on an H200, though per-process variance alone did as much)."""
        received = []
        t0 = time.monotonic()
        try:
            for i in self._ask_timings(pending):
                msg = self._receive(pending, deadline, f"timing of shape {shape_label(self.shapes[i])}")
                _add(phases, msg, "worker_time_")
                received.append((i, msg))
        except Verdict:
            self._judge_timings(received, results, phases)  # a fault of an earlier shape came first
            raise
        finally:
            phases["timing_receive"] = time.monotonic() - t0
        self._judge_timings(received, results, phases)

    def _judge_timings(self, received: list[tuple[int, dict]], results: list[ShapeResult], phases: dict) -> None:
        t0 = time.monotonic()
        for i, msg in received:
            label, dtype = shape_label(self.shapes[i]), self._prepared["out_dtypes"][i]
            self._judge_timing(i, label, dtype, msg, results[i], self.checked_seeds[i])
        phases["timing_compare"] = phases.get("timing_compare", 0.0) + time.monotonic() - t0

    def _judge_timing(self, i: int, label: str, dtype: str, msg: dict, result: ShapeResult, seeds: list) -> None:
        bound = 2 * self.tol  # candidate vs eager baseline: both within tol of the float32 reference
        for what, key in (("timed call", "agree"), ("call of the wall-clock batch", "batch_agree")):
            agree = [float(d) for d in msg.get(key, [])]
            bad = next((n for n, d in enumerate(agree) if not d <= bound), None)
            if bad is not None:
                result.correct, result.error = False, f"{what} {bad + 1}: differs from the baseline"
                raise Verdict("incorrect", f"shape {label}: the output of {what} {bad + 1} of {len(agree)} "
                              f"differs from the baseline's on the same inputs: rel diff {agree[bad]:.3g} > "
                              f"{bound:.3g} (right when checked, different when timed)")
        for j, out in zip(msg.get("kept_sets", []), msg["tensors"]):
            cmp = checks.compare(out, self._outputs[(i, seeds[int(j)], False)], dtype, self.tol)
            if cmp.error:
                result.correct, result.error = False, f"timed call: {cmp.error}"
                raise Verdict("incorrect", f"shape {label}: the output of a timed call is wrong: {cmp.error} "
                              "(right when checked, different when timed)")
        t = _timing_result(result.shape, msg)
        result.time_ms, result.p20_ms, result.p80_ms, result.baseline_ms = (t.time_ms, t.p20_ms, t.p80_ms,
                                                                            t.baseline_ms)
        result.speedup = t.baseline_ms / t.time_ms if t.time_ms > 0 else math.inf
        busy = max(t.time_ms, float(msg.get("host_ms") or 0.0))  # GPU time, or host time if launch-bound
        if t.wall_ms is not None and t.wall_ms > busy * self.config.wallclock_slack + 0.05:
            result.error = (f"wall-clock {t.wall_ms:.4g} ms per call vs {t.time_ms:.4g} ms by CUDA events "
                            f"and {float(msg.get('host_ms') or 0):.4g} ms on the host")
            raise Verdict("rejected", f"shape {label}: {result.error}: work is hidden on another stream or "
                          "thread; do all work on the caller's stream before forward returns")


def _timing_result(shape: dict, msg: dict) -> TimingResult:
    med, p20, p80 = timing.summarize(msg["cand_ms"])
    bmed, b20, b80 = timing.summarize(msg["base_ms"])
    return TimingResult(shape=shape, time_ms=med, p20_ms=p20, p80_ms=p80, baseline_ms=bmed, baseline_p20_ms=b20,
                        baseline_p80_ms=b80, wall_ms=msg.get("wall_ms"), reps=int(msg.get("reps", 0)))


def _add(phases: dict[str, float], msg: dict, prefix: str) -> None:
    """Sum the seconds per step a worker reported into the evaluation's phases."""
    extra = msg.get("phases")
    for name, seconds in (extra.items() if isinstance(extra, dict) else ()):
        if isinstance(seconds, (int, float)):
            phases[prefix + str(name)] = phases.get(prefix + str(name), 0.0) + float(seconds)
