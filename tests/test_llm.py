"""The LLM client against a stand-in OpenAI-compatible server, through the real `openai` package."""
import asyncio
import json
import random
from collections import Counter

import pytest
from fake_openai import FakeOpenAI, chat, error

from agentopt.agents.llm import LLMClient, endpoint_configured, llm_config_from_env, store_recorder
from agentopt.agents.pricing import PriceTable
from agentopt.config import LLMConfig
from agentopt.runs import RunStore

MESSAGES = [{"role": "system", "content": "you write kernels"}, {"role": "user", "content": "write one"}]


def config(srv: FakeOpenAI, **kw) -> LLMConfig:
    return LLMConfig(base_url=srv.base_url, model="fake-model", api_key="test-key", retry_initial_s=0.01,
                     retry_max_s=2.0, timeout_s=5.0, **kw)


def run(client: LLMClient, *steps):
    """Run the steps (each a dict of chat() keywords, or "check") in one event loop, as a run would."""
    async def go():
        try:
            return [await (client.check() if step == "check" else client.chat(MESSAGES, purpose="test", **step))
                    for step in steps]
        finally:
            await client.close()
    out = asyncio.run(go())
    return out[0] if len(out) == 1 else out


def test_429_with_retry_after_and_500_are_retried_then_succeed():
    with FakeOpenAI([error(429, "slow down", retry_after=0.3), error(500, "boom"), chat("done")]) as srv:
        client = LLMClient(config(srv))
        reply = run(client, {})
    assert reply.error is None and reply.text == "done"
    assert reply.tries == 3
    first, second, third = srv.chat_requests
    assert second.t - first.t >= 0.3  # the server's Retry-After (fractional seconds) was waited out
    assert third.t - second.t < 0.3  # the 500 had no Retry-After: a short backoff
    assert reply.prompt_tokens == 100 and reply.completion_tokens == 50
    assert second.body["messages"] == MESSAGES


def test_retries_stop_after_max_retries_with_the_reason():
    with FakeOpenAI(default=error(503, "overloaded")) as srv:
        reply = run(LLMClient(config(srv, max_retries=2)), {})
    assert len(srv.chat_requests) == 3
    assert reply.text is None and "503" in reply.error and "overloaded" in reply.error


def test_401_is_not_retried_and_check_says_to_set_the_key():
    with FakeOpenAI([chat("never served")], api_key="the-right-key") as srv:
        client = LLMClient(config(srv))  # sends "test-key"
        problem, reply = run(client, "check", {})
    assert "refused the API key (401)" in problem and "OPENAI_API_KEY" in problem and srv.base_url in problem
    assert len(srv.chat_requests) == 1 and reply.tries == 1
    assert "401" in reply.error


def test_check_passes_and_takes_the_only_served_model():
    with FakeOpenAI(models=["qwen-coder"]) as srv:
        client = LLMClient(LLMConfig(base_url=srv.base_url, retry_initial_s=0.01))
        assert run(client, "check") is None
    assert client.config.model == "qwen-coder"


def test_check_without_model_on_a_server_with_several_names_them():
    with FakeOpenAI(models=["a-model", "b-model"]) as srv:
        problem = run(LLMClient(LLMConfig(base_url=srv.base_url)), "check")
    assert "no model given" in problem and "a-model, b-model" in problem


def test_unreachable_endpoint_is_a_reply_with_the_reason_not_an_exception():
    with FakeOpenAI() as srv:
        url = srv.base_url
    reply = run(LLMClient(LLMConfig(base_url=url, model="m", max_retries=1, retry_initial_s=0.01)), {})
    assert reply.error and "could not reach" in reply.error and reply.tries == 2


def test_refused_max_tokens_is_renamed_and_the_call_goes_on():
    refused = error(400, "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens'.", param="max_tokens")
    with FakeOpenAI([refused, chat("ok"), chat("again")]) as srv:
        client = LLMClient(config(srv))
        first, second = run(client, {}, {})
    assert first.text == "ok" and second.text == "again"
    bodies = [r.body for r in srv.chat_requests]
    assert "max_tokens" in bodies[0] and "max_completion_tokens" in bodies[1] and "max_tokens" not in bodies[2]
    assert any("max_tokens" in note for note in client.notes)


def test_other_4xx_is_not_retried():
    with FakeOpenAI([error(400, "bad request"), chat("unused")]) as srv:
        reply = run(LLMClient(config(srv)), {})
    assert len(srv.chat_requests) == 1 and "400" in reply.error and "bad request" in reply.error


def test_token_budget_stops_further_calls_without_calling_the_server():
    with FakeOpenAI(default=chat("x", prompt_tokens=600, completion_tokens=100)) as srv:
        client = LLMClient(config(srv, token_budget=1000))
        first, second, third = run(client, {}, {}, {})
    assert first.error is None and second.error is None
    assert len(srv.chat_requests) == 2
    assert third.error == "token budget spent (1400 of 1000)" == client.budget_reason
    assert third.tries == 0 and len(client.calls) == 3 and client.budget_left() is False


def test_cost_is_priced_per_model_and_the_cost_budget_stops_calls(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"house-model": {"input": 1000.0, "output": 2000.0}}))
    with FakeOpenAI(default=chat("x", prompt_tokens=1000, completion_tokens=500)) as srv:
        client = LLMClient(config(srv, price_file=str(prices), cost_budget_usd=2.5))
        # house-model-v2 is priced by its longest known prefix
        first, second, third, fourth = run(client, {"model": "house-model-v2"}, {"model": "unknown-model"},
                                           {"model": "house-model"}, {})
    assert first.cost_usd == pytest.approx(1000 * 1000 / 1e6 + 500 * 2000 / 1e6)  # $2.00
    assert second.cost_usd == 0 and any("unknown-model" in n for n in client.notes)
    assert third.error is None and len(srv.chat_requests) == 3  # $2 spent of $2.50 still allowed a call
    assert fourth.error == "cost budget spent ($4.0000 of $2.5000)" == client.budget_reason
    assert PriceTable().price("openai/gpt-4o-mini-2024-07-18").input == 0.15


def test_calls_are_recorded_in_the_run_store(tmp_path):
    store = RunStore.create(tmp_path, "t", {})
    with FakeOpenAI([chat("one"), error(400, "nope")]) as srv:
        client = LLMClient(config(srv), recorder=store_recorder(store))
        ok, bad = run(client, {"candidate_id": "c1"}, {})
    rows = store.llm_calls()
    assert [r["id"] for r in rows] == [ok.call_id, bad.call_id]
    assert rows[0]["candidate_id"] == "c1" and rows[0]["reply"] == "one" and "write one" in rows[0]["prompt"]
    assert rows[0]["prompt_tokens"] == 100 and rows[1]["error"] and rows[1]["reply"] is None
    store.close()


def test_missing_usage_is_estimated_so_budgets_hold():
    with FakeOpenAI([chat("y" * 400, usage=False)]) as srv:
        client = LLMClient(config(srv))
        reply = run(client, {})
    assert reply.completion_tokens == 100 and client.tokens_used > 100
    assert any("no token usage" in n for n in client.notes)


def test_ensemble_samples_models_by_weight():
    client = LLMClient(LLMConfig(base_url="http://127.0.0.1:9/v1", model="solo",
                                 ensemble=[("cheap", 9.0), ("strong", 1.0)]))
    rng = random.Random(1)
    counts = Counter(client.pick_model(rng) for _ in range(2000))
    assert set(counts) == {"cheap", "strong"} and 0.85 < counts["cheap"] / 2000 < 0.95
    single = LLMClient(LLMConfig(base_url="http://127.0.0.1:9/v1", model="solo"))
    assert single.pick_model(rng) == "solo"


def test_config_from_flags_and_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env:8000/v1")
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = llm_config_from_env(model="flag-model")
    assert (cfg.base_url, cfg.model, cfg.api_key) == ("http://env:8000/v1", "flag-model", None)
    assert endpoint_configured(cfg)
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert not endpoint_configured(llm_config_from_env())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert endpoint_configured(llm_config_from_env())


def test_a_timeout_is_retried():
    with FakeOpenAI([chat("late", delay_s=0.4), chat("on time")]) as srv:
        reply = run(LLMClient(config(srv).model_copy(update={"timeout_s": 0.15})), {})
    assert reply.text == "on time" and reply.tries == 2 and len(srv.chat_requests) == 2


def test_check_on_a_server_without_a_model_list_sends_one_token():
    with FakeOpenAI([chat("k")], models=None) as srv:
        assert run(LLMClient(config(srv)), "check") is None
    assert srv.chat_requests[0].body["max_tokens"] == 1


def test_a_call_without_any_model_is_refused_with_what_to_set():
    with FakeOpenAI([chat("unused")]) as srv:
        reply = run(LLMClient(LLMConfig(base_url=srv.base_url)), {})
    assert "no model given" in reply.error and not srv.chat_requests


def test_a_json_schema_asks_for_structured_output():
    schema = {"title": "PlannerReply", "type": "object", "properties": {"hints": {"type": "array"}}}
    with FakeOpenAI([chat('{"hints": []}')]) as srv:
        reply = run(LLMClient(config(srv)), {"json_schema": schema})
    assert reply.text == '{"hints": []}'
    sent = srv.chat_requests[0].body["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "PlannerReply", "schema": schema}}
