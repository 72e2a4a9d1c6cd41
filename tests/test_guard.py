"""The static guard: what it forbids, with a reason naming the line and the thing, and what it lets through."""
import pytest

from agentopt.sandbox.guard import check_source

# (what the candidate tries, source, a substring the finding must contain)
FORBIDDEN = [
    ("a thread", "import threading\n", "line 1: imports `threading`: candidates may not start threads"),
    ("a process pool", "from concurrent.futures import ThreadPoolExecutor\n", "`concurrent.futures`"),
    ("a subprocess", "import subprocess\n", "threads or processes"),
    ("torch's process module", "import torch.multiprocessing as mp\n", "threads or processes"),
    ("the same, from-imported", "from torch import multiprocessing\n", "`torch.multiprocessing`"),
    ("os", "import os\nos._exit(0)\n", "imports `os`: candidates may not touch files"),
    ("os through torch", "import torch\ntorch.os.system('ls')\n", "reaches `os` through `torch.os`"),
    ("sys through typing", "import typing\ntyping.sys.modules.clear()\n", "reaches `sys` through `typing.sys`"),
    ("signals", "import signal\n", "signals"),
    ("open()", "x = 1\nopen('/etc/passwd').read()\n", "line 2: uses `open`: candidates may not read or write files"),
    ("pathlib", "from pathlib import Path\n", "imports `pathlib`"),
    ("shutil", "import shutil\n", "files"),
    ("tempfile", "import tempfile\n", "files"),
    ("torch.load", "import torch\nw = torch.load('w.pt')\n", "uses `torch.load`"),
    ("a socket", "import socket\n", "network"),
    ("urllib", "import urllib.request\n", "network"),
    ("requests", "import requests\n", "network"),
    ("sys._getframe", "import sys\nf = sys._getframe(1)\n", "`._getframe`"),
    ("frames from a traceback", "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame\n",
     "`.tb_frame`"),
    ("inspect", "import inspect\n", "caller's frames"),
    ("gc", "import gc\ngc.get_objects()\n", "imports `gc`"),
    ("ctypes", "import ctypes\n", "interpreter's internals"),
    ("builtins", "import builtins\nbuiltins.print = None\n", "imports `builtins`"),
    ("__builtins__", "__builtins__['len'] = None\n", "`__builtins__`"),
    ("__import__", "m = __import__('o' + 's')\n", "uses `__import__`"),
    ("importlib", "import importlib\n", "imports `importlib`"),
    ("a function's globals", "def f():\n    pass\ng = f.__globals__\n", "`.__globals__`"),
    ("a getattr spelled in a string", "def f():\n    pass\ng = getattr(f, '__glo' 'bals__')\n",
     "names `__globals__` in a string"),
    ("globals()", "g = globals()\n", "uses `globals`"),
    ("vars() of a module", "import torch\nv = vars(torch)\n", "uses `vars`"),
    ("setattr on a module", "import torch\nsetattr(torch.cuda, 'synchronize', print)\n",
     "calls `setattr` on `torch.cuda`"),
    ("getattr with a computed name", "import torch\nf = getattr(torch, 'lo' + 'ad')\n", "computed at run time"),
    ("exec", "exec('x = 1')\n", "uses `exec`"),
    ("eval", "y = eval('1 + 1')\n", "uses `eval`"),
    ("compile", "c = compile('1', 'f', 'eval')\n", "uses `compile`"),
    ("patched synchronize", "import torch\ntorch.cuda.synchronize = lambda *a: None\n",
     "line 2: changes `torch.cuda.synchronize`: candidates may not patch torch"),
    ("patched synchronize through an alias", "import torch\ncuda = torch.cuda\ncuda.synchronize = print\n",
     "changes `torch.cuda.synchronize`"),
    ("patched synchronize, from-imported", "from torch import cuda as c\nc.synchronize = print\n",
     "changes `torch.cuda.synchronize`"),
    ("patched Event", "import torch\ntorch.cuda.Event = object\n", "changes `torch.cuda.Event`"),
    ("patched allclose", "import torch\ntorch.allclose = lambda *a, **k: True\n", "changes `torch.allclose`"),
    ("patched Tensor method", "import torch\ntorch.Tensor.__eq__ = lambda a, b: True\n", "changes `torch.Tensor.__eq__`"),
    ("patched triton", "import triton\ntriton.testing = None\n", "changes `triton.testing`"),
    ("a torch setting the baseline shares", "import torch\ntorch.backends.cudnn.enabled = False\n",
     "changes `torch.backends.cudnn.enabled`"),
    ("threads of the baseline", "import torch\ntorch.set_num_threads(1)\n", "torch's global settings"),
    ("a timer", "import time\nt0 = time.perf_counter()\n", "imports `time`: candidates may not read or replace clocks"),
    ("patched timer", "import time\ntime.perf_counter = lambda: 0.0\n", "changes `time.perf_counter`"),
    ("the harness", "import agentopt.sandbox.worker\n", "imports `agentopt.sandbox.worker`: candidates may not reach"),
    ("an unsynchronised side stream", "import torch\ns = torch.cuda.Stream()\nwith torch.cuda.stream(s):\n    pass\n",
     "line 2: uses a CUDA stream (`torch.cuda.Stream`) but never synchronises it"),
    ("a CuPy stream", "import cupy\ns = cupy.cuda.Stream(non_blocking=True)\n", "never synchronises it"),
    ("an unknown module", "import numpy as np\n", "imports `numpy`: it is not on the list of modules"),
    ("faulthandler", "import faulthandler\nfaulthandler._sigsegv()\n", "imports `faulthandler`"),
    ("a relative import", "from . import helper\n", "relative import"),
    ("torch's C++ extension builder", "from torch.utils.cpp_extension import load_inline\n", "cupy.RawKernel"),
    ("a torch function mode", "from torch.overrides import TorchFunctionMode\n", "intercept torch's operators"),
    ("a dispatch mode", "import torch.utils._python_dispatch as d\n", "intercept torch's operators"),
    ("an operator library", "import torch\nlib = torch.library.Library('aten', 'IMPL')\n", "`torch.library`"),
    ("a global module hook", "import torch.nn as nn\nnn.modules.module.register_module_forward_hook(print)\n",
     "reaches `register_module_forward_hook`"),
    ("torch's C internals", "import torch\ntorch._C._set_grad_enabled(False)\n", "reaches `_C` through `torch._C`"),
    ("an operator override", "class T:\n    def __torch_function__(self, f, t, a=(), k=None):\n        pass\n",
     "line 2: defines `__torch_function__`"),
    ("a tensor's class swapped", "import torch\nx = torch.ones(1)\nx.__class__ = object\n", "`.__class__`"),
    # the same things reached through objects the guard cannot trace to an import (found by red-teaming)
    ("sys through a parameter", "import torch\ndef f(t):\n    return t.sys.modules\nf(torch)\n",
     "line 3: uses `.sys`"),
    ("an operator library through a parameter", "def f(t):\n    return t.library.Library('aten', 'IMPL')\n",
     "uses `.library`: candidates may not intercept"),
    ("a traceback", "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__\n", "`.__traceback__`"),
    ("getattr on a local with a computed name", "def f(tb):\n    return getattr(tb, 'tb_' + 'frame')\n",
     "calls `getattr` with a name computed at run time"),
    ("setattr on another object", "def f(fn, g):\n    setattr(fn, '__co' + 'de__', g)\n",
     "calls `setattr` on another object than its own module"),
    ("an attribute set on a handed object", "def f(t):\n    t.backends.cudnn.enabled = False\n",
     "sets `t.backends.cudnn.enabled`: a candidate sets attributes only on its own module"),
    ("torch's private parts through a parameter", "def f(t):\n    t._dynamo.eval_frame.set_eval_frame(print)\n",
     "uses the private `._dynamo`"),
    ("private parts through self", "import torch\nclass M:\n    def f(self):\n        self.t = torch\n"
     "        return self.t._utils\n", "uses the private `._utils`"),
    ("a module by its name", "import torch\ndef f():\n    return torch._utils._import_dotted_name('gc')\n",
     "`._import_dotted_name`"),
    ("a private name imported", "from torch import _utils\n", "imports `torch._utils`"),
    ("the profiler", "import torch\np = torch.profiler.profile()\n", "candidates may not profile"),
    ("a helper whose parameter is named self", "def put(self, v):\n    self.t0 = v\n",
     "sets `self.t0`: a candidate sets attributes only on its own module"),
    ("a method taken off its class", "class H:\n    def put(self, v):\n        self.t0 = v\n\nH.put(object(), 1)\n",
     "takes the method `H.put` off its class"),
    ("self rebound", "class H:\n    def f(self, t):\n        self = t\n        self.x = 1\n", "rebinds `self`"),
    ("methods through type()", "def f(h, t):\n    type(h).put(t, 1)\n", "takes the method `type(h).put`"),
    ("torch.fx", "import torch\ng = torch.fx.Graph()\n", "torch.fx writes Python"),
    ("a forked TorchScript task", "import torch\nfut = torch.jit.fork(print, 1)\n", "start threads"),
    ("TorchScript", "def f(t, g):\n    return t.jit.script(g)\n", "`.script`: candidates may not use TorchScript"),
    ("a type comment", "def f(x):\n    # type: (int) -> int\n    return x\n", "line 2: has the comment `# type:"),
    ("attributes copied by name",
     "import functools\ndef f(a, b, n):\n    functools.update_wrapper(a, b, assigned=(n,))\n", "`.update_wrapper`"),
    ("a __setattr__ hook", "class Box:\n    def __setattr__(self, k, v):\n        pass\n", "defines `__setattr__`"),
    ("a descriptor", "class D:\n    def __get__(self, obj, owner):\n        return obj\n", "defines `__get__`"),
    ("a foreign object's contents", "def f(timer):\n    timer.ms['c'] = []\n", "sets `timer.ms['c']`"),
    ("torch.jit through a parameter", "def f(t, g):\n    return t.jit.annotations\n", "only `triton.jit`"),
    ("a string annotation", "def f(x: 'int') -> int:\n    return x\n", "line 1: has an annotation written as a string"),
    ("singledispatch", "import functools\n@functools.singledispatch\ndef f(x):\n    return x\n",
     "`.singledispatch`"),
    ("a custom compile backend", "import torch\ndef b(gm, ex):\n    return gm\nf = torch.compile(print, backend=b)\n",
     "passes a custom `backend=`"),
    ("fx code generation via a graph module", "def b(gm, ex):\n    gm.graph.call_method('x')\n    gm.recompile()\n",
     "`.call_method`"),
    ("a global setting by a literal getattr", "import torch\ngetattr(torch, 'set_num_threads')(1)\n",
     "reaches `set_num_threads` through `getattr`"),
    ("a global setting through a parameter", "def f(t):\n    t.set_num_threads(1)\n", "`.set_num_threads`"),
    ("attrgetter", "import operator\nget = operator.attrgetter('f_' + 'back')\n", "uses `.attrgetter`"),
    ("getattr under another name", "g = getattr\ndef f(tb):\n    return g(tb, 'tb_' + 'frame')\n",
     "line 1: passes `getattr` around"),
    ("getattr folded over names",
     "import functools\ndef f(e, names):\n    return functools.reduce(getattr, names, e)\n", "passes `getattr` around"),
    ("annotations evaluated as code", "import typing\ndef f(g):\n    return typing.get_type_hints(g)\n",
     "`.get_type_hints`"),
    ("the Python dispatcher", "import torch\ntorch._dispatch.python.enable_python_dispatcher()\n",
     "reaches `_dispatch` through `torch._dispatch`"),
    ("a Python kernel for an aten op", "def f(op, k):\n    op.py_impl(k)\n", "`.py_impl`"),
    ("a function's code", "def f(g):\n    return g.__code__\n", "`.__code__`"),
    ("Triton's tools beyond the tensor descriptor", "from triton.tools import disasm\n", "`triton.tools`"),
]


@pytest.mark.parametrize("what,source,expected", FORBIDDEN, ids=[row[0] for row in FORBIDDEN])
def test_guard_forbids_with_a_reason(what, source, expected):
    findings = check_source(source)
    assert any(expected in f for f in findings), f"{what}: {findings}"
    assert all(f.startswith("line ") for f in findings)


HONEST_TRITON = '''
"""A Triton RMSNorm. Docstrings may mention sys._getframe or __globals__ without harm."""
import math
from functools import lru_cache
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.language.extra import libdevice
from triton.tools.tensor_descriptor import TensorDescriptor  # Hopper's tensor-copy engine, from the host


@triton.jit
def _rms(x_ptr, w_ptr, y_ptr, n, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n + offs, mask=offs < n, other=0.0).to(tl.float32)
    r = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n + eps)
    w = tl.load(w_ptr + offs, mask=offs < n)
    tl.store(y_ptr + row * n + offs, x * r * w, mask=offs < n)


@lru_cache(maxsize=None)
def _block(n):
    return triton.next_power_of_2(n)


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def prepare(self):
        self.w = self.weight.detach().contiguous()

    def forward(self, input):
        x = input.contiguous()
        out = torch.empty_like(x)
        key = (x.data_ptr(), x.shape)  # reading a pointer is fine
        _rms[(x.shape[0],)](x, self.weight, out, x.shape[1], self.variance_epsilon, BLOCK=_block(x.shape[1]))
        self.weight.data = self.weight.data.contiguous()
        return out * math.sqrt(1.0) + 0 * F.silu(out)
'''

HONEST_CUPY = '''
import torch
import torch.nn as nn
import cupy as cp

_SRC = r"""
extern "C" __global__ void scale(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = 2.0f * x[i];
}
"""


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.kernel = cp.RawModule(code=_SRC).get_function("scale")

    def forward(self, x):
        y = torch.empty_like(x)
        n = x.numel()
        self.kernel(((n + 255) // 256,), (256,), (cp.uint64(x.data_ptr()), cp.uint64(y.data_ptr()), cp.int32(n)))
        return y
'''

HONEST_STREAM = '''
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def forward(self, x):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            y = x * 2
        torch.cuda.current_stream().wait_stream(side)
        return y
'''


HONEST_SETATTR = '''
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        for i in range(n):
            setattr(self, f"w{i}", nn.Parameter(torch.ones(4)))  # its own attributes, named at run time

    def forward(self, x):
        return x * getattr(self, "w0") * self._scale(x)

    def _scale(self, x):  # type: ignore[no-untyped-def]
        self._last = x.shape  # its own attributes, private ones too
        return nn.Module.__init__ is not None and 1.0
'''


@pytest.mark.parametrize("source", [HONEST_TRITON, HONEST_CUPY, HONEST_STREAM, HONEST_SETATTR],
                         ids=["triton", "cupy", "stream", "setattr-on-self"])
def test_guard_lets_honest_candidates_through(source):
    assert check_source(source) == []


def _gemv_cuda_candidate() -> str:
    """The template coder's CUDA C candidate for llama3-8b-ffn: CuPy kernels launched on torch's current stream."""
    from agentopt.kernels.templates import TEMPLATES
    from agentopt.problems import get_problem

    template = TEMPLATES["gemv_cuda"]
    return template.render(template.SEED, get_problem("llama3-8b-ffn"))


def test_guard_lets_cupy_launch_on_torchs_current_stream():
    source = _gemv_cuda_candidate()
    assert "cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)" in source
    assert check_source(source) == []


@pytest.mark.parametrize("stream", ["cupy.cuda.Stream()", "cupy.cuda.ExternalStream(side.cuda_stream)",
                                    "cupy.cuda.ExternalStream(torch.cuda.Stream().cuda_stream)"])
def test_guard_rejects_cuda_c_on_a_stream_never_joined(stream):
    source = _gemv_cuda_candidate().replace(
        "cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)", stream)
    assert stream in source
    assert any("never synchronises it" in f for f in check_source(source))


def test_guard_leaves_syntax_errors_to_the_evaluator():
    assert check_source("def forward(self, x:\n    return x\n") == []


def test_findings_come_in_line_order_once_each():
    source = "import torch\nimport os\nimport threading\ntorch.os.system('x')\ntorch.os.system('y')\n"
    findings = check_source(source)
    lines = [int(f.split(":")[0].split()[1]) for f in findings]
    assert lines == sorted(lines)
    assert len(findings) == len(set(findings))
    assert sum("torch.os" in f for f in findings) == 2  # two lines, one finding each
