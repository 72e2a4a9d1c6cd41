"""The worker's runtime defences against tampering: what a candidate changed in its own process that the static
guard could not see.

    tamper = Tamper(torch, clock, pending_work_ms)   # before the candidate is imported: what is normal
    reason = tamper.check()                          # after every step: None, or why the candidate is rejected
    reason = tamper.pending_work(caller)             # CUDA, right after forward returned: work left on other streams

`check` compares with the state seen at construction: the WATCHED functions of torch and the clocks, every callable
of the WHOLE namespaces and of the reference's Model classes, every global of the harness's modules and every
attribute of the classes they define, every global of torch.nn.modules.module (its hook tables), the modules,
classes and functions among the problem modules' globals (all by identity, and each Python function's code and
defaults too, which can be swapped under the same function object); torch's process-wide module hook tables, the
torch function and dispatch modes left active, the thread's dispatch keys, profiler, frame hook and trace functions
(also between calls, `note_between_calls`), the threads running; and, from `watch_model` on, each reference model
instance: no method shadowed on an instance, no hook added, the same parameters and buffers. Each reason is a
sentence the worker sends as a `rejected` verdict.
"""
from __future__ import annotations

import sys
import threading
import types

# Replacing any of these (compared by identity) is tampering with the harness; the callables of WHOLE (below:
# torch's namespace, torch.Tensor, torch.nn.Module, ...) are watched besides.
WATCHED = (
    "torch.cuda.synchronize", "torch.cuda.Event", "torch.cuda.Event.record", "torch.cuda.Event.elapsed_time",
    "torch.cuda.Event.synchronize", "torch.cuda.current_stream", "torch.cuda.Stream", "torch.cuda.Stream.query",
    "torch.cuda.empty_cache", "torch.testing.assert_close",
    "time.perf_counter", "time.perf_counter_ns", "time.time", "time.monotonic", "threading.active_count",
    "builtins.isinstance", "builtins.type", "json.dumps",
)
# Modules of the harness whose globals a candidate may not replace either.
HARNESS = ("agentopt.sandbox.worker", "agentopt.sandbox.timing", "agentopt.sandbox.wire",
           "agentopt.sandbox.reference", "agentopt.sandbox.compiler_info", "agentopt.sandbox.tamper",
           "agentopt.sandbox.cpus")
# Namespaces watched whole: every callable in them (by identity), since the baseline, timed in the same process,
# runs through them (a slowed F.silu would buy a speedup). Other values (flags, caches) change legitimately.
WHOLE = ("torch", "torch.nn.functional", "torch._C._nn", "torch._C._VariableFunctionsClass",
         "torch.Tensor", "torch._C.TensorBase", "torch.nn.Module", "torch.nn.Linear", "torch.nn.Embedding",
         "torch.nn.LayerNorm", "torch.nn.RMSNorm", "torch.nn.Conv2d", "torch.nn.modules.conv._ConvNd",
         "torch.nn.modules.activation")
# Modules of torch whose every global is watched by identity besides (the hook tables below live there: one swapped
# for a look-alike that counts 0 but still runs its hooks reaches the baseline).
TORCH_GLOBALS = ("torch.nn.modules.module",)
# torch.nn.modules.module's process-wide hook tables: any entry reaches the baseline too.
GLOBAL_HOOKS = ("_global_forward_pre_hooks", "_global_forward_hooks", "_global_backward_pre_hooks",
                "_global_backward_hooks", "_global_module_registration_hooks",
                "_global_parameter_registration_hooks", "_global_buffer_registration_hooks")


def _lookup(name: str):
    parts = name.split(".")
    obj = sys.modules.get(parts[0]) or __import__(parts[0])
    for part in parts[1:]:
        if isinstance(obj, type):  # static lookup: a classmethod would give a new bound object each time
            obj = next((k.__dict__[part] for k in obj.__mro__ if part in k.__dict__), None)
        else:
            obj = getattr(obj, part, None)
    return obj


def _name(space) -> str:
    return space.__name__ if isinstance(space, types.ModuleType) else f"{space.__module__}.{space.__qualname__}"


def _members(space) -> dict:
    """A module's attributes; for a class, every attribute as its instances resolve it (nearest in the MRO, object's
    left out), so that one set on a subclass to shadow an inherited one counts as a replacement."""
    if not isinstance(space, type):
        return dict(vars(space))
    found: dict = {}
    for klass in space.__mro__[:-1]:
        for attr, value in vars(klass).items():
            found.setdefault(attr, value)
    return found


def _add(snap: dict, name: str, value) -> None:
    """`value` under `name`, and for a Python function (plain, static or class method) its code and defaults."""
    snap.setdefault(name, value)
    func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    if isinstance(func, types.FunctionType):
        snap.setdefault(f"{name}.__code__", func.__code__)
        snap.setdefault(f"{name}.__defaults__", func.__defaults__)
        snap.setdefault(f"{name}.__kwdefaults__", func.__kwdefaults__)


def snapshot(classes: tuple = (), modules: tuple = (), every_global: bool = False) -> dict:
    """What a candidate may not replace, by name: WATCHED, the callables of WHOLE and of `classes` (the
    reference's own Model classes), the harness's globals and its classes' attributes, and the modules, classes and
    functions among the globals of `modules` (the problem's, which the reference's code looks names up in; with
    `every_global`, all of them, so that one replaced by an object of another kind is seen)."""
    snap: dict = {}
    for name in WATCHED:
        _add(snap, name, _lookup(name))
    for space in [*(_lookup(n) for n in WHOLE), *classes]:
        if space is None:
            continue
        for attr, value in _members(space).items():
            if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                _add(snap, f"{_name(space)}.{attr}", value)
    for mod_name in (*TORCH_GLOBALS, *HARNESS):
        for attr, value in getattr(sys.modules.get(mod_name), "__dict__", {}).items():
            if attr.startswith("__"):
                continue
            _add(snap, f"{mod_name}.{attr}", value)
            if mod_name in HARNESS and isinstance(value, type) and value.__module__ == mod_name:  # _WallTimer.stop
                for member, v in vars(value).items():
                    _add(snap, f"{mod_name}.{attr}.{member}", v)
    for mod in modules:
        for attr, value in vars(mod).items():
            if not attr.startswith("__") and (every_global or isinstance(value, (types.ModuleType, type,
                                                                                    types.FunctionType))):
                _add(snap, f"{mod.__name__}.{attr}", value)
    return snap


_HOOKS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
          "_state_dict_hooks", "_load_state_dict_pre_hooks")


def _model_state(model) -> dict:
    """A reference model's instances as the baseline runs them: per submodule, its instance attributes that shadow
    a method of its class, its hook counts, and its parameters and buffers (by identity)."""
    state = {}
    for path, m in model.named_modules():
        klass = type(m)
        state[path] = {
            "shadowing": sorted(k for k in vars(m) if callable(getattr(klass, k, None))),
            "hooks": [len(getattr(m, h, None) or ()) for h in _HOOKS],
            "tensors": [id(t) for t in (*m._parameters.values(), *m._buffers.values())],
        }
    return state


class Tamper:
    """The normal state, seen at construction (before the candidate is imported), and the checks against it."""

    def __init__(self, torch, clock, pending_work_ms: float, classes: tuple = (), modules: tuple = ()):
        self.torch, self.clock, self.pending_work_ms = torch, clock, pending_work_ms
        self.classes, self.modules = tuple(classes), tuple(modules)
        self.threads = threading.active_count()
        self.watch = snapshot(self.classes, self.modules)
        self.hooks, self.modes = self.global_hooks(), self.active_modes()
        self.state = self.thread_state()
        self.state_left: dict | None = None  # what a candidate call left changed of it (note_between_calls)
        self.models: list[tuple[str, object, dict]] = []  # (name, reference model, its state when watched)
        self.pool = None  # torch's side streams, listed on first use

    def watch_model(self, name: str, model) -> None:
        """Watch a reference model instance from now on (built after the candidate's import, so watched apart)."""
        self.models.append((name, model, _model_state(model)))

    def check(self) -> str | None:
        """Why the candidate is rejected for what it changed since construction, or None."""
        now = snapshot(self.classes, self.modules, every_global=True)  # compared where watched
        changed = [n for n, v in now.items() if self.watch.get(n, v) is not v and not self._parent_replaced(n, now)
                   and not self.torchs_own(n, v)]
        if changed:
            return (f"the candidate replaced {', '.join(sorted(changed)[:6])} (tampering with the harness or torch "
                    "is not allowed)")
        for name, model, before in self.models:
            after = _model_state(model)
            if after != before:
                where = next((p or "the model itself" for p in after if after[p] != before.get(p)), "its modules")
                return (f"the candidate changed the reference model {name} ({where}: a method shadowed on the "
                        "instance, a hook added or a parameter replaced); the baseline runs it")
        hooks = self.global_hooks()
        grown = [n for n in GLOBAL_HOOKS if hooks[n] > self.hooks[n]]
        if grown:
            return (f"the candidate registered global module hooks ({', '.join(grown)}); they reach the baseline "
                    "timed beside it")
        self.note_between_calls()
        if self.state_left is not None:
            what = "; ".join(f"{k}: {v} (was {self.state[k]})" for k, v in self.state_left.items())
            return (f"the candidate left process-wide settings or instrumentation changed ({what}): they reach the "
                    "baseline timed beside it")
        modes = self.active_modes()
        if modes > self.modes:
            return (f"the candidate left {modes - self.modes} torch function/dispatch mode(s) active; they "
                    "intercept the harness's own tensor calls")
        if threading.active_count() > self.threads:
            return (f"the candidate left {threading.active_count() - self.threads} thread(s) running; do all work "
                    "in forward on the caller's thread and stream")
        return None

    def _parent_replaced(self, name: str, now: dict) -> bool:
        """A function's code or defaults, where the function itself was replaced: judged by its own entry."""
        parent, _, leaf = name.rpartition(".")
        return leaf in ("__code__", "__defaults__", "__kwdefaults__") and now.get(parent) is not self.watch.get(parent)

    def torchs_own(self, name: str, new) -> bool:
        """torch's own patches, made when torch.compile first runs: torch._disable_dynamo's wrapper around
        manual_seed, and dynamo's wrappers of nn.Module.__init__ and __setstate__ (mutation_guard's generation
        tagging). Each is one of torch's code objects closing over the original, so it behaves as the original."""
        old, code = self.watch.get(name), getattr(new, "__code__", None)
        if code is None or not callable(old) or not any(c.cell_contents is old for c in new.__closure__ or ()):
            return False
        return code in self._torch_wrappers(old)

    def _torch_wrappers(self, old) -> list:
        """The code objects of torch's own wrappers (only once torch.compile has imported torch._dynamo)."""
        found = []
        disable = self.watch.get("torch._disable_dynamo")
        if "torch._dynamo" in sys.modules and callable(disable):
            found.append(getattr(disable(old), "__code__", None))
        guard = sys.modules.get("torch._dynamo.mutation_guard")
        tagging = getattr(guard, "install_generation_tagging_init", None)
        consts = getattr(getattr(tagging, "__code__", None), "co_consts", ())
        found += [c for c in consts if isinstance(c, types.CodeType)]
        return found

    def thread_state(self) -> dict:
        """What instruments or steers every operator or function call of this process, the baseline's too: the
        dispatch key sets (the Python dispatcher and its kin), the autograd profiler, dynamo's frame hook, Python's
        profile and trace functions, torch's thread counts and backend flags."""
        torch, c = self.torch, self.torch._C
        frame_hook = getattr(getattr(getattr(c, "_dynamo", None), "eval_frame", None), "get_eval_frame_callback", None)
        b = torch.backends
        return {"dispatch keys": f"{c._dispatch_tls_local_include_set()} / {c._dispatch_tls_local_exclude_set()}",
                "profiler": bool(torch.autograd._profiler_enabled()),
                "frame hook": repr(frame_hook()) if frame_hook else None,
                "profile function": repr(sys.getprofile()), "trace function": repr(sys.gettrace()),
                # torch's global settings, which the baseline shares (set through a handed or stored module object)
                "threads": (torch.get_num_threads(), torch.get_num_interop_threads()),
                "cudnn": (b.cudnn.enabled, b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32),
                "matmul": (b.cuda.matmul.allow_tf32, b.cuda.matmul.allow_bf16_reduced_precision_reduction,
                           b.cuda.matmul.allow_fp16_reduced_precision_reduction, torch.get_float32_matmul_precision()),
                "mkldnn": b.mkldnn.enabled, "deterministic": torch.are_deterministic_algorithms_enabled(),
                "default dtype": str(torch.get_default_dtype())}

    def note_between_calls(self) -> None:
        """Between two calls (before the candidate's next one): what a candidate call left changed is kept for
        `check`, even where its next call would restore it before the step ends."""
        if self.state_left is None:
            now = self.thread_state()
            changed = {k: v for k, v in now.items() if v != self.state[k]}
            self.state_left = changed or None

    def global_hooks(self) -> dict[str, int]:
        table = self.torch.nn.modules.module
        return {n: len(getattr(table, n, None) or ()) for n in GLOBAL_HOOKS}

    def active_modes(self) -> int:
        c = self.torch._C
        return sum(getattr(c, f, lambda: 0)() for f in ("_len_torch_function_stack", "_len_torch_dispatch_stack"))

    def side_streams(self) -> list:
        """Every stream of torch's stream pool (torch.cuda.Stream() hands them out round-robin, 32 per priority):
        a candidate's side stream made through torch is one of them."""
        if self.pool is None:
            torch = self.torch
            least, greatest = torch.cuda.Stream.priority_range()
            found = {}
            for priority in range(least, greatest - 1, -1):
                for _ in range(64):  # twice round the pool: every stream whatever the round-robin's position
                    s = torch.cuda.Stream(priority=priority)
                    found.setdefault(s.cuda_stream, s)
            self.pool = list(found.values())
        return self.pool

    def pending_work(self, caller) -> str | None:
        """Called right after forward returned, before anything synchronises: wait for the caller's stream only,
        then see whether the device still has work. Work still running then was left on another stream: the
        caller's CUDA events never saw it (it escapes the timing, or slows the baseline timed next). Returns why
        the candidate is rejected, or None."""
        torch = self.torch
        if torch.cuda.current_stream() != caller:
            return ("forward returned with another current CUDA stream than the caller's; restore it (use `with "
                    "torch.cuda.stream(...)`) and join your streams")
        done = torch.cuda.Event()
        done.record(caller)
        done.synchronize()
        busy = sum(not s.query() for s in self.side_streams())
        t0 = self.clock()
        torch.cuda.synchronize()
        waited = (self.clock() - t0) * 1e3
        if busy or waited > self.pending_work_ms:
            what = f"{busy} stream(s) of torch's pool still busy" if busy else f"the device busy {waited:.2f} ms more"
            return (f"work left running on another stream after forward returned ({what} once the caller's stream "
                    "finished); make the caller's stream wait for it (`torch.cuda.current_stream().wait_stream(side)`) "
                    "before returning")
        return None
