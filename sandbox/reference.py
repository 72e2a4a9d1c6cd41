"""How a problem instance is built (the same in every process), and the reference process.

The reference process is started once per Evaluator. It builds the reference model with seeded weights on the
CPU, rounds them to the problem's dtype (what the candidate gets), and computes outputs in float32 (model and
floating inputs upcast) for the (shape, seed, heavy) the judge asks for. It also writes each weight group's state
dict to a file, so that workers load the weights instead of building them again.
"""
from __future__ import annotations

import os
import signal
from contextlib import nullcontext
from typing import Any

from . import cpus, procs, wire


def dtype_of(name: str):
    import torch

    return getattr(torch, name)


def group_key(module) -> str:
    """Shapes whose get_init_inputs() agree share one model (one set of weights)."""
    return repr(module.get_init_inputs())


def build_model(module, weight_seed: int):
    """The canonical reference: seeded construction on the CPU, float32."""
    import torch

    torch.manual_seed(weight_seed)
    return module.Model(*module.get_init_inputs())


def build_inputs(module, seed: int, heavy: bool, dtype, device: str) -> list[Any]:
    """get_inputs() under a seed, drawn on the device (the same numbers in every process on that device, and no
    CPU time); heavy-tailed: floating inputs times exp(randn); cast to the problem's dtype."""
    import torch

    torch.manual_seed(seed)
    with torch.device(device):
        inputs = list(module.get_inputs())
    gen = torch.Generator(device=device).manual_seed((seed * 2654435761 + 1) % (2**63))
    out = []
    for x in inputs:
        if isinstance(x, torch.Tensor):
            x = x.to(device)
            if x.is_floating_point():
                if heavy:
                    x = x * torch.randn(x.shape, generator=gen, device=device).exp()
                x = x.to(dtype)
        out.append(x)
    return out


def upcast(inputs: list[Any]) -> list[Any]:
    import torch

    return [x.float() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]


class _Reference:
    def __init__(self, problem, device: str, dtype_name: str, weight_seed: int, weights_dir: str):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.problem, self.device, self.dtype = problem, device, dtype_of(dtype_name)
        self.shapes = problem.shapes_for(device)
        self.weight_seed, self.weights_dir = weight_seed, weights_dir
        self.modules = [problem.module(s) for s in self.shapes]
        self.models: dict[str, Any] = {}  # group key -> float32 model holding dtype-rounded weights
        self.paths: dict[str, str] = {}

    def model(self, i: int):
        import torch

        key = group_key(self.modules[i])
        if key not in self.models:
            model = build_model(self.modules[i], self.weight_seed).to(self.device, self.dtype).eval()
            path = os.path.join(self.weights_dir, f"weights-{len(self.paths)}.pt")
            torch.save({k: v.detach().to("cpu") for k, v in model.state_dict().items()}, path)
            self.paths[key] = path
            self.models[key] = model.float()
        return self.models[key]

    def prepare(self) -> dict:
        """Weights files per shape, and the dtype of the output the candidate must return per shape."""
        import torch

        paths, dtypes = [], []
        for i, mod in enumerate(self.modules):
            model = self.model(i)
            paths.append(self.paths[group_key(mod)])
            with torch.no_grad():
                out = model.to(self.dtype)(*build_inputs(mod, 0, False, self.dtype, self.device))
            model.float()
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"the reference returns {type(out).__name__}; agentopt judges one output tensor")
            dtypes.append(str(out.dtype).removeprefix("torch."))
        return {"weights": paths, "out_dtypes": dtypes}

    def output(self, i: int, seed: int, heavy: bool):
        import torch

        inputs = upcast(build_inputs(self.modules[i], seed, heavy, self.dtype, self.device))
        with torch.no_grad():
            out = self.model(i)(*inputs)
        return out.detach().float().to("cpu")


def main(conn, problem, device: str, dtype_name: str, weight_seed: int, weights_dir: str) -> None:
    """The reference process: answer {"cmd": "prepare"} and {"cmd": "ref", "shape", "seed", "heavy"} until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the judge's to handle: it ends this process
    cpus.background(device)
    ref = None
    gpu_shared = (lambda: procs.gpu_lock(shared=True)) if device == "cuda" else nullcontext
    while True:
        try:
            msg = wire.recv(conn)
        except (EOFError, OSError):
            return
        try:
            ref = ref or _Reference(problem, device, dtype_name, weight_seed, weights_dir)
            with gpu_shared():  # GPU work of ours, outside any check or timing; released before the (long) send
                if msg["cmd"] == "prepare":
                    reply = {"ok": True, **ref.prepare()}
                elif msg["cmd"] == "ref":
                    reply = {"ok": True, "tensors": [ref.output(msg["shape"], msg["seed"], msg["heavy"])]}
                else:
                    return
            wire.send(conn, reply)
        except Exception as exc:  # the problem's own code failed: report it, the judge raises
            wire.send(conn, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
