"""The judge's side of its processes: start them from a forkserver, wait with a deadline, kill, say how one died.

The forkserver imports torch once (CUDA not initialised there), so a worker starts in a fraction of a second and
gets a fresh CUDA context of its own.

The GPU lock (one per device, across threads and processes of this user) is a reader/writer lock made of two
fcntl file locks. The judge checks and times a candidate holding it exclusive: no other process of ours launches
GPU work then (other contexts' kernels would share the GPU by time slices, perturbing the timings and tripping the
checks for work left running). Compile-ahead workers and the reference process hold it shared around each step
that launches GPU work (uploading weights, a shape's first calls), and never while only the CPU works (importing).
Writers come first: a writer takes the turnstile, then waits for the readers inside to leave; new readers queue at
the turnstile, so timing is not starved. A reader that never leaves (a hung first call) is killed by its judge
when its compile time limit passes (`exclusive` polls and calls back).
"""
from __future__ import annotations

import fcntl
import importlib.machinery
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
from contextlib import contextmanager

from . import wire

_context = None


def context():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["torch", "agentopt.sandbox.worker", "agentopt.sandbox.reference"])
    return _context


def start(target, *args):
    """A daemon process running target(conn, *args); returns (process, the judge's end of the pipe)."""
    ctx = context()
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs, *args), daemon=True)
    with _main_not_rerun():
        proc.start()
    theirs.close()
    return proc, ours


@contextmanager
def _main_not_rerun():
    """multiprocessing re-runs the caller's main script in every child unless __main__ looks like a package's
    __main__: a script without a main guard would recurse, and any script would slow each worker down."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main.__spec__ if hasattr(main, "__spec__") else None, "name", None):
        yield
        return
    saved = main.__dict__.get("__spec__")
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved


def receive(proc, conn, deadline: float) -> tuple[str, dict | None]:
    """("msg", message), ("timeout", None) when the deadline passed, or ("died", None)."""
    remaining = max(0.0, deadline - time.monotonic())
    ready = multiprocessing.connection.wait([conn, proc.sentinel], timeout=remaining)
    if not ready:
        return "timeout", None
    if conn in ready or conn.poll(0):
        try:
            return "msg", wire.recv(conn, deadline)
        except TimeoutError:
            return "timeout", None
        except (EOFError, OSError):
            pass
        except (ValueError, UnicodeDecodeError):
            return "malformed", None
    proc.join(5)
    return "died", None


def stop(proc, conn, grace_s: float) -> None:
    """Ask politely (EOF on the pipe), then SIGTERM, then SIGKILL after the grace period."""
    try:
        conn.close()
    except OSError:
        pass
    proc.join(0.2 if proc.is_alive() else 0)
    if proc.is_alive():
        proc.terminate()
        proc.join(grace_s)
    if proc.is_alive():
        proc.kill()
        proc.join(grace_s)


def kill(proc, conn, grace_s: float) -> None:
    """End a worker whose replies are all in at once (SIGKILL: it has nothing left to say); returns once it is
    reaped, so that nothing it queued on the GPU outlives it."""
    if proc.is_alive():
        proc.kill()
        proc.join(grace_s)
    try:
        conn.close()
    except OSError:
        pass


def read_log(path: str, limit: int = 200_000) -> str:
    """A worker's log (compiler output, tracebacks), its last `limit` characters."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return text if len(text) <= limit else "[... earlier output cut ...]\n" + text[-limit:]


def log_tail(path: str, lines: int = 3) -> str:
    """The last non-empty lines of a worker's log, on one line: what a crash said last."""
    tail = [ln.strip() for ln in read_log(path, 20_000).splitlines() if ln.strip()]
    return " | ".join(tail[-lines:])[:500]


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code} (sys.exit, os._exit or a fatal error)"


def scratch_dir(min_free_bytes: int = 8 * 2**30) -> str:
    """A private temporary folder for weights files and logs: in memory (/dev/shm) where it has room enough
    (containers often give it 64 MiB), else the usual temporary folder."""
    base = None
    try:
        st = os.statvfs("/dev/shm")
        if os.access("/dev/shm", os.W_OK) and st.f_bavail * st.f_frsize >= min_free_bytes:
            base = "/dev/shm"
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="agentopt-eval-", dir=base)


def _lock_path(index: int, part: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"agentopt-gpu{index}-{os.getuid()}.{part}")


def _flock(f, mode: int, waiting=None, every_s: float = 0.05) -> None:
    """flock, calling waiting() every every_s seconds while another holds it (None: just block)."""
    if waiting is None:
        fcntl.flock(f, mode)
        return
    while True:
        try:
            fcntl.flock(f, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            waiting()
            time.sleep(every_s)


class SharedHold:
    """A reader's hold on the GPU lock, which can step aside while it does CPU work only (`pause`) and come back
    through the turnstile (`resume`: behind a waiting writer, as any new reader)."""

    def __init__(self, gate, lock):
        self.gate, self.lock, self.paused = gate, lock, False

    def pause(self) -> None:
        if not self.paused:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            _flock(self.gate, fcntl.LOCK_EX)
            try:
                _flock(self.lock, fcntl.LOCK_SH)
            finally:
                fcntl.flock(self.gate, fcntl.LOCK_UN)
            self.paused = False


@contextmanager
def gpu_lock(index: int = 0, shared: bool = False, waiting=None):
    """The GPU's reader/writer lock (see the module's docstring): exclusive for checking and timing, shared for
    other GPU work of ours (yielding a SharedHold). `waiting` is called now and then while others hold it."""
    with open(_lock_path(index, "gate"), "a") as gate, open(_lock_path(index, "lock"), "a") as lock:
        _flock(gate, fcntl.LOCK_EX, waiting)
        try:
            _flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, None if shared else waiting)
        finally:
            if shared:  # readers only pass the turnstile; the writer keeps it until done
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield SharedHold(gate, lock) if shared else None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)
