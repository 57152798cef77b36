"""Small numeric helpers shared by the report modules: median/min/max, ratios paired by
round, and number formatting. Pure: standard library only.
"""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["Summary", "fmt_num", "paired", "stats"]

Summary = dict[str, Any]


def stats(values: list[float]) -> dict[str, float]:
    """Median, min and max of a non-empty list."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def paired(
    runs: list[dict[str, Any]],
    scenario: str,
    num: str,
    den: str,
    diff: bool = False,
    den_scenario: str | None = None,
) -> dict[str, float] | None:
    """Median over rounds of (num / den), or (num − den) with ``diff``, each pair measured in
    the same round: both ran seconds apart, so slow drifts of this (virtual) machine's speed
    cancel out, which a ratio of two medians taken over the whole run would not do.

    Args:
        runs: the run records.
        scenario: the scenario of ``num`` (and of ``den`` unless ``den_scenario`` is given).
        num: the numerator's client key.
        den: the denominator's client key.
        diff: a difference instead of a ratio.
        den_scenario: the denominator's scenario, when it is another one (ritellm on an
            Anthropic stream against ritellm on the OpenAI stream of the same round).

    Returns:
        median/min/max over the rounds that measured both, or None when none did.
    """
    num_key, den_key = (scenario, num), (den_scenario or scenario, den)
    by_round: dict[int, dict[tuple[str, str], float]] = {}
    for r in runs:
        key = (r["scenario"], r["client"])
        if key in (num_key, den_key) and r.get("ok"):
            by_round.setdefault(r["round"], {})[key] = r["metric"]
    values = [
        (v[num_key] - v[den_key]) if diff else v[num_key] / v[den_key]
        for v in by_round.values()
        if num_key in v and den_key in v and (diff or v[den_key])
    ]
    return stats(values) if values else None


def fmt_num(value: float) -> str:
    """A value with three significant-ish digits (1,234 / 12.3 / 1.23)."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
