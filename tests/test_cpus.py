"""The judged worker's own core (sandbox/cpus.py): background processes keep off it, the judged worker takes it."""
import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, sys
from agentopt.sandbox import cpus
import torch
device = sys.argv[1]
cpus.MIN_CORES = int(sys.argv[2])
seen = {"start": sorted(os.sched_getaffinity(0))}
cpus.background(device)
seen["background"], seen["threads"] = sorted(os.sched_getaffinity(0)), torch.get_num_threads()
cpus.timing(device)
seen["timing"] = sorted(os.sched_getaffinity(0))
torch.set_num_threads(16)
cpus.judge(device)
seen["judge_threads"] = torch.get_num_threads()
print(json.dumps(seen))
"""


def probe(device: str, min_cores: int = 4, core: str = "on") -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, device, str(min_cores)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "AGENTOPT_TIMING_CORE": core})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")


@needs_affinity
def test_on_a_gpu_background_processes_leave_a_core_to_the_judged_worker():
    seen = probe("cuda")
    assert seen["threads"] == 2
    cores = seen["start"]
    if len(cores) >= 4:
        assert seen["background"] == cores[:-1] and seen["timing"] == cores[-1:]
    else:  # too few cores to set one aside: affinity left alone
        assert seen["background"] == cores and seen["timing"] == cores


@needs_affinity
@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2, reason="needs two cores")
def test_the_timing_core_is_set_aside_wherever_there_are_enough_cores():
    seen = probe("cuda", min_cores=2)
    assert probe("cuda", min_cores=2, core="off")["timing"] == seen["start"]
    assert seen["background"] == seen["start"][:-1] and seen["timing"] == seen["start"][-1:]


@needs_affinity
def test_the_switch_and_the_cpu_device_leave_affinity_alone():
    off = probe("cuda", core="off")
    assert off == probe("cuda", core="")  # off unless asked for
    assert off["background"] == off["start"] == off["timing"] and off["threads"] == 2
    cpu = probe("cpu")
    assert cpu["background"] == cpu["start"] == cpu["timing"] and cpu["threads"] == torch_threads()


def test_on_a_gpu_the_judge_compares_with_a_few_threads_and_on_the_cpu_with_all():
    assert probe("cuda", core="off")["judge_threads"] == 4  # the rest for the workers' launches and compiles
    assert probe("cpu")["judge_threads"] == 16


def torch_threads() -> int:
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], capture_output=True,
                         text=True, timeout=120)
    return int(out.stdout)
