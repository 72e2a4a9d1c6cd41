"""agentopt: LLM agents and kernel templates that make GPU kernels fast.

The parts (see docs/ARCHITECTURE.md): problems (what to make fast), hardware (what the GPU can do),
agents (planner, coders), sandbox (the evaluator), search (the evolutionary loop), runs (the run store),
kernels (templates and the harvested library).
"""

__version__ = "0.1.0"
