"""The static guard's policy: what a candidate may import, and the names, calls and attributes it may not use,
each with the reason its finding gives. sandbox/guard.py walks a candidate's syntax tree against these tables.
"""
from __future__ import annotations

# Modules a candidate may import: the kernel languages and a few pure helpers. A name is allowed when it is
# one of these or lies under one of ALLOWED_PACKAGES.
ALLOWED_MODULES = frozenset({
    "__future__", "torch", "torch.nn", "torch.nn.functional", "torch.cuda", "triton", "triton.language",
    "triton.runtime", "triton.tools.tensor_descriptor", "cupy", "math", "functools", "itertools", "operator",
    "typing", "dataclasses",
})
ALLOWED_PACKAGES = ("torch.nn.", "triton.language.", "cupy.")

THREADS = "candidates may not start threads or processes"
FILES = "candidates may not touch files, the environment or other processes"
NETWORK = "candidates may not use the network"
INTERNALS = "candidates may not read the caller's frames or the interpreter's internals"
CLOCKS = "candidates may not read or replace clocks: the evaluator does the timing"

# Modules with a reason of their own; any other module off the allow-list gets a generic finding.
FORBIDDEN_MODULES: dict[str, str] = {
    **dict.fromkeys(("threading", "_thread", "multiprocessing", "concurrent", "subprocess", "asyncio", "sched"),
                    THREADS),
    "signal": "candidates may not send or handle signals",
    **dict.fromkeys(("os", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "mmap", "pickle",
                     "shelve", "sqlite3"), FILES),
    **dict.fromkeys(("socket", "ssl", "urllib", "http", "requests", "ftplib", "smtplib", "xmlrpc"), NETWORK),
    **dict.fromkeys(("sys", "inspect", "gc", "ctypes", "builtins", "importlib", "faulthandler", "traceback",
                     "types", "code", "codeop", "runpy", "atexit", "weakref"), INTERNALS),
    **dict.fromkeys(("time", "timeit", "datetime"), CLOCKS),
    "pkgutil": INTERNALS,
    "fx": "candidates may not generate and run code at run time (torch.fx writes Python from a graph)",
    **dict.fromkeys(("script", "CompilationUnit"),  # torch.jit's (`triton.jit` is the kernel decorator)
                    "candidates may not use TorchScript: it evaluates type comments and strings as code"),
    **dict.fromkeys(("fork", "futures"), THREADS),
    "profiler": "candidates may not profile: a profiler instruments every operator in the process, the baseline's too",
    "agentopt": "candidates may not reach into the harness",
    "cpp_extension": "it compiles through files and subprocesses; write CUDA C with cupy.RawKernel/RawModule",
}

# Parts of torch that intercept every operator or module call in the process, the harness's own included
# (modes entered at import, global module hooks, operator libraries): a candidate could answer lazily or slow
# the baseline through them.
INTERCEPT = "candidates may not intercept torch's operators or modules process-wide"
INTERCEPT_PARTS = frozenset({"overrides", "_python_dispatch", "library", "_library", "_C", "TorchFunctionMode",
                             "TorchDispatchMode", "__torch_function__", "__torch_dispatch__", "_dispatch", "_ops",
                             "py_impl", "py_kernels", "DispatchKey", "_subclasses", "_higher_order_ops"})
INTERCEPT_PREFIXES = ("register_module_", "_global_")

# Attributes that lead to frames, globals or the interpreter, wherever they appear (also inside strings).
INTERNAL_ATTRS = frozenset({
    "_getframe", "f_back", "f_globals", "f_locals", "f_builtins", "gi_frame", "cr_frame", "tb_frame",
    "__globals__", "__builtins__", "__subclasses__", "__code__", "__closure__", "__import__", "__loader__",
    "__spec__", "__dict__", "__class__", "__bases__", "__mro__", "__reduce__", "__reduce_ex__", "__getattribute__",
    "__setattr__", "__delattr__", "__init_subclass__", "__getattr__",
    # exceptions, generators and functions lead there too
    "__traceback__", "tb_next", "f_code", "f_trace", "ag_frame", "gi_code", "cr_code", "ag_code", "__func__",
    "__self__", "__wrapped__", "__defaults__", "__kwdefaults__",
    # helpers that evaluate strings as code (typing's annotation evaluation)
    "__annotations__", "get_type_hints", "ForwardRef", "_eval_type", "evaluate_forward_ref", "singledispatch",
    "singledispatchmethod",
    # getattr under another name; modules by a name given as a string
    "attrgetter", "methodcaller", "resolve_name", "import_module", "_import_dotted_name", "fetch_attr",
    "update_wrapper", "wraps",  # copy attributes named in a list from one object to another
    "make_dataclass",  # builds and runs source from names given at run time
    # torch.fx's code generation, reached through a graph module torch.compile hands a custom backend
    "recompile", "call_method", "create_node", "python_code", "GraphModule", "Interpreter",
})
# Special methods a candidate's class may not define: each hands it attribute names or other objects (owners,
# instances of other classes) chosen at run time, or runs at a moment the harness picks (a finaliser).
FORBIDDEN_DEFS = frozenset({"__getattr__", "__getattribute__", "__setattr__", "__delattr__", "__get__", "__set__",
                            "__delete__", "__set_name__", "__init_subclass__", "__class_getitem__", "__del__",
                            "__instancecheck__", "__subclasscheck__"})
# `.jit` is Triton's kernel decorator; torch.jit (TorchScript) evaluates type lines and strings as code.
JIT_OK = frozenset({"triton.jit"})
# Dunders a candidate may name on other objects than its own module (`super().__init__()`).
PUBLIC_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__doc__", "__version__"})
PRIVATE = ("candidates may use only the public API of torch, triton and CuPy (private names lead to their "
            "internals: frame hooks, profilers, importers)")
# The same names looked for inside string constants (getattr tricks); __class__/__dict__ are too common there.
INTERNAL_STRINGS = INTERNAL_ATTRS - {"__dict__", "__class__"}

# Builtins a candidate may not call or even name.
FORBIDDEN_BUILTINS: dict[str, str] = {
    "open": "candidates may not read or write files",
    "exec": "candidates may not run code built at run time",
    "eval": "candidates may not run code built at run time",
    "compile": "candidates may not run code built at run time",
    "__import__": "candidates may only import modules with import statements",
    "globals": "candidates may not read or change module namespaces",
    "vars": "candidates may not read or change module namespaces",
    "breakpoint": "candidates may not start a debugger",
}

# Functions of allowed modules that reach files or change settings the baseline, timed in the same process, shares.
FORBIDDEN_CALLS: dict[str, str] = {
    **dict.fromkeys(("torch.load", "torch.save", "torch.from_file", "torch.hub", "torch.ops.load_library",
                     "cupy.load", "cupy.save", "cupy.fromfile"), "candidates may not read or write files"),
    **dict.fromkeys(("torch.set_num_threads", "torch.set_num_interop_threads", "torch.set_default_dtype",
                     "torch.set_default_device", "torch.set_float32_matmul_precision", "torch.set_flush_denormal",
                     "torch.use_deterministic_algorithms", "torch.cuda.set_sync_debug_mode"),
                    "candidates may not change torch's global settings, which the baseline shares"),
}

# The names of FORBIDDEN_CALLS distinct enough to refuse on any object (`t.set_num_threads` with `t` a parameter bound
# to torch); load/save/hub are too common.
FORBIDDEN_CALL_NAMES = frozenset(c.rsplit(".", 1)[1] for c in FORBIDDEN_CALLS) - {"load", "save", "hub"}
# Builtins that reach an attribute by a name given as a value: only ever called directly, with a literal name.
NAME_GETTERS = frozenset({"getattr", "setattr", "delattr"})

STREAM_MAKERS = frozenset({"Stream", "stream", "ExternalStream", "set_stream"})
STREAM_SYNCS = frozenset({"wait_stream", "synchronize", "wait_event"})
# `ExternalStream(torch.cuda.current_stream().cuda_stream)` wraps the caller's own stream (how CuPy kernels launch
# in order with torch's work): no new stream, nothing to join.
CURRENT_STREAM = "torch.cuda.current_stream"
TYPE_COMMENT = "candidates may not write `# type:` comments: TorchScript and other tools evaluate them as code"
STRING_ANNOTATION = ("candidates may not write annotations as strings: typing evaluates them as code "
                     "(functools.singledispatch does, for one)")
