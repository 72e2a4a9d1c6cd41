"""A stand-in OpenAI-compatible HTTP server for tests, driven through the real `openai` client.

    with FakeOpenAI(replies=[error(429, retry_after=0.2), chat("```python\\nclass ModelNew: ...\\n```")]) as srv:
        cfg = LLMConfig(base_url=srv.base_url, model="fake-model", api_key="test")
        ...
    srv.chat_requests  # what the client sent, in order (method, path, headers, JSON body, arrival time)

Scripted replies are served in order to POST /v1/chat/completions; an item may also be a function of the request's
JSON body returning a Reply (for replies that depend on the prompt). When the script runs out, `default` is served
if given, else a 400 saying so (400 is not retried, so a test that asks too much fails at once). GET /v1/models
lists `models` (or answers 404 with models=None). With `api_key` set, a request with another key gets 401.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (for client timeouts)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    t: float  # time.monotonic() at arrival


def chat(content: str, *, prompt_tokens: int = 100, completion_tokens: int = 50, model: str | None = None,
         finish_reason: str = "stop", usage: bool = True, delay_s: float = 0.0) -> Reply:
    """A normal chat completion (the model defaults to the one requested)."""
    body: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason,
                     "message": {"role": "assistant", "content": content}}]}
    if usage:
        body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
    return Reply(body=body, delay_s=delay_s)


def error(status: int, message: str = "scripted error", *, retry_after: float | str | None = None,
          param: str | None = None, delay_s: float = 0.0) -> Reply:
    """An OpenAI-style error (429 with Retry-After, 500, 401, a 400 naming a refused parameter...)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Reply(status=status, headers=headers, delay_s=delay_s,
                 body={"error": {"message": message, "type": "fake_error", "param": param, "code": None}})


ReplyItem = Reply | Callable[[dict[str, Any]], Reply]


class FakeOpenAI:
    def __init__(self, replies: Iterable[ReplyItem] = (), *, default: ReplyItem | None = None,
                 models: Iterable[str] | None = ("fake-model",), api_key: str | None = None):
        self.replies = list(replies)
        self.default = default
        self.models = list(models) if models is not None else None
        self.api_key = api_key
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.replies.pop(0) if self.replies else self.default
        if item is None:
            return error(400, f"FakeOpenAI has no scripted reply left ({len(self.chat_requests)} chat requests)")
        reply = item(body) if callable(item) else item
        if reply.body and reply.body.get("object") == "chat.completion" and reply.body.get("model") is None:
            reply = Reply(status=reply.status, headers=reply.headers, delay_s=reply.delay_s,
                          body={**reply.body, "model": body.get("model", "fake-model")})
        return reply

    def _answer(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None) -> Reply:
        with self._lock:
            self.requests.append(Request(method, path, headers, body, time.monotonic()))
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided")
        if method == "GET" and path.endswith("/models"):
            if self.models is None:
                return error(404, "no such route")
            return Reply(body={"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]})
        if method == "POST" and path.endswith("/chat/completions"):
            return self._next_reply(body or {})
        return error(404, f"no route {method} {path}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._answer(method, self.path, headers, body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = json.dumps(reply.body or {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
