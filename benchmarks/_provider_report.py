"""The wire-format comparison of one run: ritellm's CPU per chunk on Anthropic's, Gemini's,
Ollama's and Bedrock's streams against its own OpenAI stream (the "stream" scenario) and
against each format's official SDK, with the issues' targets. Every ratio pairs two
measurements of the same round.
"""

from __future__ import annotations

from typing import Any

from ._plan import CLIENTS, SCENARIOS, SDKS
from ._stats import fmt_num, paired

__all__ = ["format_provider_table", "provider_markdown", "provider_rows", "provider_targets"]

Row = dict[str, Any]
_WIRE_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "ollama": "Ollama",
    "bedrock": "Bedrock",
}
_COLUMNS = ("floor", "ritellm", "ritellm-trio", "sdk")


def provider_rows(runs: list[dict[str, Any]], scenarios: dict[str, Any]) -> list[Row]:
    """One row per wire format measured: the baseline scenario (OpenAI) first, then each
    scenario that names it as its baseline.

    Args:
        runs: the run records.
        scenarios: ``summary["scenarios"]`` (medians per client).

    Returns:
        rows with the medians (µs/chunk) of the floor, ritellm on asyncio and trio and the
        format's official SDK, and the paired ratios: ``vs_openai`` (ritellm / ritellm on the
        baseline), ``trio_vs_openai``, ``sdk_ratio`` (SDK / ritellm) and ``x_floor``.
    """
    baselines = {sc.baseline for sc in SCENARIOS if sc.baseline}
    rows: list[Row] = []
    for sc in SCENARIOS:
        clients = scenarios.get(sc.key, {}).get("clients", {})
        if (sc.baseline is None and sc.key not in baselines) or not clients:
            continue
        base = sc.baseline or sc.key
        sdk = SDKS[sc.wire]
        keys = {"floor": "floor", "ritellm": "ritellm", "ritellm-trio": "ritellm-trio", "sdk": sdk}
        row: Row = {
            "scenario": sc.key,
            "format": _WIRE_NAMES[sc.wire],
            "baseline": base,
            "sdk": sdk,
            "sdk_label": CLIENTS[sdk].label,
            "medians": {
                col: clients[key]["median"]
                for col, key in keys.items()
                if "median" in clients.get(key, {})
            },
        }
        ratios = {
            "vs_openai": paired(runs, sc.key, "ritellm", "ritellm", den_scenario=base),
            "trio_vs_openai": paired(
                runs, sc.key, "ritellm-trio", "ritellm-trio", den_scenario=base
            ),
            "sdk_ratio": paired(runs, sc.key, sdk, "ritellm"),
            "x_floor": paired(runs, sc.key, "ritellm", "floor"),
        }
        row.update({name: value for name, value in ratios.items() if value is not None})
        rows.append(row)
    return rows


def provider_targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues' targets for the other formats' streams: ritellm ≤ ``baseline_target`` ×
    ritellm on the OpenAI stream, and the official SDK ≥ ``sdk_factor`` × ritellm (where a
    scenario sets one: not Ollama, whose SDK ratio is reported without a target)."""
    out: list[dict[str, Any]] = []

    def add(name: str, pair: dict[str, float] | None, limit: float, at_least: bool) -> None:
        if pair is None:
            return
        value = pair["median"]
        out.append(
            {
                "target": name,
                "value": value,
                "min": pair["min"],
                "max": pair["max"],
                "limit": limit,
                "op": "≥" if at_least else "≤",
                "met": value >= limit if at_least else value <= limit,
                "kind": "ratio",
            }
        )

    for sc in SCENARIOS:
        if sc.baseline is not None and sc.baseline_target is not None:
            pair = paired(runs, sc.key, "ritellm", "ritellm", den_scenario=sc.baseline)
            add(
                f"{sc.key}: ritellm / ritellm OpenAI ({sc.baseline})",
                pair,
                sc.baseline_target,
                False,
            )
        if sc.sdk_factor is not None:
            sdk = SDKS[sc.wire]
            add(
                f"{sc.key}: {sdk} SDK / ritellm",
                paired(runs, sc.key, sdk, "ritellm"),
                sc.sdk_factor,
                True,
            )
    return out


def _ratio(row: Row, name: str) -> str:
    return f"{row[name]['median']:.2f}" if name in row else ""


def _cells(row: Row) -> list[str]:
    medians = row["medians"]
    return [
        row["format"] + f" ({row['scenario']})",
        *(fmt_num(medians[col]) if col in medians else "" for col in _COLUMNS),
        row["sdk_label"],
        _ratio(row, "vs_openai"),
        _ratio(row, "trio_vs_openai"),
        _ratio(row, "sdk_ratio"),
        _ratio(row, "x_floor"),
    ]


_HEADERS = (
    "format (scenario)",
    "floor",
    "ritellm",
    "ritellm trio",
    "SDK",
    "official SDK",
    "ritellm ÷ ritellm OpenAI",
    "trio ÷ trio OpenAI",
    "SDK ÷ ritellm",
    "ritellm × floor",
)


def format_provider_table(rows: list[Row]) -> list[str]:
    """The comparison as terminal lines (none when no format scenario ran)."""
    if not rows:
        return []
    table = [list(_HEADERS), *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADERS))]
    lines = [
        "wire formats: one stream, large reads — µs CPU/chunk; ratios: median over rounds of "
        "same-round pairs"
    ]
    for line in table:
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(w) if i in (0, 5) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    lines.append("")
    return lines


def provider_markdown(rows: list[Row]) -> list[str]:
    """The comparison as a Markdown table (none when no format scenario ran)."""
    if not rows:
        return []
    out = [
        "**wire formats: one stream, large reads** (µs CPU/chunk; ratios are medians over "
        "rounds of same-round pairs)",
        "",
        "| " + " | ".join(_HEADERS) + " |",
        "|---|" + "---:|" * 4 + "---|" + "---:|" * 4,
    ]
    out += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    out.append("")
    return out
