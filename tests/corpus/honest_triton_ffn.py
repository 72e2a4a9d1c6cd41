"""Honest: Llama-3 FFN in Triton. One kernel computes gate and up for a tile and fuses SwiGLU
(silu(gate) * up) before storing; a second kernel is a plain tiled matmul for the down projection.
On CPU it runs through Triton's interpreter (float32); on the GPU (bf16) it must also get `ok`, and the GPU test
prints its speedup per shape."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _gate_up_swiglu(x_ptr, wg_ptr, wu_ptr, h_ptr, M, N, K, s_xm, s_xk, s_wn, s_wk, s_hm, s_hn,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    gate = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    up = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        x = tl.load(x_ptr + rm[:, None] * s_xm + kk[None, :] * s_xk,
                    mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        w_mask = (kk[:, None] < K) & (rn[None, :] < N)
        wg = tl.load(wg_ptr + kk[:, None] * s_wk + rn[None, :] * s_wn, mask=w_mask, other=0.0)
        wu = tl.load(wu_ptr + kk[:, None] * s_wk + rn[None, :] * s_wn, mask=w_mask, other=0.0)
        gate += tl.dot(x, wg)
        up += tl.dot(x, wu)
    h = gate * tl.sigmoid(gate) * up
    tl.store(h_ptr + rm[:, None] * s_hm + rn[None, :] * s_hn, h.to(h_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def _matmul_nt(a_ptr, b_ptr, c_ptr, M, N, K, s_am, s_ak, s_bn, s_bk, s_cm, s_cn,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        kk = k0 + rk
        a = tl.load(a_ptr + rm[:, None] * s_am + kk[None, :] * s_ak,
                    mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(b_ptr + kk[:, None] * s_bk + rn[None, :] * s_bn,
                    mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * s_cm + rn[None, :] * s_cn, acc.to(c_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


def _tiles(m):
    return (16 if m <= 16 else 64), 64, 64  # BLOCK_M, BLOCK_N, BLOCK_K


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        m, k = x2.shape
        wg, wu, wd = self.gate_proj.weight, self.up_proj.weight, self.down_proj.weight
        n = wg.shape[0]
        bm, bn, bk = _tiles(m)
        h = torch.empty((m, n), device=x.device, dtype=x.dtype)
        _gate_up_swiglu[(triton.cdiv(m, bm), triton.cdiv(n, bn))](
            x2, wg, wu, h, m, n, k, x2.stride(0), x2.stride(1), wg.stride(0), wg.stride(1), h.stride(0), h.stride(1),
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
        out = torch.empty((m, wd.shape[0]), device=x.device, dtype=x.dtype)
        _matmul_nt[(triton.cdiv(m, bm), triton.cdiv(wd.shape[0], bn))](
            h, wd, out, m, wd.shape[0], n, h.stride(0), h.stride(1), wd.stride(0), wd.stride(1),
            out.stride(0), out.stride(1), BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
        return out.reshape(*lead, wd.shape[0])
