"""What a call cost, for the audit log: USD per million tokens, from LLM_PRICE_INPUT_PER_MTOK
/ LLM_PRICE_OUTPUT_PER_MTOK when set, else the list prices of a few OpenAI models (as
published when this was written; set the variables for any other model or server)."""

from __future__ import annotations

# model prefix -> (input, output) USD per 1M tokens
LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


def price_of(model: str) -> tuple[float, float] | None:
    """The longest listed prefix of `model` (so dated snapshots find their family)."""
    for prefix in sorted(LIST_PRICES, key=len, reverse=True):
        if model.startswith(prefix):
            return LIST_PRICES[prefix]
    return None


def cost_usd(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    override: tuple[float | None, float | None] = (None, None),
) -> float | None:
    listed = price_of(model)
    inp = override[0] if override[0] is not None else (listed[0] if listed else None)
    out = override[1] if override[1] is not None else (listed[1] if listed else None)
    if inp is None or out is None:
        return None
    return round((prompt_tokens * inp + completion_tokens * out) / 1_000_000, 9)
