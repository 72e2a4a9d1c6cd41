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
    static_guard: bool = True  # run the static policy (sandbox/guard.py) first; off only to test runtime defences
    kill_grace_s: float = 2.0  # after SIGTERM, a worker past its time limit gets this long before SIGKILL
    weight_seed: int = 0  # torch.manual_seed before Model(*get_init_inputs()): the same weights in every process
    pending_work_ms: float = 0.5  # device work still running this long after forward's stream finished: rejected
    wallclock_calls: int = 20  # back-to-back calls per shape in the wall-clock cross-check (fewer if reps are fewer)
    wallclock_mb: int = 2048  # the cross-check's fresh inputs and kept outputs stay within this (at least 3 calls)
    flush_mb: int = 1024  # zeroed before each timed call: flushes the L2 and gives the host its head start (timing)
    jit_outside_lock: bool = True  # compile-ahead workers leave the GPU lock while Triton compiles (jit_hooks): on an
    # H200 18.4 -> 19.8 candidates a minute, the GPU held 62 -> 70% (benchmarks/results/*-run-speed*.json)


class PlanConfig(BaseModel):
    llm_pass: bool = True  # with an endpoint configured, let the planner agent add or reorder hints
    small_floor_us: float = 5.0  # a shape whose floor is below this is "small": a launch (~3-5 us) rivals the work
    weight_streaming_fraction: float = 0.5  # memory-bound shapes with this share of their bytes in weights
    split_k_tile_n: int = 64  # output columns per program assumed when counting a skinny GEMM's tiles for split-K
    split_k_min_chunk: int = 512  # split-K never cuts K into chunks shorter than this
    row_in_registers: int = 16384  # the longest row (elements) one program keeps in registers in a single pass
    eager_warmup: int = 10  # eager calls per shape before timing (`agentopt plan` on a GPU)
    eager_reps: int = 50  # timed eager calls per shape, L2 flushed before each; the median is shown


class LLMConfig(BaseModel):
    base_url: str | None = None  # from --llm-base-url or OPENAI_BASE_URL; None with a key set: OpenAI's own
    model: str | None = None  # from --llm-model or OPENAI_MODEL; None: the endpoint's only model, if it serves one
    api_key: str | None = Field(default=None, repr=False)  # from OPENAI_API_KEY
    max_retries: int = 5  # on 429, timeouts, connection errors and 5xx
    timeout_s: float = 300.0  # one chat completion
    temperature: float = 0.8
    max_tokens: int = 8192  # of one reply
    token_budget: int | None = None  # prompt + completion tokens for the whole run; None is unlimited
    cost_budget_usd: float | None = None  # for the whole run; None is unlimited
    ensemble: list[tuple[str, float]] = Field(default_factory=list)  # (model, weight): several models, sampled
    retry_initial_s: float = 1.0  # first backoff; doubles per retry, plus up to this much jitter
    retry_max_s: float = 60.0  # longest wait between tries, a server's Retry-After included
    price_file: str | None = None  # JSON {"model": {"input": usd, "output": usd}} per 1M tokens, over the built-in
    prompt_log_chars: int = 4000  # of a compile log quoted in a fix prompt: its last characters, where errors are
    prompts_dir: str | None = None  # --prompts DIR: your own copies of prompts/*.j2, searched before the built-in ones


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
    llm_in_flight: int = 4  # LLM coder: steps waiting on the model at once (each is one request)
    inspirations: int = 3  # other good candidates shown to a coder beside its parents
    fix_fraction: float = 0.25  # LLM coder: chance to ask for a fix of a recent failure instead of an improvement
    crossover_fraction: float = 0.15  # chance to cross two parents
    cost_model_pool: int = 8  # template coder: points drawn per step; the cost model picks the one to compile
    cost_model_min_measured: int = 8  # measured template candidates before the cost model ranks
    cost_model_report_every: int = 10  # ranked-and-measured candidates between the transcript's agreement reports
    max_duplicates_in_a_row: int = 50  # the coders have nothing new: stop
    library_seeds: bool = True  # template coder: the first candidates include the library's kernels' points
    poll_s: float = 0.25  # how often the loop looks at the stop rules (Ctrl-C, budgets) while steps run


class HarvestConfig(BaseModel):
    seeds_per_shape: int = 8  # re-verification: more fresh inputs per shape than the search used
    repeats: int = 2  # re-verification: each winner is evaluated this many times; the slowest timing counts
    min_speedup: float = 1.0  # a kernel serves a shape only where it is at least this much faster than eager
    keep_fraction: float = 0.98  # the kernel set: within this fraction of the best kernel on every shape
    bench_reps: int = 50  # `agentopt library bench` on the CPU: timed calls per shape and side (after 10 warm-up)


class TemplateConfig(BaseModel):
    max_tries: int = 50  # points drawn (or mutations tried) before saying that nothing new fits
    structural_fraction: float = 0.3  # improve: chance to switch a structural variant instead of one parameter
    seed_first: bool = True  # propose each matching template's SEED point (known good) before sampling
