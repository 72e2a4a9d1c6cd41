"""The worker: one process per candidate. It imports the candidate, compiles it (first call on each shape), then
answers the judge's commands: run on a seed's inputs ("check") and time against the baseline ("time").

After every step it runs the runtime defences of tamper.py (what the candidate changed in this process, work it
left running); their reasons are `rejected` verdicts.

It never holds a reference output: it sends the candidate's outputs to the judge, who compares. Its stdout and
stderr go to a log file the judge reads (compiler output, tracebacks, faulthandler's dump on a segfault).
Every reply is one message: {"kind": "compiled" | "outputs" | "timing"} or a failure {"kind": status, "error"}.
"""
from __future__ import annotations

import faulthandler
import hashlib
import importlib.util
import os
import signal
import sys
import tempfile
import time
import traceback
from contextlib import nullcontext

from . import cpus, jit_hooks, procs, timing, wire
from .compiler_info import collect
from .reference import build_inputs, dtype_of, group_key
from .tamper import Tamper

WARM_SEED = 12345  # inputs of the compile call: not a judge seed, nothing is checked on them

# Exceptions of these classes (anywhere in the MRO) are compile errors, not wrong kernels.
COMPILE_ERRORS = {"CompilationError", "CompileTimeAssertionFailure", "OutOfResources", "CompileException",
                  "NVRTCError", "CalledProcessError"}


class Failure(Exception):
    """A verdict reached inside the worker: status and reason."""

    def __init__(self, status: str, error: str):
        super().__init__(error)
        self.status, self.error = status, error


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip()[:1500]}"


class Worker:
    def __init__(self, conn, spec: dict):
        import torch

        self.torch, self.conn, self.spec = torch, conn, spec
        self.device, self.dtype = spec["device"], dtype_of(spec["dtype"])
        self.problem = spec["problem"]
        self.shapes = self.problem.shapes_for(self.device)
        self.modules = [self.problem.module(s) for s in self.shapes]
        self.clock = time.perf_counter
        self.refs, self.news, self.out_nbytes = {}, {}, {}
        self.candidate = None
        self.tamper: Tamper | None = None  # the runtime defences, set up before the candidate is imported
        self.hold: procs.SharedHold | None = None  # the GPU lock while a compile step holds it (jit_hooks)
        self.phase = "import"
        self.phases: dict[str, float] = {}  # seconds per step of the current command, sent with its reply

    def tick(self, name: str, since: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + self.clock() - since

    def gpu_shared(self):
        """The GPU lock, shared: held around every compile step that may launch GPU work (see procs)."""
        return procs.gpu_lock(shared=True) if self.device == "cuda" else nullcontext()

    def guard_state(self) -> None:
        """The runtime defences (tamper.Tamper), after every step: a reason is a `rejected` verdict."""
        reason = self.tamper.check()
        if reason:
            raise Failure("rejected", reason)

    # ----- compile phase -----
    def load(self) -> None:
        source = self.spec["source"]
        self.tamper = Tamper(self.torch, self.clock, self.spec["pending_work_ms"],
                             classes={m.Model for m in self.modules}, modules=tuple(self.modules))
        folder = tempfile.mkdtemp(prefix="agentopt-cand-")
        path = os.path.join(folder, f"candidate_{hashlib.sha256(source.encode()).hexdigest()[:12]}.py")
        with open(path, "w") as f:
            f.write(source)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise Failure("compile_error", f"syntax error at line {exc.lineno}: {exc.msg}: {(exc.text or '').strip()}")
        except Exception as exc:
            traceback.print_exc()
            raise Failure("compile_error", f"importing the candidate failed: {_error_text(exc)}")
        if not isinstance(getattr(module, "ModelNew", None), type):
            raise Failure("compile_error", "the candidate defines no class ModelNew (a drop-in for Model)")
        self.candidate = module
        self.guard_state()

    def build(self, i: int) -> None:
        torch, mod = self.torch, self.modules[i]
        key = group_key(mod)
        if key in self.refs:
            return
        with torch.device(self.device):
            ref = mod.Model(*mod.get_init_inputs())
        ref = ref.to(self.device, self.dtype).eval()
        ref.load_state_dict(torch.load(self.spec["weights"][i], mmap=True, weights_only=True), strict=True)
        self.tamper.watch_model(self.label(i), ref)  # before the candidate's constructor runs
        step = "ModelNew(*get_init_inputs())"
        try:
            with torch.device(self.device):
                new = self.candidate.ModelNew(*mod.get_init_inputs())
            new = new.to(self.device, self.dtype).eval()
            step = "load_state_dict(reference state, strict=True)"
            new.load_state_dict(ref.state_dict(), strict=True)
            if callable(getattr(new, "prepare", None)):
                step = "ModelNew.prepare()"
                with torch.no_grad():
                    new.prepare()
        except Exception as exc:
            traceback.print_exc()
            raise self.classify(exc, f"{step} failed", compile_step=True)
        self.refs[key], self.news[key] = ref, new

    def compile(self) -> dict:
        t0 = self.clock()
        with self.gpu_shared():  # an import may launch GPU work (module-level tensors)
            self.load()
            self.sync()
        self.tick("import", t0)
        t_calls = self.clock()
        for i, mod in enumerate(self.modules):
            self.phase = f"compile of shape {self.label(i)}"
            t1 = self.clock()
            with self.gpu_shared() as self.hold:  # taken again per shape: a judge waiting to time gets in between
                try:
                    self.tick("lock_wait", t1)
                    self.build(i)
                    inputs = build_inputs(mod, WARM_SEED, False, self.dtype, self.device)
                    with self.torch.no_grad():
                        base = self.refs[group_key(mod)](*inputs)
                    self.out_nbytes[i] = base.numel() * base.element_size()
                    timing.poison_output(base)
                    del base
                    self.call(i, inputs)
                finally:
                    self.hold = None
            self.guard_state()
        self.tick("first_calls", t_calls)
        kernels = collect(self.candidate, list(self.news.values()))
        from .held import held_bytes  # torch is imported by now

        try:
            held = max((held_bytes(new) for new in self.news.values()), default=0)
        except Exception:  # a report, not a check: a candidate whose tensors cannot be walked reports none
            traceback.print_exc()  # into the worker's log
            held = None
        return {"kind": "compiled", "seconds": self.clock() - t0, "kernels": kernels, "held_bytes": held,
                "phases": self.phases}

    # ----- calls -----
    def label(self, i: int) -> str:
        from agentopt.problems import shape_label

        return shape_label(self.shapes[i])

    def sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def poison(self, i: int) -> None:
        """Before each candidate call: note what the last call left changed process-wide (tamper), and fill free
        blocks of the output's size with NaN bytes: torch.empty then returns garbage, not a stale result."""
        self.tamper.note_between_calls()
        torch = self.torch
        blocks = [torch.full((self.out_nbytes[i],), 255, dtype=torch.uint8, device=self.device) for _ in range(2)]
        del blocks

    def call(self, i: int, inputs: list, probe: bool = False):
        """One forward on poisoned memory, then the device synchronised; probe: first look for work left on
        other streams (tamper.Tamper.pending_work), and where some is seen, call again and look again before a
        rejection: once, the device can look busy for a reason not the candidate's (an honest template kernel was
        rejected so, once in a 52-candidate H200 run); a candidate that leaves work behind does it every time."""
        torch = self.torch
        try:
            caller = torch.cuda.current_stream() if self.device == "cuda" else None
            probing = probe and caller is not None
            for attempt in range(2 if probing else 1):
                self.poison(i)
                if probing:
                    self.tamper.side_streams()  # listed before forward: the probe after it must be quick
                with torch.no_grad():
                    out = self.news[group_key(self.modules[i])](*inputs)
                reason = self.tamper.pending_work(caller) if probing else None
                self.sync()
                if reason is None:
                    break
                if attempt == 1:
                    raise Failure("rejected", f"shape {self.label(i)}: {reason}")
        except Failure:
            raise
        except Exception as exc:
            traceback.print_exc()
            raise self.classify(exc, f"shape {self.label(i)}: forward raised")
        return out

    def classify(self, exc: Exception, what: str, compile_step: bool = False) -> Failure:
        names = {k.__name__ for k in type(exc).__mro__}
        if names & COMPILE_ERRORS:
            return Failure("compile_error", f"{what}: {_error_text(exc)}")
        if self.device == "cuda" and not self.context_alive():
            return Failure("crashed", f"{what} a CUDA error that poisoned the context: {_error_text(exc)}")
        return Failure("compile_error" if compile_step else "incorrect", f"{what}: {_error_text(exc)}")

    def context_alive(self) -> bool:
        try:
            self.torch.ones(1, device="cuda").add_(1).cpu()
            self.torch.cuda.synchronize()
            return True
        except Exception:
            return False

    def check_output(self, i: int, out, inputs: list) -> None:
        torch, label = self.torch, self.label(i)
        if type(out) is not torch.Tensor:
            kind = "a subclass of torch.Tensor" if isinstance(out, torch.Tensor) else type(out).__name__
            raise Failure("incorrect", f"shape {label}: forward returned {kind}; return a plain torch.Tensor")
        if out.device.type != self.device:
            raise Failure("incorrect", f"shape {label}: output is on {out.device}, expected {self.device}")
        for x in inputs:
            if isinstance(x, torch.Tensor) and out.numel() and x.numel() and \
                    out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
                raise Failure("incorrect", f"shape {label}: the output aliases an input; return a new tensor")

    # ----- commands -----
    def check(self, msg: dict) -> dict:
        """Run the candidate `runs` times on the inputs of one judge seed; return the outputs."""
        torch, i = self.torch, msg["shape"]
        self.phase = f"check of shape {self.label(i)}"
        t0 = self.clock()
        inputs = build_inputs(self.modules[i], msg["seed"], msg["heavy"], self.dtype, self.device)
        clones = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        self.tick("inputs", t0)
        outs = []
        for _ in range(msg.get("runs", 1)):
            t0 = self.clock()
            out = self.call(i, inputs, probe=True)
            self.check_output(i, out, inputs)
            self.tick("calls", t0)
            t0 = self.clock()
            outs.append(out.detach().to("cpu"))
            self.tick("to_host", t0)
            del out
            for x, c in zip(inputs, clones):
                if isinstance(x, torch.Tensor) and not torch.equal(x, c):
                    raise Failure("incorrect", f"shape {self.label(i)}: forward modified its input in place")
        self.guard_state()
        return {"kind": "outputs", "tensors": outs}

    def time(self, msg: dict) -> dict:
        """Time candidate and baseline interleaved on fresh inputs; return the times and the checked calls' outputs."""
        torch, i = self.torch, msg["shape"]
        self.phase = f"timing of shape {self.label(i)}"
        t0 = self.clock()
        mod, key = self.modules[i], group_key(self.modules[i])
        base = build_inputs(mod, msg["seed"], False, self.dtype, self.device)
        sets = [build_inputs(mod, seed, False, self.dtype, self.device) for seed in msg["checked_seeds"]]
        live = [x.clone() if isinstance(x, torch.Tensor) else x for x in base]
        draws = iter(range(1, 1 << 62))
        integers = any(isinstance(x, torch.Tensor) and not x.is_floating_point() for x in base)
        # the factors come from a generator of the worker's own, seeded by the judge: the global one is the
        # candidate's to reseed (reseeded after each call, it would hand every repetition the same inputs)
        factors = torch.Generator(device=self.device).manual_seed(msg["vary_seed"])

        def redrawn() -> list:
            """The problem's own integer inputs under a new judge-derived seed (None where they cannot replace
            the base's: another shape or dtype)."""
            if not integers:
                return [None] * len(base)
            new = build_inputs(mod, (msg["vary_seed"] + next(draws)) % (1 << 62), False, self.dtype, self.device)
            return [n if isinstance(b, torch.Tensor) and isinstance(n, torch.Tensor) and not b.is_floating_point()
                    and n.shape == b.shape and n.dtype == b.dtype else None for b, n in zip(base, new)]

        def vary(dst, src, new) -> None:
            """dst gets contents never seen before, from the base src (floating: times fresh factors)."""
            if new is not None:
                dst.copy_(new)
            else:
                dst.copy_(src)
                if dst.is_floating_point():
                    dst.mul_(torch.empty_like(dst).uniform_(0.5, 1.5, generator=factors))

        def refill(j):
            if j is not None:
                for dst, src in zip(live, sets[j]):
                    if isinstance(dst, torch.Tensor):
                        dst.copy_(src)
                return
            for dst, src, new in zip(live, base, redrawn()):
                if isinstance(dst, torch.Tensor):
                    vary(dst, src, new)

        def fresh() -> list:
            out = []
            for src, new in zip(base, redrawn()):
                if isinstance(src, torch.Tensor):
                    src = src.clone()
                    vary(src, src, new)
                out.append(src)
            return out

        def run(model, inputs):
            with torch.no_grad():
                return model(*inputs)

        session = timing.Session(candidate=lambda xs: run(self.news[key], xs),
                                 baseline=lambda xs: run(self.refs[key], xs),
                                 poison=lambda: self.poison(i), live=live, refill=refill, fresh=fresh,
                                 checked=msg["checked_at"], batch_bytes=int(self.spec["timing"]["wallclock_mb"]) << 20)
        self.tick("inputs", t0)
        try:
            stats, kept = timing.measure(session, self.spec["timing"], self.device, self.clock)
        except Exception as exc:
            traceback.print_exc()
            raise self.classify(exc, f"shape {self.label(i)}: forward raised while timed")
        for name, seconds in stats.pop("phases", {}).items():
            self.phases[f"timing_{name}"] = self.phases.get(f"timing_{name}", 0.0) + float(seconds)
        for out in kept:
            self.check_output(i, out, live)
        self.guard_state()
        t0 = self.clock()
        tensors = [o.detach().to("cpu") for o in kept]
        self.tick("to_host", t0)
        return {"kind": "timing", **stats, "tensors": tensors}

    def serve(self) -> None:
        """The judged phase: the judge sends checks and timings only while it holds the GPU exclusive."""
        cpus.timing(self.device)
        commands = {"check": self.check, "time": self.time}
        while True:
            try:
                msg = wire.recv(self.conn)
            except (EOFError, OSError):
                return
            if msg.get("cmd") not in commands:
                return
            self.phases = {}
            reply = commands[msg["cmd"]](msg)
            wire.send(self.conn, {**reply, "phases": self.phases})


def main(conn, spec: dict, log_path: str) -> None:
    """Entry point of the worker process (started by the evaluator through the forkserver)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the judge's to handle: it ends this process
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    faulthandler.enable()
    if spec["device"] == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    os.environ["TORCHINDUCTOR_COMPILE_THREADS"] = "1"  # torch.compile compiles in this thread: no pool left running
    try:
        import triton  # noqa: F401  (before the candidate: its import must not pay for it, nor patch it first)
    except ImportError:
        pass
    cpus.background(spec["device"])
    worker = Worker(conn, spec)
    if spec["device"] == "cuda" and spec["timing"].get("jit_outside_lock"):
        installed = jit_hooks.install(lambda: worker.hold, worker.torch.cuda.synchronize)
        print(f"agentopt: Triton's JIT outside the GPU lock: {'on' if installed else 'not offered by this Triton'}")
    try:
        wire.send(conn, worker.compile())
        worker.serve()
    except Failure as fail:
        wire.send(conn, {"kind": fail.status, "error": fail.error, "phase": worker.phase})
