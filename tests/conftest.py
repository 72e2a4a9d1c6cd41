"""Test set-up: GPU tests are skipped, with the reason, where no CUDA GPU is present."""
import os

import pytest

os.environ.setdefault("AGENTOPT_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "agentopt"))


def _gpu_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU here (torch.cuda.is_available() is False); run benchmarks/gpu_check.sh on a GPU machine"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _gpu_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
