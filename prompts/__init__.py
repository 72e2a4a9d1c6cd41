"""The prompt templates (prompts/*.j2), the only place prompt text lives.

`render(name, **variables)` renders one with StrictUndefined, so a misspelt or missing variable raises instead of
leaving a hole in the prompt. A user's own copies (`--prompts DIR`, `set_prompt_dir(DIR)` or the environment
variable AGENTOPT_PROMPTS) are searched first; a template the directory lacks comes from the built-in set, so a
user may override one file only. Files whose names start with "_" are partials (macros) used by the others.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

BUILTIN_DIR = Path(__file__).parent
PROMPT_DIR_ENV = "AGENTOPT_PROMPTS"
_chosen_dir: Path | None = None


def set_prompt_dir(path: str | Path | None) -> None:
    """Search DIR before the built-in templates (None: the built-in ones only, or AGENTOPT_PROMPTS)."""
    global _chosen_dir
    _chosen_dir = _checked(path) if path else None


def _checked(path: str | Path) -> Path:
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"prompt directory {path} does not exist (copy {BUILTIN_DIR} there to start from "
                                "the built-in prompts)")
    return path


def prompt_dir(explicit: str | Path | None = None) -> Path | None:
    """The user's directory in force: the explicit one, else set_prompt_dir's, else AGENTOPT_PROMPTS, else None."""
    if explicit:
        return _checked(explicit)
    if _chosen_dir is not None:
        return _chosen_dir
    from_env = os.environ.get(PROMPT_DIR_ENV)
    return _checked(from_env) if from_env else None


def _fmt_us(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms * 1000:.1f} us"


def _fmt_pct(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.0f}%"


def _fmt_num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _fmt_sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


@functools.lru_cache(maxsize=8)
def _environment(user_dir: Path | None) -> Environment:
    loaders = [FileSystemLoader(str(user_dir))] if user_dir else []
    env = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(BUILTIN_DIR))]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      autoescape=False)
    env.filters.update(us=_fmt_us, pct=_fmt_pct, num=_fmt_num, sci=_fmt_sci)
    return env


def environment(explicit_dir: str | Path | None = None) -> Environment:
    return _environment(prompt_dir(explicit_dir))


def template_names() -> list[str]:
    """The built-in templates a user may render (partials left out), without the .j2."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.j2") if not p.name.startswith("_"))


def render(name: str, /, *, prompts: str | Path | None = None, **variables: Any) -> str:
    """Render prompts/<name>.j2 (from `prompts`, the user's directory, or the built-in set)."""
    file = name if name.endswith(".j2") else f"{name}.j2"
    text = environment(prompts).get_template(file).render(**variables)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"  # sections left out leave no gaps
