"""A model's reply turned into a candidate's source: a whole file, or SEARCH/REPLACE blocks applied to a parent.

    <<<<<<< SEARCH
    lines of the parent
    =======
    the lines that replace them
    >>>>>>> REPLACE

Each block is matched exactly first, then with trailing spaces ignored (and blank lines around the SEARCH part
dropped), then with indentation ignored, the replacement re-indented by the difference. A SEARCH part must match
one place only. Any block that does not match fails the whole reply, and the error says which block, the closest
lines of the code, and which blocks did apply, so that the next prompt can quote it.
"""
from __future__ import annotations

import ast
import difflib
import re
from typing import Callable, Literal

from pydantic import BaseModel, Field

SEARCH_RE = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$")
DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
REPLACE_RE = re.compile(r"^\s*>{5,9} ?REPLACE\b.*$")
FENCE_RE = re.compile(r"^```[ \t]*(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ENTRY_POINT = "class ModelNew"


class EditBlock(BaseModel):
    index: int  # 1-based, in the reply's order
    search: list[str]
    replace: list[str]


class EditResult(BaseModel):
    source: str | None = None
    error: str | None = None
    mode: Literal["whole", "edits", "none"] = "none"
    blocks: int = 0
    applied: list[int] = Field(default_factory=list)  # blocks applied (1-based)
    loosened: list[int] = Field(default_factory=list)  # blocks that matched only with whitespace ignored


def parse_blocks(reply: str) -> tuple[list[EditBlock], str | None]:
    """The SEARCH/REPLACE blocks of a reply, and an error for a block left unclosed."""
    blocks: list[EditBlock] = []
    lines = reply.splitlines()
    i = 0
    while i < len(lines):
        if not SEARCH_RE.match(lines[i]):
            i += 1
            continue
        index = len(blocks) + 1
        j = i + 1
        while j < len(lines) and not DIVIDER_RE.match(lines[j]):
            j += 1
        k = j + 1
        while k < len(lines) and not REPLACE_RE.match(lines[k]):
            k += 1
        if k >= len(lines):
            return blocks, (f"SEARCH/REPLACE block {index} is not closed: after `<<<<<<< SEARCH` come the lines to "
                            "find, `=======`, the new lines, then `>>>>>>> REPLACE`")
        blocks.append(EditBlock(index=index, search=lines[i + 1:j], replace=lines[j + 1:k]))
        i = k + 1
    return blocks, None


def whole_file(reply: str) -> str | None:
    """The last fenced code block defining ModelNew, or the reply itself if it is bare Python defining it."""
    fenced = [body for _lang, body in FENCE_RE.findall(reply) if ENTRY_POINT in body]
    if fenced:
        return fenced[-1]
    if ENTRY_POINT in reply and "```" not in reply:
        try:
            ast.parse(reply)
        except SyntaxError:
            return None
        return reply
    return None


# ---- matching -----------------------------------------------------------------------------------------------
def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _positions(code: list[str], search: list[str], key: Callable[[str], str]) -> list[int]:
    want, have = [key(s) for s in search], [key(c) for c in code]
    n = len(want)
    return [i for i in range(len(have) - n + 1) if have[i:i + n] == want]


def _reindent(code: list[str], at: int, search: list[str], replace: list[str]) -> list[str] | None:
    """The replacement shifted by the indentation the parent has over the SEARCH lines; None if not uniform."""
    pairs = [(c, s) for c, s in zip(code[at:at + len(search)], search) if s.strip()]
    deltas = {(_indent(c), _indent(s)) for c, s in pairs}
    shifts = {(ci[len(si):] if ci.startswith(si) else None, si[len(ci):] if si.startswith(ci) else None)
              for ci, si in deltas}
    if len(shifts) != 1:
        return None
    add, remove = shifts.pop()
    if add is not None:  # the parent is indented deeper (or the same): add
        return [add + r if r.strip() else r for r in replace]
    if remove is not None:
        return [r[len(remove):] if r.startswith(remove) else r.lstrip() for r in replace]
    return None


LEVELS: list[tuple[str, Callable[[str], str]]] = [
    ("exact", lambda line: line),
    ("trailing spaces ignored", str.rstrip),
    ("indentation ignored", str.strip),
]


def _match(code: list[str], block: EditBlock) -> tuple[list[str] | None, bool, str | None]:
    """(the code with the block applied, whether whitespace was ignored, None) or (None, False, why not)."""
    for level, (name, key) in enumerate(LEVELS):
        search, replace = (block.search, block.replace) if level == 0 else (_trim_blank(block.search), block.replace)
        if not search:
            return None, False, f"SEARCH/REPLACE block {block.index} has an empty SEARCH part"
        found = _positions(code, search, key)
        if len(found) > 1:
            lines = ", ".join(str(i + 1) for i in found[:6])
            return None, False, (f"SEARCH/REPLACE block {block.index} matches {len(found)} places (lines {lines}"
                                 f", {name}): add lines around it so that it matches one place only")
        if found:
            at = found[0]
            if name == "indentation ignored":
                replace = _reindent(code, at, search, replace)
                if replace is None:
                    continue
            return code[:at] + replace + code[at + len(search):], level > 0, None
    return None, False, None


def _closest(code: list[str], search: list[str]) -> str:
    search = _trim_blank(search) or search
    n = max(1, len(search))
    want = "\n".join(s.strip() for s in search)
    best, best_at = 0.0, 0
    for i in range(max(1, len(code) - n + 1)):
        ratio = difflib.SequenceMatcher(None, want, "\n".join(c.strip() for c in code[i:i + n])).ratio()
        if ratio > best:
            best, best_at = ratio, i
    window = code[best_at:best_at + n]
    body = "\n".join(window)
    return f"The closest lines in the code (lines {best_at + 1}-{best_at + len(window)}, {best:.0%} alike):\n{body}"


def apply_blocks(parent: str, blocks: list[EditBlock]) -> EditResult:
    """Apply every block in order; all must match, or the result is an error naming each block that did not."""
    code = parent.splitlines()
    result = EditResult(mode="edits", blocks=len(blocks))
    failures: list[str] = []
    for block in blocks:
        new_code, loosened, why = _match(code, block)
        if new_code is None:
            search = "\n".join(block.search)
            why = why or (f"SEARCH/REPLACE block {block.index} did not match the code, even with whitespace "
                          f"ignored. Its SEARCH part:\n{search}\n{_closest(code, block.search)}")
            failures.append(why)
            continue
        code = new_code
        result.applied.append(block.index)
        if loosened:
            result.loosened.append(block.index)
    if failures:
        applied = ", ".join(map(str, result.applied)) or "none"
        result.error = ("\n\n".join(failures) + f"\n\nBlocks applied: {applied} of {len(blocks)}. Copy SEARCH lines "
                        "exactly from the parent's code, or reply with the whole file.")
        return result
    result.source = "\n".join(code) + "\n"
    return result


def apply_reply(reply: str, parent: str | None = None) -> EditResult:
    """The candidate's source from a reply: edit blocks against the parent, else a whole file, else an error."""
    blocks, unclosed = parse_blocks(reply)
    if unclosed:
        return EditResult(mode="edits", blocks=len(blocks) + 1, error=unclosed)
    if blocks:
        if parent is None:
            return EditResult(mode="edits", blocks=len(blocks), error=(
                "the reply holds SEARCH/REPLACE blocks but there is no parent to edit: reply with the whole file"))
        result = apply_blocks(parent, blocks)
    else:
        source = whole_file(reply)
        if source is None:
            return EditResult(error=("the reply holds no code: no SEARCH/REPLACE blocks and no ```python block "
                                     f"defining `{ENTRY_POINT}`"))
        result = EditResult(mode="whole", source=source)
    if result.source is not None and parent is not None and result.source.strip() == parent.strip():
        result.source, result.error = None, "the reply leaves the parent's code unchanged"
    return result
