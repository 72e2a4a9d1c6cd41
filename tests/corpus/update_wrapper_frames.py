"""Fools the timer with no forbidden name in the source: functools.update_wrapper copies attributes named at run
time (a getattr in disguise), handed to a class of its own whose __setattr__ keeps them, reaching the caller's
frames; the timer's lists are swapped for ones that scale the times they are given. Guard: `rejected`
(`.update_wrapper`, a `__setattr__` defined). No runtime defence (docs/ARCHITECTURE.md, known limits)."""
import functools
import torch
import torch.nn as nn

U = "_" * 2
_TB = U + "trace" + "back" + U
_A = "tb_" + "fra" + "me"
_B = "f_" + "ba" + "ck"
_C = "f_" + "lo" + "cals"


class Box:
    got = {}

    def __setattr__(self, name, value):
        self.got[name] = value


class Src:
    val = [0.0]

    @property
    def t0(self):
        return self.val[0]


def grab(obj, name):
    b = Box()
    b.got.clear()
    functools.update_wrapper(b, obj, assigned=(name,), updated=())
    return b.got.get(name)


def _frames():
    try:
        raise KeyError
    except KeyError as e:
        tb = grab(e, _TB)
    f = grab(tb, _A)
    out = []
    while f is not None:
        out.append(f)
        f = grab(f, _B)
    return out


def _find(name):
    for f in _frames():
        loc = grab(f, _C)
        if name in loc:
            return loc[name]
    return None


class Tripler(list):
    def append(self, v):
        list.append(self, v * 3.0)


class Shrinker(list):
    def append(self, v):
        list.append(self, v / 3.0)


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        timer = _find("timer")
        ms = grab(timer, "ms")
        if isinstance(ms, dict) and not isinstance(ms.get("b"), Tripler):
            ms.update(b=Tripler(ms["b"]), c=Shrinker(ms["c"]))
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)
