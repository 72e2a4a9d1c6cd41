"""Configuration: pydantic models with commented defaults, the one place for defaults.

Each part reads its own model; the CLI builds them from flags. A run saves them all in run.json.
"""
from __future__ import annotations

from pydantic import BaseModel, Field


class EvalConfig(BaseModel):
    seeds_per_shape: int = 3  # fresh random inputs per shape; the last is heavy-tailed
    compile_timeout_s: float = 180.0  # import + first call per shape (Triton JIT, nvcc, NVRTC)
    run_timeout_s: float = 120.0  # checks + timing of all shapes, after compilation
    warmup_ms: float = 25.0  # per shape, before timing (do_bench's default)
    rep_ms: float = 100.0  # timing budget per shape, split between candidate and baseline
    min_reps: int = 10  # timed calls per side at least, whatever rep_ms says
    max_reps: int = 200  # timed calls per side at most
    checked_timed_calls: int = 3  # outputs of this many timed calls are compared with the reference too
    wallclock_slack: float = 1.5  # wall time / event time above this (plus 50 us per call) means hidden work
    roofline_slack: float = 1.15  # faster than floor / this is flagged as suspicious, not celebrated
    cpu_timing_reps: int = 5  # --device cpu: wall-clock timing, a few calls


class PlanConfig(BaseModel):
    llm_pass: bool = True  # with an endpoint configured, let the planner agent add or reorder hints


class LLMConfig(BaseModel):
    base_url: str | None = None  # from --llm-base-url or OPENAI_BASE_URL; None means no LLM coder
    model: str | None = None  # from --llm-model or OPENAI_MODEL
    api_key: str | None = Field(default=None, repr=False)  # from OPENAI_API_KEY
    max_retries: int = 5  # on 429, timeouts, connection errors and 5xx
    timeout_s: float = 300.0  # one chat completion
    temperature: float = 0.8
    max_tokens: int = 8192  # of one reply
    token_budget: int | None = None  # prompt + completion tokens for the whole run; None is unlimited
    cost_budget_usd: float | None = None  # for the whole run; None is unlimited
    ensemble: list[tuple[str, float]] = Field(default_factory=list)  # (model, weight): several models, sampled


class SearchConfig(BaseModel):
    coder: str = "auto"  # template, llm, both; auto = llm when an endpoint is configured, else template
    budget_minutes: float = 20.0  # wall-clock budget of the search
    max_candidates: int | None = None  # stop after this many evaluated candidates
    islands: int = 2
    migration_every: int = 10  # candidates between migrations of the best across islands
    elite_per_island: int = 4
    explore_fraction: float = 0.2  # chance to pick a parent from a random MAP-Elites cell instead of the best
    stop_fraction_of_floor: float = 0.95  # stop when every shape reaches this fraction of the floor
    seed: int = 0
    compile_ahead: int = 3  # candidates compiling on CPU cores while the GPU times another
