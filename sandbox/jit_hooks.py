"""Triton's JIT outside the GPU lock, for compile-ahead workers (EvalConfig.jit_outside_lock, on by default).

A compile-ahead worker holds the GPU lock shared around each shape's first call, whose Triton kernels compile
(seconds of CPU) before they launch, and meanwhile the judge, which needs the lock exclusive to check and time
another candidate, waits (0.5 s a candidate in an H200 run, and the workers 3.9 s each for the judge). With these
hooks a JIT cache miss inside such a call synchronises the device (nothing of this worker's is left running), steps
out of the lock for the compilation, and comes back through the turnstile before the kernel is loaded and launched.
In the judged phase the worker holds no lock of its own and the hooks do nothing.

Not covered: a candidate that catches a failed compilation and goes on launching other GPU work in the same call
does so outside the lock, until the call returns.
"""
from __future__ import annotations

from typing import Callable


def install(current_hold: Callable, synchronize: Callable) -> bool:
    """current_hold() gives the worker's procs.SharedHold, or None when it holds none. Returns whether this
    Triton has the hooks (triton.knobs.runtime.jit_cache_hook / jit_post_compile_hook)."""
    try:
        from triton import knobs

        runtime = knobs.runtime
    except (ImportError, AttributeError):
        return False
    if not (hasattr(runtime, "jit_cache_hook") and hasattr(runtime, "jit_post_compile_hook")):
        return False

    def before_compile(*args, **kwargs) -> bool:
        hold = current_hold()
        if hold is not None and not hold.paused:
            synchronize()
            hold.pause()
        return False  # never skip the compilation

    def after_compile(*args, **kwargs) -> None:
        hold = current_hold()
        if hold is not None:
            hold.resume()

    runtime.jit_cache_hook, runtime.jit_post_compile_hook = before_compile, after_compile
    return True
