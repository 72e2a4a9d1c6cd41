"""Where candidates came from: the chain of parents of one, and the whole family tree laid out for drawing."""
from __future__ import annotations

from dataclasses import dataclass

from agentopt.runs import CandidateRecord


def ancestry(candidate_id: str, by_id: dict[str, CandidateRecord]) -> list[CandidateRecord]:
    """The candidate and its first parents back to a seed, oldest first (a crossover follows its first parent)."""
    chain, seen = [], set()
    current = by_id.get(candidate_id)
    while current is not None and current.id not in seen:
        chain.append(current)
        seen.add(current.id)
        current = by_id.get(current.parents[0]) if current.parents else None
    return chain[::-1]


@dataclass
class Node:
    id: str
    depth: int  # generations from a seed (the longest path through known parents)
    row: int  # position among the nodes of the same depth
    status: str
    score: float


def tree_layout(candidates: list[CandidateRecord]) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes placed by depth (columns) and creation order (rows), and the parent -> child edges between them."""
    by_id = {c.id: c for c in candidates}
    depth: dict[str, int] = {}
    for c in sorted(candidates, key=lambda c: c.created_at):  # parents are created before their children
        known = [depth[p] for p in c.parents if p in depth]
        depth[c.id] = 1 + max(known) if known else 0
    rows: dict[int, int] = {}
    nodes = []
    for c in sorted(candidates, key=lambda c: c.created_at):
        d = depth[c.id]
        nodes.append(Node(id=c.id, depth=d, row=rows.get(d, 0), status=c.status or "pending",
                          score=(c.score or 0.0) if c.ok else 0.0))
        rows[d] = rows.get(d, 0) + 1
    edges = [(p, c.id) for c in candidates for p in c.parents if p in by_id]
    return nodes, edges
