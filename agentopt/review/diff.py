"""A candidate's code against its parent's, as a unified diff."""
from __future__ import annotations

import difflib

from agentopt.runs import CandidateRecord


def unified_diff(old: str, new: str, old_name: str, new_name: str, context: int = 3) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=old_name, tofile=new_name, n=context)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def parent_diff(candidate: CandidateRecord, sources: dict[str, str | None]) -> tuple[str | None, str]:
    """(the parent's id, the diff from it); (None, '') for a seed, or when a source is missing."""
    if not candidate.parents:
        return None, ""
    parent = candidate.parents[0]
    old, new = sources.get(parent), sources.get(candidate.id)
    if old is None or new is None:
        return parent, ""
    return parent, unified_diff(old, new, f"{parent}.py", f"{candidate.id}.py")
