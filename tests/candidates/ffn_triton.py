"""Honest Triton candidate for llama3-8b-ffn: gate and up projections fused with SwiGLU in one kernel, then a
plain tiled matmul for the down projection. Tile sizes are picked by the number of tokens M."""
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def gate_up_swiglu_kernel(x_ptr, wg_ptr, wu_ptr, h_ptr, M, N, K,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        x = tl.load(x_ptr + offs_m[:, None] * K + offs_k[None, :],
                    mask=(offs_m[:, None] < M) & (offs_k[None, :] < K), other=0.0)
        w_mask = (offs_k[:, None] < K) & (offs_n[None, :] < N)
        wg = tl.load(wg_ptr + offs_n[None, :] * K + offs_k[:, None], mask=w_mask, other=0.0)
        wu = tl.load(wu_ptr + offs_n[None, :] * K + offs_k[:, None], mask=w_mask, other=0.0)
        acc_g += tl.dot(x, wg)
        acc_u += tl.dot(x, wu)
    h = acc_g / (1.0 + tl.exp(-acc_g)) * acc_u
    tl.store(h_ptr + offs_m[:, None] * N + offs_n[None, :], h.to(h_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@triton.jit
def matmul_nt_kernel(a_ptr, w_ptr, c_ptr, M, N, K,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        a = tl.load(a_ptr + offs_m[:, None] * K + offs_k[None, :],
                    mask=(offs_m[:, None] < M) & (offs_k[None, :] < K), other=0.0)
        w = tl.load(w_ptr + offs_n[None, :] * K + offs_k[:, None],
                    mask=(offs_k[:, None] < K) & (offs_n[None, :] < N), other=0.0)
        acc += tl.dot(a, w)
    tl.store(c_ptr + offs_m[:, None] * N + offs_n[None, :], acc.to(c_ptr.dtype.element_ty),
             mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def _tiles(m):
    """(BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages) for the fused kernel and for the down projection."""
    if m <= 64:  # few tokens: memory-bound, narrow tiles so that every SM streams weights
        return (16, 32, 128, 4, 4), (16, 16, 256, 4, 4)
    return (128, 64, 64, 8, 3), (128, 128, 64, 8, 3)


class ModelNew(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        x = x.contiguous()
        m, k = x.shape
        n_inter = self.gate_proj.weight.shape[0]
        (bm, bn, bk, w1, s1), (bm2, bn2, bk2, w2, s2) = _tiles(m)
        h = torch.empty((m, n_inter), device=x.device, dtype=x.dtype)
        gate_up_swiglu_kernel[(triton.cdiv(m, bm), triton.cdiv(n_inter, bn))](
            x, self.gate_proj.weight, self.up_proj.weight, h, m, n_inter, k,
            BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, num_warps=w1, num_stages=s1)
        out = torch.empty((m, k), device=x.device, dtype=x.dtype)
        matmul_nt_kernel[(triton.cdiv(m, bm2), triton.cdiv(k, bn2))](
            h, self.down_proj.weight, out, m, k, n_inter,
            BLOCK_M=bm2, BLOCK_N=bn2, BLOCK_K=bk2, num_warps=w2, num_stages=s2)
        return out
