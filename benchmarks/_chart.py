"""The results chart: one bar panel per scenario and one for import times (medians, min–max
whiskers, the target as a dashed line). matplotlib is optional and imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._plan import IMPORTS, SCENARIOS, Scenario
from ._stats import Summary, fmt_num

__all__ = ["write_chart"]

_COLORS = {
    "floor": "#7f7f7f",
    "floor-trio": "#b0b0b0",
    "ritellm": "#d62728",
    "ritellm-trio": "#ff7f0e",
    "ritellm-sync": "#e377c2",
    "aiohttp": "#2ca02c",
    "openai": "#1f77b4",
    "litellm": "#9467bd",
}


def write_chart(summary: Summary, path: Path) -> str | None:
    """Draw one panel per scenario (bars: medians, whiskers: min–max, dashed: the target).

    Returns a message when the chart was skipped (matplotlib not installed).
    """
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return "matplotlib is not installed: chart skipped (pip install matplotlib)"

    panels: list[tuple[Scenario | None, str, dict[str, Any]]] = [
        (sc, f"{sc.title}\n({sc.unit})", summary["scenarios"][sc.key]["clients"])
        for sc in SCENARIOS
        if summary["scenarios"].get(sc.key, {}).get("clients")
    ]
    if summary["imports"]:
        imports = {
            k: {"label": IMPORTS[k], **v} for k, v in summary["imports"].items() if k != "python"
        }
        panels.append((None, 'python -c "import X"\n(ms wall)', imports))
    cols = 4
    rows_n = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.6 * cols, 4.4 * rows_n), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (sc, title, rows) in zip(axes.flat, panels, strict=False):
        keys = [k for k, r in rows.items() if "median" in r]
        medians = [rows[k]["median"] for k in keys]
        lows = [rows[k]["median"] - rows[k]["min"] for k in keys]
        highs = [rows[k]["max"] - rows[k]["median"] for k in keys]
        labels = [k if sc is not None else IMPORTS[k].replace("import ", "") for k in keys]
        ax.bar(
            range(len(keys)),
            medians,
            yerr=[lows, highs],
            color=[_COLORS.get(k, "#17becf") for k in keys],
            capsize=3,
        )
        ax.set_xticks(range(len(keys)), labels, rotation=40, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        if medians and min(medians) > 0 and max(medians) / min(medians) > 20:
            ax.set_yscale("log")
        floor = rows.get("floor", {}).get("median")
        if sc is not None and sc.target is not None and floor:
            ax.axhline(floor * sc.target, color="#d62728", ls="--", lw=1)
            ax.text(
                0.02,
                0.97,
                f"target {sc.target}× floor",
                transform=ax.transAxes,
                fontsize=7,
                va="top",
                color="#d62728",
            )
        if sc is None:
            ax.axhline(120, color="#d62728", ls="--", lw=1)
            ax.text(
                0.02,
                0.97,
                "target 120 ms (ritellm)",
                transform=ax.transAxes,
                fontsize=7,
                va="top",
                color="#d62728",
            )
        for i, (m, k) in enumerate(zip(medians, keys, strict=True)):
            # Above the whisker, so the label never sits on the min–max bar.
            ax.text(i, rows[k]["max"], fmt_num(m), ha="center", va="bottom", fontsize=7)
    fig.suptitle(
        "ritellm vs the httpcore floor and other clients (client-process CPU; lower is better)",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
