"""The LLM client: the `openai` package against any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM,
SGLang, ollama, llama.cpp), with retries, per-call accounting, budgets and a weighted ensemble of models.

`chat()` never raises for a failed call: it returns an `LLMReply` whose `error` says why. Every call, failed or
not, is kept in `client.calls` and handed to the recorder (e.g. `store_recorder(run_store)`).
"""
from __future__ import annotations

import email.utils
import os
import random
import time
from typing import Any, Callable

import openai
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from agentopt.config import LLMConfig

from .pricing import PriceTable

RETRIED_STATUS = {408, 409, 429}  # and every 5xx: what may change on its own; other 4xx will not
PLACEHOLDER_KEY = "no-key"  # local servers (vLLM, ollama, llama.cpp) take any key; the openai client wants one


class LLMReply(BaseModel):
    text: str | None = None
    model: str = ""
    purpose: str = ""
    candidate_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0  # wall time of the call, retries and waits included
    cost_usd: float = 0.0
    finish_reason: str | None = None  # "length" means the reply was cut at max_tokens
    tries: int = 0  # requests sent (0 when a budget refused the call)
    error: str | None = None
    call_id: int = 0  # the recorder's id (the run's llm_calls row), else the client's own count


Recorder = Callable[[LLMReply, str], "int | None"]


def store_recorder(store: Any) -> Recorder:
    """A recorder writing each call to a RunStore's llm_calls table; the row id becomes the reply's call_id."""
    def record(reply: LLMReply, prompt: str) -> int:
        return store.add_llm_call(candidate_id=reply.candidate_id, model=reply.model, prompt=prompt,
                                  reply=reply.text, prompt_tokens=reply.prompt_tokens,
                                  completion_tokens=reply.completion_tokens, latency_s=reply.latency_s,
                                  cost_usd=reply.cost_usd, error=reply.error)
    return record


def llm_config_from_env(base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                        **overrides: Any) -> LLMConfig:
    """LLMConfig from flags, falling back on OPENAI_BASE_URL, OPENAI_MODEL and OPENAI_API_KEY."""
    return LLMConfig(base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
                     model=model or os.environ.get("OPENAI_MODEL") or None,
                     api_key=api_key or os.environ.get("OPENAI_API_KEY") or None, **overrides)


def endpoint_configured(cfg: LLMConfig) -> bool:
    """True when there is somewhere to send calls: a base URL (a local server), or a key (OpenAI's own)."""
    return bool(cfg.base_url or cfg.api_key)


def format_messages(messages: list[dict[str, str]]) -> str:
    """The prompt as one text, for the run's records and the transcript."""
    return "\n\n".join(f"## {m['role']}\n{m['content']}" for m in messages)


def retry_after_s(exc: BaseException) -> float | None:
    """The wait a server asked for (Retry-After in seconds, fractions allowed, or an HTTP date; retry-after-ms)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        date = email.utils.parsedate_to_datetime(value) if email.utils.parsedate_tz(value) else None
        return max(0.0, date.timestamp() - time.time()) if date else None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRIED_STATUS or exc.status_code >= 500
    return False


def describe_error(exc: BaseException, base_url: str) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return f"the endpoint at {base_url} timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not reach the endpoint at {base_url}: {exc.__cause__ or exc}"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in (401, 403):
            return (f"the endpoint at {base_url} refused the API key ({exc.status_code}): set OPENAI_API_KEY "
                    f"to a key it accepts")
        return f"the endpoint at {base_url} answered {exc.status_code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class LLMClient:
    def __init__(self, config: LLMConfig, recorder: Recorder | None = None):
        self.config = config
        self.recorder = recorder
        self.prices = PriceTable(config.price_file)
        self.client = openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or PLACEHOLDER_KEY,
                                         max_retries=0, timeout=config.timeout_s)
        self.base_url = str(self.client.base_url).rstrip("/")
        self.calls: list[LLMReply] = []
        self.notes: list[str] = []  # things a person should know (unpriced models, estimated tokens), each once
        self.tokens_used = 0
        self.cost_used = 0.0
        # parameters some models refuse; dropped or renamed after the server says so (see _adapt)
        self._params: dict[str, Any] = {"temperature": config.temperature, "max_tokens": config.max_tokens}
        self._rng = random.Random()

    async def close(self) -> None:
        await self.client.close()

    # ---- budgets and models ---------------------------------------------------------------------------------
    @property
    def budget_reason(self) -> str | None:
        """Why no more calls may be made, or None while the budgets last."""
        cfg = self.config
        if cfg.token_budget is not None and self.tokens_used >= cfg.token_budget:
            return f"token budget spent ({self.tokens_used} of {cfg.token_budget})"
        if cfg.cost_budget_usd is not None and self.cost_used >= cfg.cost_budget_usd:
            return f"cost budget spent (${self.cost_used:.4f} of ${cfg.cost_budget_usd:.4f})"
        return None

    def budget_left(self) -> bool:
        return self.budget_reason is None

    def pick_model(self, rng: random.Random) -> str:
        """A model of the ensemble, drawn by weight; the configured model when there is no ensemble."""
        if self.config.ensemble:
            models, weights = zip(*self.config.ensemble)
            return rng.choices(models, weights=weights)[0]
        return self.config.model or ""

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ---- the start-up check ---------------------------------------------------------------------------------
    async def check(self) -> str | None:
        """A cheap call (the model list) so that a bad key or URL is said at the start. None when all is well.

        With no model configured and an endpoint serving exactly one, that model is taken."""
        try:
            served = [m.id async for m in self.client.models.list()]
        except openai.NotFoundError:  # a server without /models: a one-token completion checks the key instead
            if not self.config.model:
                return f"the endpoint at {self.base_url} does not list its models: give one with --llm-model"
            try:
                await self._create(self.config.model, [{"role": "user", "content": "ok"}], {"max_tokens": 1})
            except openai.BadRequestError:  # the key passed; what the model accepts is chat()'s to adapt to
                return None
            except openai.OpenAIError as exc:
                return describe_error(exc, self.base_url)
            return None
        except openai.OpenAIError as exc:
            return describe_error(exc, self.base_url)
        if not self.config.model and not self.config.ensemble:
            if len(served) != 1:
                return (f"no model given (--llm-model or OPENAI_MODEL); the endpoint at {self.base_url} serves "
                        f"{', '.join(served[:20]) or 'none'}")
            self.config.model = served[0]
        return None

    # ---- one call -------------------------------------------------------------------------------------------
    async def chat(self, messages: list[dict[str, str]], *, purpose: str, candidate_id: str | None = None,
                   json_schema: dict | None = None, model: str | None = None) -> LLMReply:
        model = model or self.pick_model(self._rng)
        reply = LLMReply(model=model, purpose=purpose, candidate_id=candidate_id)
        reply.error = self.budget_reason or (None if model else "no model given: set --llm-model or OPENAI_MODEL")
        if reply.error:
            return self._record(reply, messages)
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = {"type": "json_schema", "json_schema": {
                "name": json_schema.get("title", "reply"), "schema": json_schema}}
        start = time.monotonic()
        try:
            completion = await self._with_retries(model, messages, extra, reply)
        except openai.OpenAIError as exc:
            reply.error = describe_error(exc, self.base_url)
        else:
            self._read(completion, messages, reply)
        reply.latency_s = time.monotonic() - start
        return self._record(reply, messages)

    async def _with_retries(self, model: str, messages: list[dict[str, str]], extra: dict[str, Any],
                            reply: LLMReply) -> Any:
        cfg = self.config
        backoff = wait_exponential(multiplier=cfg.retry_initial_s, max=cfg.retry_max_s) + wait_random(
            0, cfg.retry_initial_s)

        def wait(state: Any) -> float:
            asked = retry_after_s(state.outcome.exception())
            return min(asked, cfg.retry_max_s) if asked is not None else backoff(state)

        async for attempt in AsyncRetrying(stop=stop_after_attempt(cfg.max_retries + 1), wait=wait,
                                           retry=retry_if_exception(is_retryable), reraise=True):
            with attempt:
                while True:  # each turn either returns, raises, or drops one refused parameter for good
                    reply.tries += 1
                    try:
                        return await self._create(model, messages, {**self._params, **extra})
                    except openai.BadRequestError as exc:
                        if not self._adapt(exc):
                            raise

    def _adapt(self, exc: openai.BadRequestError) -> bool:
        """Models that refuse `max_tokens` (want `max_completion_tokens`) or a temperature: adjust once, retry."""
        param = getattr(exc, "param", None) or ""
        if param == "max_tokens" and "max_tokens" in self._params:
            self._params["max_completion_tokens"] = self._params.pop("max_tokens")
        elif param == "temperature" and "temperature" in self._params:
            del self._params["temperature"]
        else:
            return False
        self._note(f"the endpoint refused the parameter {param!r}; calls go on without it ({exc.message})")
        return True

    async def _create(self, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> Any:
        return await self.client.chat.completions.create(model=model, messages=messages, **params)

    def _read(self, completion: Any, messages: list[dict[str, str]], reply: LLMReply) -> None:
        choice = completion.choices[0] if completion.choices else None
        reply.text = (choice.message.content or "") if choice else ""
        reply.finish_reason = choice.finish_reason if choice else None
        reply.model = completion.model or reply.model
        usage = completion.usage
        if usage is not None:
            reply.prompt_tokens, reply.completion_tokens = usage.prompt_tokens or 0, usage.completion_tokens or 0
        else:  # some servers send no usage: count about 4 characters a token, so that budgets still hold
            self._note(f"the endpoint at {self.base_url} reports no token usage: tokens are estimated "
                       "at 4 characters each")
            reply.prompt_tokens = sum(len(m["content"]) for m in messages) // 4
            reply.completion_tokens = len(reply.text) // 4
        reply.cost_usd, note = self.prices.cost(reply.model, reply.prompt_tokens, reply.completion_tokens)
        if note:
            self._note(note)
        if not reply.text:
            reply.error = f"the model {reply.model} sent an empty reply (finish reason: {reply.finish_reason})"

    def _record(self, reply: LLMReply, messages: list[dict[str, str]]) -> LLMReply:
        self.tokens_used += reply.prompt_tokens + reply.completion_tokens
        self.cost_used += reply.cost_usd
        call_id = self.recorder(reply, format_messages(messages)) if self.recorder else None
        reply.call_id = call_id if call_id is not None else len(self.calls) + 1
        self.calls.append(reply)
        return reply
