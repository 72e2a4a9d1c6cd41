"""Harvesting a run into the kernel library: re-verify the winners, choose the kernel set, write the kernels, the
index and the heatmap. `harvest(run_dir, ...)` returns a `HarvestReport`; nothing here raises for a bad winner."""
from .admit import HarvestReport, harvest
from .index import KernelEntry, LibraryIndex, default_library, device_arch
from .kernel_set import select_kernels

__all__ = ["harvest", "HarvestReport", "LibraryIndex", "KernelEntry", "default_library", "device_arch",
           "select_kernels"]
