"""Hardware profiles: what a GPU is (from the device) and can do (two measured ceilings), cached per GPU.

Built-in profiles of common GPUs carry datasheet figures, so that planning works on a machine without a GPU.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import BaseModel, Field


class HardwareProfile(BaseModel):
    name: str
    arch: str = Field(description="e.g. sm_90")
    compute_capability: tuple[int, int]
    sm_count: int
    l2_bytes: int
    smem_per_block_bytes: int = Field(description="the opt-in maximum of shared memory per block")
    regs_per_block: int
    regs_per_sm: int = 65536
    memory_bytes: int = 0
    # ceilings: measured on this GPU, or datasheet figures for a built-in profile
    bandwidth_gbps: float = Field(description="GB/s, device copy counting bytes read plus written")
    matmul_tflops: dict[str, float] = Field(description="dense matrix rate per dtype: bfloat16, float16, float32")
    source: str = Field(default="datasheet", description="'measured' or 'datasheet'")
    measured_with: dict[str, str] = Field(default_factory=dict, description="torch version, driver, method")

    def matmul_rate(self, dtype: str) -> float:
        """TFLOP/s for a dtype name ('bfloat16', 'float16', 'float32')."""
        return self.matmul_tflops.get(dtype, self.matmul_tflops["float32"])


_GB = 10**9
_MiB = 2**20
BUILTIN: dict[str, HardwareProfile] = {
    "h100": HardwareProfile(name="NVIDIA H100 SXM5 80GB", arch="sm_90", compute_capability=(9, 0), sm_count=132,
                            l2_bytes=50 * _MiB, smem_per_block_bytes=232448, regs_per_block=65536,
                            memory_bytes=80 * _GB, bandwidth_gbps=3350.0,
                            matmul_tflops={"bfloat16": 989.0, "float16": 989.0, "float32": 67.0}),
    "h200": HardwareProfile(name="NVIDIA H200 SXM 141GB", arch="sm_90", compute_capability=(9, 0), sm_count=132,
                            l2_bytes=50 * _MiB, smem_per_block_bytes=232448, regs_per_block=65536,
                            memory_bytes=141 * _GB, bandwidth_gbps=4800.0,
                            matmul_tflops={"bfloat16": 989.0, "float16": 989.0, "float32": 67.0}),
    "a100": HardwareProfile(name="NVIDIA A100 SXM4 80GB", arch="sm_80", compute_capability=(8, 0), sm_count=108,
                            l2_bytes=40 * _MiB, smem_per_block_bytes=166912, regs_per_block=65536,
                            memory_bytes=80 * _GB, bandwidth_gbps=2039.0,
                            matmul_tflops={"bfloat16": 312.0, "float16": 312.0, "float32": 19.5}),
    "l4": HardwareProfile(name="NVIDIA L4", arch="sm_89", compute_capability=(8, 9), sm_count=58,
                          l2_bytes=48 * _MiB, smem_per_block_bytes=101376, regs_per_block=65536,
                          memory_bytes=24 * _GB, bandwidth_gbps=300.0,
                          matmul_tflops={"bfloat16": 121.0, "float16": 121.0, "float32": 30.3}),
    "rtx4090": HardwareProfile(name="NVIDIA GeForce RTX 4090", arch="sm_89", compute_capability=(8, 9),
                               sm_count=128, l2_bytes=72 * _MiB, smem_per_block_bytes=101376, regs_per_block=65536,
                               memory_bytes=24 * _GB, bandwidth_gbps=1008.0,
                               matmul_tflops={"bfloat16": 165.2, "float16": 165.2, "float32": 82.6}),
}


class NoGPU(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("AGENTOPT_CACHE", Path.home() / ".cache" / "agentopt")) / "hardware"


def gpu_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _cache_path(device_name: str, torch_version: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{device_name}-{torch_version}").strip("-").lower()
    return cache_dir() / f"{slug}.json"


def local_profile(refresh: bool = False, progress=None) -> HardwareProfile:
    """This machine's GPU: properties from the device, ceilings measured once and cached. Raises NoGPU."""
    if not gpu_available():
        raise NoGPU("no CUDA GPU is visible here (torch.cuda.is_available() is False)")
    import torch

    props = torch.cuda.get_device_properties(0)
    path = _cache_path(props.name, torch.__version__)
    if path.exists() and not refresh:
        return HardwareProfile.model_validate_json(path.read_text())
    from agentopt.measure import measure_ceilings

    ceilings = measure_ceilings(progress=progress)
    smem = getattr(props, "shared_memory_per_block_optin", 0) or getattr(props, "shared_memory_per_block", 49152)
    profile = HardwareProfile(
        name=props.name, arch=f"sm_{props.major}{props.minor}", compute_capability=(props.major, props.minor),
        sm_count=props.multi_processor_count, l2_bytes=getattr(props, "L2_cache_size", 0), smem_per_block_bytes=smem,
        regs_per_block=getattr(props, "regs_per_block", 65536),
        regs_per_sm=getattr(props, "regs_per_multiprocessor", 65536),
        memory_bytes=props.total_memory, bandwidth_gbps=ceilings["bandwidth_gbps"],
        matmul_tflops=ceilings["matmul_tflops"], source="measured",
        measured_with={"torch": torch.__version__, "cuda": str(torch.version.cuda), "method": ceilings["method"]},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile.model_dump_json(indent=2))
    return profile


def resolve_profile(spec: str | None) -> HardwareProfile:
    """`--gpu` values: None or 'local' (this GPU, measured), a built-in name, or a path to a profile JSON."""
    if spec in (None, "local"):
        return local_profile()
    if spec.lower() in BUILTIN:
        return BUILTIN[spec.lower()]
    path = Path(spec)
    if path.is_file():
        return HardwareProfile.model_validate(json.loads(path.read_text()))
    raise ValueError(f"unknown GPU profile {spec!r}: use one of {', '.join(BUILTIN)}, 'local', or a profile JSON file")
