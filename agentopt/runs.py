"""The run store: runs/<id>/ with run.json, run.db (SQLite, WAL, every write committed), transcript.jsonl
(one JSON event a line, flushed as it happens), candidates/<cid>.py and best/.

A run killed at any moment loses nothing already written: every write is committed or flushed before the call
returns, and `RunStore.open` reads back whatever is there.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    id TEXT PRIMARY KEY, created_at REAL, generation INTEGER, island INTEGER, coder TEXT,
    parents TEXT, template TEXT, params TEXT, source_hash TEXT, path TEXT,
    status TEXT, reason TEXT, score REAL, evaluation TEXT, prompt TEXT, reply TEXT, meta TEXT);
CREATE INDEX IF NOT EXISTS candidates_hash ON candidates(source_hash);
CREATE TABLE IF NOT EXISTS evaluations (
    candidate_id TEXT, shape TEXT, correct INTEGER, rel_err REAL, time_ms REAL, baseline_ms REAL,
    speedup REAL, fraction_of_floor REAL, PRIMARY KEY (candidate_id, shape));
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL, candidate_id TEXT, model TEXT, prompt TEXT, reply TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, latency_s REAL, cost_usd REAL, error TEXT);
"""


class CandidateRecord(BaseModel):
    """One row of `candidates`; `evaluation` is the sandbox's Evaluation as a dict (None until evaluated)."""
    id: str
    created_at: float = Field(default_factory=time.time)
    generation: int = 0
    island: int = 0
    coder: str = "template"
    parents: list[str] = Field(default_factory=list)
    template: str | None = None
    params: dict[str, Any] | None = None
    source_hash: str = ""
    path: str = ""
    status: str | None = None
    reason: str | None = None
    score: float | None = None
    evaluation: dict[str, Any] | None = None
    prompt: str | None = None
    reply: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_JSON_COLS = ("parents", "params", "evaluation", "meta")


def new_run_id(problem_name: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{problem_name}-{uuid.uuid4().hex[:4]}"


class RunStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path / "run.db", isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._transcript = open(self.path / "transcript.jsonl", "a", buffering=1)

    # ---- creation and opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: Path | str, problem_name: str, info: dict[str, Any]) -> "RunStore":
        """A new run directory; `info` (config, problem, hardware, plan, versions) becomes run.json."""
        run_id = new_run_id(problem_name)
        path = Path(runs_dir) / run_id
        (path / "candidates").mkdir(parents=True)
        (path / "best").mkdir()
        store = cls(path)
        store.write_info({"id": run_id, "created_at": time.time(), "status": "running", **info})
        return store

    @classmethod
    def open(cls, path: Path | str) -> "RunStore":
        path = Path(path)
        if not (path / "run.json").is_file():
            raise FileNotFoundError(f"{path} is not a run directory (no run.json)")
        return cls(path)

    def close(self) -> None:
        self._transcript.close()
        self.db.close()

    # ---- run.json -------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "run.json").read_text())

    def write_info(self, info: dict[str, Any]) -> None:
        tmp = self.path / "run.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, default=str))
        os.replace(tmp, self.path / "run.json")  # atomic: a kill never leaves half a run.json

    def update_info(self, **changes: Any) -> None:
        self.write_info({**self.info(), **changes})

    # ---- transcript -----------------------------------------------------------------------------------------
    def log(self, event: str, **data: Any) -> None:
        self._transcript.write(json.dumps({"t": time.time(), "event": event, **data}, default=str) + "\n")
        self._transcript.flush()

    def events(self) -> list[dict[str, Any]]:
        lines = (self.path / "transcript.jsonl").read_text().splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: everything before it stands
                break
        return out

    # ---- candidates -----------------------------------------------------------------------------------------
    def save_source(self, candidate_id: str, source: str) -> str:
        path = self.path / "candidates" / f"{candidate_id}.py"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
        return str(path.relative_to(self.path))

    def source(self, candidate_id: str) -> str:
        return (self.path / "candidates" / f"{candidate_id}.py").read_text()

    def put_candidate(self, rec: CandidateRecord) -> None:
        row = rec.model_dump()
        for col in _JSON_COLS:
            row[col] = json.dumps(row[col], default=str) if row[col] is not None else None
        cols = list(row)
        self.db.execute(f"INSERT OR REPLACE INTO candidates ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [row[c] for c in cols])
        ev = rec.evaluation or {}
        for s in ev.get("shapes", []):
            self.db.execute("INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?)",
                            (rec.id, json.dumps(s["shape"], sort_keys=True), int(bool(s.get("correct"))),
                             s.get("rel_err"), s.get("time_ms"), s.get("baseline_ms"), s.get("speedup"),
                             s.get("fraction_of_floor")))

    def candidates(self) -> list[CandidateRecord]:
        cur = self.db.execute("SELECT * FROM candidates ORDER BY created_at")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur.fetchall():
            row = dict(zip(names, values))
            for col in _JSON_COLS:
                row[col] = json.loads(row[col]) if row[col] is not None else None
            row["parents"] = row["parents"] or []
            row["meta"] = row["meta"] or {}
            out.append(CandidateRecord(**row))
        return out

    def candidate(self, candidate_id: str) -> CandidateRecord | None:
        return next((c for c in self.candidates() if c.id == candidate_id), None)

    def has_hash(self, source_hash: str) -> bool:
        return self.db.execute("SELECT 1 FROM candidates WHERE source_hash=? LIMIT 1", (source_hash,)).fetchone() is not None

    # ---- llm calls ------------------------------------------------------------------------------------------
    def add_llm_call(self, *, candidate_id: str | None, model: str, prompt: str, reply: str | None,
                     prompt_tokens: int = 0, completion_tokens: int = 0, latency_s: float = 0.0,
                     cost_usd: float = 0.0, error: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO llm_calls (created_at, candidate_id, model, prompt, reply, prompt_tokens, completion_tokens,"
            " latency_s, cost_usd, error) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (time.time(), candidate_id, model, prompt, reply, prompt_tokens, completion_tokens, latency_s, cost_usd,
             error))
        return int(cur.lastrowid)

    def link_llm_calls(self, call_ids: list[int], candidate_id: str) -> None:
        """Attach LLM calls made before their candidate had an id (ids are given once a proposal is kept)."""
        for call_id in call_ids:
            self.db.execute("UPDATE llm_calls SET candidate_id=? WHERE id=?", (candidate_id, call_id))

    def llm_calls(self, candidate_id: str | None = None) -> list[dict[str, Any]]:
        q, args = "SELECT * FROM llm_calls", ()
        if candidate_id is not None:
            q, args = q + " WHERE candidate_id=?", (candidate_id,)
        cur = self.db.execute(q + " ORDER BY id", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    # ---- best -----------------------------------------------------------------------------------------------
    def write_best(self, name: str, source: str) -> None:
        path = self.path / "best" / f"{name}.py"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(source)
        os.replace(tmp, path)

    def write_best_index(self, index: dict[str, Any]) -> None:
        """best/best.json: which candidate is best overall and on each shape, with its figures."""
        tmp = self.path / "best" / "best.json.tmp"
        tmp.write_text(json.dumps(index, indent=2, default=str))
        os.replace(tmp, self.path / "best" / "best.json")


def list_runs(runs_dir: Path | str) -> list[Path]:
    """Run directories under runs_dir, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)
