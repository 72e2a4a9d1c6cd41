"""A run directory read back whole: run.json, the candidates with their evaluations, the transcript, the LLM calls.

Read-only over the run store's files (the loop may still be writing: SQLite in WAL mode allows that)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentopt.problems import shape_label
from agentopt.runs import CandidateRecord, RunStore


def shape_key(shape: dict[str, Any]) -> str:
    """A shape as one string, e.g. 'M=16', in the problem's own order of keys (tables and plots label with it)."""
    return shape_label(shape)


@dataclass
class RunView:
    path: Path
    info: dict[str, Any]
    candidates: list[CandidateRecord]
    events: list[dict[str, Any]]
    llm_calls: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | str) -> "RunView":
        path = Path(path)
        if not (path / "run.json").is_file():
            raise FileNotFoundError(f"{path} is not a run directory (it has no run.json)")
        info = json.loads((path / "run.json").read_text())
        store = _ReadOnlyStore(path)
        try:
            return cls(path=path, info=info, candidates=store.candidates(), events=_events(path),
                       llm_calls=store.llm_calls())
        finally:
            store.db.close()

    # ---- what the run is ------------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.info.get("id", self.path.name)

    @property
    def problem(self) -> dict[str, Any]:
        return self.info.get("problem") or {}

    @property
    def problem_name(self) -> str:
        return self.problem.get("name", "?")

    @property
    def device(self) -> str:
        return self.info.get("device", "cuda")

    @property
    def gpu(self) -> str:
        hw = self.info.get("hardware") or {}
        return hw.get("name") or ("CPU" if self.device == "cpu" else "?")

    @property
    def status(self) -> str:
        return self.info.get("status", "?")

    @property
    def started_at(self) -> float:
        return float(self.info.get("created_at") or (self.events[0]["t"] if self.events else 0.0))

    @property
    def ended_at(self) -> float:
        times = [e["t"] for e in self.events if "t" in e] + [c.created_at for c in self.candidates]
        return max(times, default=self.started_at)

    def pauses(self) -> list[tuple[float, float]]:
        """(when the run resumed, seconds it had stood stopped) for each resume after a recorded stop."""
        out, stopped = [], None
        for e in self.events:
            if e.get("event") == "run_stopped":
                stopped = e["t"]
            elif e.get("event") == "run_resumed" and stopped is not None:
                out.append((e["t"], e["t"] - stopped))
                stopped = None
        return out

    def search_s(self, t: float) -> float:
        """Seconds of search from the run's start to the time t, the pauses between a stop and a resume left out."""
        return t - self.started_at - sum(gap for resumed, gap in self.pauses() if resumed <= t)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    @property
    def plan_shapes(self) -> list[dict[str, Any]]:
        return list((self.info.get("plan") or {}).get("shapes") or [])

    def floor_ms(self) -> dict[str, float]:
        """The plan's roofline floor per shape key, in milliseconds."""
        return {shape_key(s.get("shape") or {}): s["floor_us"] / 1000.0 for s in self.plan_shapes
                if s.get("floor_us") is not None}

    # ---- candidates -----------------------------------------------------------------------------------------
    def by_id(self) -> dict[str, CandidateRecord]:
        return {c.id: c for c in self.candidates}

    def find(self, ref: str) -> CandidateRecord | None:
        """A candidate by id, or by a prefix that names one candidate only."""
        ids = self.by_id()
        if ref in ids:
            return ids[ref]
        hits = [c for cid, c in ids.items() if cid.startswith(ref)]
        return hits[0] if len(hits) == 1 else None

    def best(self) -> CandidateRecord | None:
        ok = [c for c in self.candidates if c.ok and c.score]
        return max(ok, key=lambda c: c.score, default=None)

    def source(self, candidate_id: str) -> str | None:
        path = self.path / "candidates" / f"{candidate_id}.py"
        return path.read_text() if path.is_file() else None

    def evaluated_at(self) -> dict[str, float]:
        """When each candidate's verdict was recorded (the transcript's candidate_evaluated event)."""
        out = {e["id"]: e["t"] for e in self.events if e.get("event") == "candidate_evaluated" and "id" in e}
        return {c.id: out.get(c.id, c.created_at) for c in self.candidates}

    # ---- budget spent ---------------------------------------------------------------------------------------
    def budget(self) -> dict[str, Any]:
        evaluated = [c for c in self.candidates if c.status is not None]
        return {"candidates": len(self.candidates), "evaluated": len(evaluated),
                "valid": sum(c.ok for c in evaluated), "seconds": self.duration_s,
                "prompt_tokens": sum(int(c.get("prompt_tokens") or 0) for c in self.llm_calls),
                "completion_tokens": sum(int(c.get("completion_tokens") or 0) for c in self.llm_calls),
                "cost_usd": sum(float(c.get("cost_usd") or 0.0) for c in self.llm_calls),
                "llm_calls": len(self.llm_calls)}

    def stop_reason(self) -> str | None:
        stops = [e for e in self.events if e.get("event") == "run_stopped"]
        return (stops[-1].get("reason") or stops[-1].get("why")) if stops else None


class _ReadOnlyStore(RunStore):
    """The run store's readers over a read-only connection: reviewing a run never writes to it."""

    def __init__(self, path: Path):  # not RunStore.__init__, which opens the files for writing
        self.path = Path(path)
        self.db = sqlite3.connect(f"file:{self.path / 'run.db'}?mode=ro", uri=True, check_same_thread=False,
                                  timeout=30)


def _events(path: Path) -> list[dict[str, Any]]:
    out = []
    transcript = path / "transcript.jsonl"
    for line in transcript.read_text().splitlines() if transcript.is_file() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: everything before it stands
            break
    return out
