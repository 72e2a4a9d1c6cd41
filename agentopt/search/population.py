"""The population: islands of evaluated candidates, elitism, MAP-Elites cells, migration, parent selection, and the
normalised source hash that drops duplicates.

A member's cell is (family, regime): its family is its template (or its coder, for LLM code), its regime is the
shape on which it does best against eager. Each cell keeps its best member by the speedup on that shape, so a
kernel that wins only on small shapes survives beside one that wins on large ones, even with a lower overall
score. Each island keeps its top members by score (the elite) and its cells; failures are kept a while so the LLM
coder can fix them.
"""
from __future__ import annotations

import hashlib
import io
import random
import tokenize
from dataclasses import dataclass, field
from typing import Any

from agentopt.problems import shape_label


def normalise_source(source: str) -> str:
    """The source without comments, blank lines and trailing whitespace: two sources that differ only there are
    the same candidate. Comments are found by Python's tokenizer (a `#` inside a string stays); a source that does
    not tokenize loses only its whole-line comments."""
    lines = source.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        lines = [line for line in lines if not line.lstrip().startswith("#")]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def source_hash(source: str) -> str:
    return hashlib.sha256(normalise_source(source).encode()).hexdigest()[:16]


@dataclass
class Member:
    """An evaluated candidate as the population keeps it."""
    id: str
    source: str
    coder: str
    evaluation: dict[str, Any] | None
    template: str | None = None
    params: dict[str, Any] | None = None
    island: int = 0
    status: str | None = None
    score: float = 0.0
    fixed: bool = False  # a fix was already asked for (failures only)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def family(self) -> str:
        return self.template or self.coder.split(":")[0]

    def speedups(self) -> dict[str, float]:
        """Shape label -> baseline / candidate time, for the shapes that were timed."""
        return {shape_label(s["shape"]): s["speedup"] for s in (self.evaluation or {}).get("shapes", [])
                if s.get("speedup")}

    def fractions_of_floor(self) -> dict[str, float]:
        return {shape_label(s["shape"]): s["fraction_of_floor"] for s in (self.evaluation or {}).get("shapes", [])
                if s.get("fraction_of_floor")}

    def cell(self) -> tuple[str, str] | None:
        sp = self.speedups()
        return (self.family, max(sp, key=sp.get)) if sp else None


@dataclass
class Island:
    elite: list[Member] = field(default_factory=list)  # best first, at most elite_size
    cells: dict[tuple[str, str], Member] = field(default_factory=dict)
    failures: list[Member] = field(default_factory=list)  # most recent last, at most keep_failures


class Population:
    def __init__(self, islands: int = 2, elite_size: int = 4, explore_fraction: float = 0.2,
                 keep_failures: int = 8, rng: random.Random | None = None):
        self.islands = [Island() for _ in range(max(1, islands))]
        self.elite_size = elite_size
        self.explore_fraction = explore_fraction
        self.keep_failures = keep_failures
        self.rng = rng or random.Random(0)
        self.hashes: set[str] = set()
        self.best: Member | None = None
        self.best_per_shape: dict[str, Member] = {}

    # ---- duplicates -----------------------------------------------------------------------------------------
    def seen(self, source: str) -> bool:
        return source_hash(source) in self.hashes

    def remember(self, source: str) -> str:
        """Mark a source as taken (before it is evaluated, so that concurrent steps do not race); its hash."""
        h = source_hash(source)
        self.hashes.add(h)
        return h

    # ---- adding ---------------------------------------------------------------------------------------------
    def add(self, m: Member) -> dict[str, Any]:
        """Put an evaluated member on its island. Returns what changed: {"best": bool, "shapes": [labels where it
        is now the best]}."""
        self.remember(m.source)
        island = self.islands[m.island % len(self.islands)]
        if not m.ok:
            if m.status in ("compile_error", "incorrect") and m.source:
                island.failures = (island.failures + [m])[-self.keep_failures:]
            return {"best": False, "shapes": []}
        self._place(island, m)
        new_best = self.best is None or m.score > self.best.score
        if new_best:
            self.best = m
        won = [label for label, sp in m.speedups().items()
               if label not in self.best_per_shape or sp > self.best_per_shape[label].speedups().get(label, 0.0)]
        for label in won:
            self.best_per_shape[label] = m
        return {"best": new_best, "shapes": won}

    def _place(self, island: Island, m: Member) -> None:
        if all(e.id != m.id for e in island.elite):
            island.elite = sorted(island.elite + [m], key=lambda e: e.score, reverse=True)[:self.elite_size]
        cell = m.cell()
        if cell is not None:
            holder = island.cells.get(cell)
            if holder is None or m.speedups()[cell[1]] > holder.speedups().get(cell[1], 0.0):
                island.cells[cell] = m

    # ---- selection ------------------------------------------------------------------------------------------
    def members(self, island: int | None = None) -> list[Member]:
        isles = self.islands if island is None else [self.islands[island % len(self.islands)]]
        seen: dict[str, Member] = {}
        for isl in isles:
            for m in isl.elite + list(isl.cells.values()):
                seen.setdefault(m.id, m)
        return sorted(seen.values(), key=lambda m: m.score, reverse=True)

    def select_parent(self, island: int, family: str | None = None, exclude: set[str] | None = None
                      ) -> Member | None:
        """By score (a tournament of two among the island's elite), or, with explore_fraction's chance, the holder
        of a random MAP-Elites cell. `family` restricts to members of one kind (e.g. template candidates)."""
        isl = self.islands[island % len(self.islands)]
        exclude = exclude or set()

        def fits(m: Member) -> bool:
            return m.id not in exclude and (family is None or (m.template is not None) == (family == "template"))

        cells = [m for m in isl.cells.values() if fits(m)]
        elite = [m for m in isl.elite if fits(m)] or [m for m in self.members() if fits(m)]
        if cells and self.rng.random() < self.explore_fraction:
            return self.rng.choice(cells)
        if not elite:
            return None
        a, b = self.rng.choice(elite), self.rng.choice(elite)
        return a if a.score >= b.score else b

    def inspirations(self, island: int, k: int, exclude: set[str]) -> list[Member]:
        """A few other good candidates: the best of other cells first (diverse), then the elite."""
        pool = [m for m in self.members(island) if m.id not in exclude]
        by_cell: dict[Any, Member] = {}
        for m in pool:
            by_cell.setdefault(m.cell(), m)
        picked = list(by_cell.values())[:k]
        return picked + [m for m in pool if m not in picked][:k - len(picked)]

    def take_failure(self, island: int) -> Member | None:
        """The most recent failure not yet sent to be fixed, marked as taken."""
        for m in reversed(self.islands[island % len(self.islands)].failures):
            if not m.fixed:
                m.fixed = True
                return m
        return None

    # ---- migration ------------------------------------------------------------------------------------------
    def migrate(self) -> list[tuple[str, int, int]]:
        """Each island's best goes to the next island (a ring). Returns (member id, from, to) for each move."""
        if len(self.islands) < 2:
            return []
        moves = []
        bests = [isl.elite[0] if isl.elite else None for isl in self.islands]
        for i, m in enumerate(bests):
            if m is None:
                continue
            j = (i + 1) % len(self.islands)
            if all(e.id != m.id for e in self.islands[j].elite):
                self._place(self.islands[j], m)
                moves.append((m.id, i, j))
        return moves
