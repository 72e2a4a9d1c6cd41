"""What an LLM call costs: US dollars per million input and output tokens, by model name.

The built-in table holds list prices of common models (they change: check your provider's page); a JSON file
(`LLMConfig.price_file`, `{"model": {"input": 2.5, "output": 10.0}}`) adds models or overrides these. A model is
matched by its longest prefix in the table, after any provider prefix ("openai/gpt-4o" -> "gpt-4o"), so dated
names ("gpt-4o-2024-08-06") find their family. An unknown model costs 0, with a note saying so.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel


class Price(BaseModel):
    input: float  # USD per 1M prompt tokens
    output: float  # USD per 1M completion tokens


# List prices per 1M tokens (input, output), mid-2025.
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}


class PriceTable:
    def __init__(self, price_file: str | Path | None = None):
        self.prices = {name: Price(input=i, output=o) for name, (i, o) in BUILTIN_PRICES.items()}
        if price_file:
            data = json.loads(Path(price_file).read_text())
            self.prices.update({name: Price(**entry) for name, entry in data.items()})

    def price(self, model: str) -> Price | None:
        name = model.rsplit("/", 1)[-1].lower()
        matches = [key for key in self.prices if name.startswith(key.lower())]
        return self.prices[max(matches, key=len)] if matches else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float, str | None]:
        """(USD, None), or (0.0, a note) for a model the table does not know."""
        price = self.price(model)
        if price is None:
            return 0.0, (f"no price known for model {model!r}: its calls count as $0 (add it with a price file, "
                         '{"' + model + '": {"input": USD per 1M tokens, "output": USD per 1M tokens}})')
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6, None
