"""Diagnosis: why is the TMA gate-up GEMM faster than cuBLAS + SwiGLU alone, and slower inside a whole candidate?

large_probe.py's second run (H200): kernels alone, the TMA gate-up with SwiGLU took 1466 us at M=4096 against 1530
for cuBLAS + the SwiGLU pass; whole candidates of the template with it took 2445 us against 2222 for the cuBLAS
large path (and 616 against 552 at M=1024). The probe's kernel and the template's `_gemm_tma` are written alike;
the data differ (the probe: weights randn x 0.02; the candidate: nn.Linear's init), and the candidate makes its
activations' descriptors at every call.

This times, side by side at one M: the probe's kernel and the template's, each on the probe's data and on the
candidate's, with descriptors made once or at every call, and the candidate's whole forward. Prediction, written
before the run: the template's kernel on the candidate's data with descriptors made once takes what the probe's
took (~1470 us): the difference lies in the per-call descriptors. Refuted in the first run: the template's kernel
took 1771-1787 us whatever the data and the descriptors, the probe's 1468-1471. The second run adds the template's
kernel changed one way at a time toward the probe's: neither the K loop's form nor the output's dtype mattered
(1757-1845 us). The third run added whole kernels: the probe's without its loop over tiles (NO_LOOP here) took
1758 us, and the template's inside such a loop 1541. The template's `_gemm_tma` has taken its tile in a loop of one
turn since; the committed results are the third run's, where "template kernel" is the first version (no loop), and
this script as it stands times the template's kernel of today under that name, beside NO_LOOP.

Writes benchmarks/results/<gpu>-tma-diag.json; prints the table last.

    python3 benchmarks/experiments/tma_diag.py [--rounds 3] [--ms 4096]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_probe import H, I, Weights  # noqa: E402
from template_ab import probe_args  # noqa: E402
from large_probe import TMA, descriptors  # noqa: E402
from common import kernel_rates, print_rates, write_result  # noqa: E402
from ffn import build, candidate_module  # noqa: E402

from agentopt.problems import get_problem, load_source  # noqa: E402
from kernels.templates import gated_mlp  # noqa: E402

# the probe's kernel without its loop over tiles (added for the third run)
NO_LOOP = '''
import triton
import triton.language as tl


@triton.jit
def _gemm_tma(x_d, wg_d, wu_d, h_d, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
              BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, GATED: tl.constexpr):
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    steps = tl.cdiv(K, BLOCK_K)
    t = tl.program_id(0)
    in_group = GROUP_M * num_n
    first_m = (t // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    om = (first_m + (t % in_group) % size_m) * BLOCK_M
    on = ((t % in_group) // size_m) * BLOCK_N
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for s in range(steps):
        a = x_d.load([om, s * BLOCK_K])
        acc_g = tl.dot(a, wg_d.load([on, s * BLOCK_K]).T, acc_g)
        acc_u = tl.dot(a, wu_d.load([on, s * BLOCK_K]).T, acc_u)
    h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
    h_d.store([om, on], h.to(tl.bfloat16))
'''
BM, BN, BK = 128, 128, 64
META = dict(BLOCK_M=BM, BLOCK_N=BN, BLOCK_K=BK, GROUP_M=8, num_warps=8, num_stages=3)


def rows_at(M: int, rounds: int, probe_mod, tmp: Path) -> list[dict]:
    problem = get_problem("llama3-8b-ffn")
    model, inputs = build(problem, {"M": M}, torch.bfloat16)
    model._init_inputs = problem.module({"M": M}).get_init_inputs()
    path = tmp / f"seed-M{M}.py"
    path.write_text(gated_mlp.render({**gated_mlp.SEED, "large_gateup": "tma"}, problem))
    cand = candidate_module(str(path), model)
    kernel = type(cand)._large.__globals__["_gemm_tma"]  # the candidate module's own kernel
    w = Weights()
    others = {"probe kernel without its loop over tiles": load_source(NO_LOOP, "tma_no_loop")._gemm_tma}
    data = {"probe data": (torch.randn(M, H, device="cuda", dtype=torch.bfloat16), w.wg, w.wu),
            "candidate data": (inputs[0].reshape(M, H), cand._wg, cand._wu)}
    fns, wants = {}, {}
    for dname, (x, wg, wu) in data.items():
        want = (torch.nn.functional.silu(x.float() @ wg.float().T) * (x.float() @ wu.float().T)).double()
        h = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
        once = descriptors(x, wg, wu, h, BM, BN, BK)
        tiles = triton.cdiv(M, BM) * triton.cdiv(I, BN)

        def probe_kernel(once=once, h=h):
            probe_mod.gateup_tma[(tiles,)](*once, M, I, H, tiles, FLAT=False, **META)
            return h

        def template_kernel(once=once, h=h):
            kernel[(tiles,)](*once, M, I, H, GATED=True, **META)
            return h

        def template_fresh(x=x, wg=wg, wu=wu):
            out = torch.empty((M, I), device="cuda", dtype=torch.bfloat16)
            kernel[(tiles,)](*descriptors(x, wg, wu, out, BM, BN, BK), M, I, H, GATED=True, **META)
            return out
        variants = []
        for vname, vkernel in others.items():
            def run(once=once, h=h, vkernel=vkernel):
                vkernel[(tiles,)](*once, M, I, H, GATED=True, **META)
                return h
            variants.append((vname, run))
        for name, fn in (("probe kernel", probe_kernel), ("template kernel", template_kernel),
                         ("template kernel, descriptors each call", template_fresh), *variants):
            fns[f"{name}, {dname}"], wants[f"{name}, {dname}"] = fn, want
        gu_w = torch.cat([wg, wu])
        fns[f"cublas gate-up mm, {dname}"] = lambda x=x, gu_w=gu_w: torch.mm(x, gu_w.t())
        wants[f"cublas gate-up mm, {dname}"] = (x.float() @ gu_w.float().T).double()
    with torch.no_grad():
        want_y = model(*inputs).double()
    fns["candidate forward (whole FFN)"], wants["candidate forward (whole FFN)"] = (lambda: cand(*inputs)), want_y
    fns["eager (whole FFN)"], wants["eager (whole FFN)"] = (lambda: model(*inputs)), want_y
    flops = 2 * 2 * M * H * I
    return kernel_rates(M, fns, wants, {n: flops for n in fns}, rounds)


def main():
    args = probe_args(__doc__, ms="4096", kernels=False)
    probe_mod = load_source(TMA, "gateup_tma")
    tmp = Path(tempfile.mkdtemp())
    rows = []
    with torch.no_grad():
        for M in args.ms:
            rows += rows_at(M, args.rounds, probe_mod, tmp)
    path = write_result("tma-diag", {"gpu": torch.cuda.get_device_name(0), "triton": triton.__version__,
                                     "kernels": rows})
    print(path)
    print_rates(rows, 56, unit="TFLOP/s")


if __name__ == "__main__":
    main()
