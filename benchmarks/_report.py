"""Turn raw measurements into the summary: medians, min–max, ratios to the floor measured in
the same run, the issue's targets, a terminal table, ``latest.json`` and a PNG chart.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ._plan import CLIENTS, IMPORTS, SCENARIOS, Scenario

__all__ = ["format_markdown", "format_report", "summarize", "write_chart"]

Summary = dict[str, Any]


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _paired(
    runs: list[dict[str, Any]], scenario: str, num: str, den: str, diff: bool = False
) -> dict[str, float] | None:
    """Median over rounds of (num / den), or (num − den) with ``diff``, each pair measured in
    the same round: both ran seconds apart, so slow drifts of this (virtual) machine's speed
    cancel out, which a ratio of two medians taken over the whole run would not do."""
    by_round: dict[int, dict[str, float]] = {}
    for r in runs:
        if r["scenario"] == scenario and r.get("ok") and r["client"] in (num, den):
            by_round.setdefault(r["round"], {})[r["client"]] = r["metric"]
    values = [
        (v[num] - v[den]) if diff else v[num] / v[den]
        for v in by_round.values()
        if num in v and den in v and (diff or v[den])
    ]
    return _stats(values) if values else None


def summarize(runs: list[dict[str, Any]], imports: dict[str, list[float]]) -> Summary:
    """Group runs by scenario and client; ratios are to the asyncio floor, paired by round."""
    scenarios: dict[str, Any] = {}
    for sc in SCENARIOS:
        rows: dict[str, Any] = {}
        for key in CLIENTS:
            mine = [r for r in runs if r["scenario"] == sc.key and r["client"] == key]
            ok = [r for r in mine if r.get("ok")]
            if not mine:
                continue
            row: dict[str, Any] = {
                "label": CLIENTS[key].label,
                "n": mine[0]["n"],
                "repeat": mine[0]["repeat"],
                "runs": len(ok),
                "failed": len(mine) - len(ok),
                "values": [r["metric"] for r in ok],
            }
            if ok:
                row.update(_stats(row["values"]))
                row["server_util_max"] = max(r.get("server_util", 0.0) for r in ok)
                row["wakeups_per_item"] = statistics.median(r.get("wakeups", 0.0) for r in ok)
                row["server_us_per_item"] = statistics.median(
                    r.get("server_us_per_item", 0.0) for r in ok
                )
                row["user_values"] = [r["user_s"] / r["items"] * 1e6 for r in ok]
                row["user_median"] = statistics.median(row["user_values"])
                if sc.kind == "ttfb":
                    pooled = sorted(s for r in ok for s in r["samples_us"])
                    row["p90"] = pooled[int(len(pooled) * 0.9)]
                if sc.kind == "rss":
                    row["maxrss_mib"] = statistics.median(r["maxrss_kib"] / 1024 for r in ok)
                    row["open_mib"] = statistics.median(
                        (r["rss_open_kib"] - r["rss_base_kib"]) / 1024 for r in ok
                    )
            rows[key] = row
        floor = rows.get("floor", {}).get("median")
        for key, row in rows.items():
            paired = _paired(runs, sc.key, key, "floor")
            if floor and "median" in row and paired is not None:
                row["ratio"] = paired["median"]
                row["ratio_min"], row["ratio_max"] = paired["min"], paired["max"]
                row["ratio_of_medians"] = row["median"] / floor
        scenarios[sc.key] = {
            "title": sc.title,
            "unit": sc.unit,
            "concurrency": sc.concurrency,
            "target": sc.target,
            "anchors": sc.anchors,
            "clients": rows,
        }
    import_rows = {
        name: {"statement": IMPORTS[name], "values": values, **_stats(values)}
        for name, values in imports.items()
        if values
    }
    # The same round's `import httpcore` is the yardstick: the anchors put it at 166–186 ms,
    # and a ratio survives this virtual machine getting faster or slower during the day.
    floor_imports = imports.get("floor", [])
    for name, values in imports.items():
        pairs = list(zip(values, floor_imports, strict=False))
        if pairs and name != "python" and name in import_rows:
            row = import_rows[name]
            ratios = [v / f for v, f in pairs]
            row["ratio"] = statistics.median(ratios)
            row["ratio_min"], row["ratio_max"] = min(ratios), max(ratios)
    summary: Summary = {"scenarios": scenarios, "imports": import_rows}
    ok = [r for r in runs if r.get("ok")]
    summary["machine"] = {
        "server_util_max": max((r.get("server_util", 0.0) for r in ok), default=0.0),
        "foreign_load_max": max((r.get("foreign_load", 0.0) for r in ok), default=0.0),
        "retried": sum(1 for r in ok if r.get("attempts", 1) > 1),
        "disturbed": sum(1 for r in ok if r.get("disturbed")),
    }
    summary["targets"] = _targets(runs, summary)
    return summary


def _targets(runs: list[dict[str, Any]], summary: Summary) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, scenario: str, num: str, den: str, limit: float, diff: bool = False) -> None:
        paired = _paired(runs, scenario, num, den, diff)
        if paired is None:
            return
        value = paired["median"]
        out.append(
            {
                "target": name,
                "value": value,
                "min": paired["min"],
                "max": paired["max"],
                "limit": limit,
                "met": value <= limit,
                "kind": "µs" if diff else "ratio",
            }
        )

    for sc in SCENARIOS:
        if sc.target is not None:
            add(f"{sc.key}: ritellm / floor", sc.key, "ritellm", "floor", sc.target)
    for key, limit in (("seq", 1.15), ("stream", 1.3), ("drip", 1.3)):
        add(f"{key}: ritellm.completion (sync) / async", key, "ritellm-sync", "ritellm", limit)
    for sc in SCENARIOS:
        add(f"{sc.key}: ritellm trio / ritellm asyncio", sc.key, "ritellm-trio", "ritellm", 1.2)
    for client, floor in (
        ("ritellm", "floor"),
        ("ritellm-trio", "floor-trio"),
        ("ritellm-sync", "floor"),
    ):
        add(f"ttfb: {client} − {floor} (µs)", "ttfb", client, floor, 500.0, diff=True)
    imp = summary["imports"].get("ritellm")
    if imp:
        if "ratio" in imp:
            # 120 ms against the anchors' 166–186 ms for `import httpcore` (midpoint 176).
            limit = 120 / 176
            out.append(
                {
                    "target": "import ritellm / import httpcore (same round)",
                    "value": imp["ratio"],
                    "min": imp["ratio_min"],
                    "max": imp["ratio_max"],
                    "limit": limit,
                    "met": imp["ratio"] <= limit,
                    "kind": "ratio",
                }
            )
        out.append(
            {
                "target": 'python -c "import ritellm" (ms wall)',
                "value": imp["median"],
                "min": imp["min"],
                "max": imp["max"],
                "limit": 120.0,
                "met": imp["median"] <= 120.0,
                "kind": "ms",
            }
        )
    return out


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _git(meta: dict[str, Any]) -> str:
    """The commit measured; HEAD may move during a long run without touching ritellm/."""
    git = str(meta.get("git", "?"))
    if len(meta.get("ritellm_digests", [])) == 1 and " → " in git:
        return git.split(" → ")[0] + " (ritellm/ unchanged during the run)"
    return git


def format_report(summary: Summary, meta: dict[str, Any]) -> str:
    """The terminal table, then the targets."""
    lines = [
        f"ritellm benchmarks — {meta['rounds']} round(s), server: {meta['server']}, "
        f"Python {meta['python']}, {meta['cpus']} CPUs, ritellm at {_git(meta)}"
        + (" (QUICK: smaller N, not comparable with the anchors)" if meta.get("quick") else ""),
        "",
    ]
    if meta.get("note"):
        lines.append(f"({meta['note']})")
        lines.append("")
    if len(meta.get("ritellm_digests", [])) > 1:
        lines.append(
            "WARNING: ritellm's source changed during this run (several versions measured)"
        )
        lines.append("")
    lines.append(
        "× floor: median over rounds of (client / asyncio floor measured in the same round)"
    )
    lines.append("")
    header = f"  {'client':<28}{'N':>8}{'median':>10}{'min–max':>20}{'× floor':>9}  notes"
    for sc in SCENARIOS:
        block = summary["scenarios"].get(sc.key)
        if not block or not block["clients"]:
            continue
        lines.append(f"{sc.title} — {sc.unit}")
        lines.append(header)
        for key, row in block["clients"].items():
            size = f"{row['n']:,}" + (f"×{row['repeat']}" if row["repeat"] > 1 else "")
            if sc.concurrency > 1 and sc.kind == "streams":
                size = f"{sc.concurrency}×{size}"
            if "median" not in row:
                lines.append(f"  {row['label']:<28}{size:>8}{'FAILED':>10}")
                continue
            spread = f"{_num(row['min'])}–{_num(row['max'])}"
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            notes = []
            if sc.anchors.get(key):
                notes.append(f"anchor {sc.anchors[key]}")
            if sc.kind == "ttfb":
                notes.append(f"p90 {_num(row['p90'])}")
            if sc.kind == "rss":
                notes.append(
                    f"peak RSS {row['maxrss_mib']:.1f} MiB (+{row['open_mib']:.1f} MiB open)"
                )
            if sc.kind == "drip":
                notes.append(
                    f"user {_num(row['user_median'])}; {row['wakeups_per_item']:.2f} wakeups/chunk"
                )
            if row["server_util_max"] > 0.8:
                notes.append(f"SERVER BUSY {row['server_util_max']:.0%}")
            if row["failed"]:
                notes.append(f"{row['failed']} FAILED")
            if row["n"] != block["clients"].get("floor", row)["n"]:
                notes.append("smaller N (slow)")
            lines.append(
                f"  {row['label']:<28}{size:>8}{_num(row['median']):>10}{spread:>20}"
                f"{ratio:>9}  {'; '.join(notes)}"
            )
        lines.append("")
    if summary["imports"]:
        lines.append('python -c "<statement>" — ms wall, fresh process (× import httpcore)')
        for row in summary["imports"].values():
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            lines.append(
                f"  {row['statement']:<28}{'':>8}{_num(row['median']):>10}"
                f"{_num(row['min']) + '–' + _num(row['max']):>20}{ratio:>9}"
            )
        lines.append("")
    busiest = max(
        (
            (row.get("server_util_max", 0.0), key, sc_key)
            for sc_key, block in summary["scenarios"].items()
            for key, row in block["clients"].items()
        ),
        default=None,
    )
    if busiest is not None:
        lines.append(
            f"server: busiest during any timed section {busiest[0]:.0%} of wall time "
            f"({busiest[2]}, {busiest[1]}); 100% would mean the server was the bottleneck"
        )
    machine = summary.get("machine")
    if machine:
        lines.append(
            "other load on the machine during timed sections: max "
            f"{machine['foreign_load_max']:.2f} cores; "
            f"{machine['retried']} measurement(s) repeated because of it, "
            f"{machine['disturbed']} still disturbed after retries"
        )
    lines.append("")
    lines.append("targets")
    for t in summary["targets"]:
        is_ratio = t["kind"] == "ratio"
        fmt = f"{t['value']:.2f}×" if is_ratio else f"{t['value']:,.0f}"
        limit = f"{t['limit']:.2f}×" if is_ratio else f"{t['limit']:,.0f}"
        spread = ""
        if "min" in t:
            spread = (
                f"{t['min']:.2f}–{t['max']:.2f}" if is_ratio else f"{t['min']:,.0f}–{t['max']:,.0f}"
            )
        lines.append(
            f"  {'met ' if t['met'] else 'MISS'}  {t['target']:<46}{fmt:>9}  (≤ {limit:<6})"
            f"  rounds: {spread}"
        )
    return "\n".join(lines)


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
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
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
            ax.text(i, rows[k]["max"], _num(m), ha="center", va="bottom", fontsize=7)
    fig.suptitle(
        "ritellm vs the httpcore floor and other clients (client-process CPU; lower is better)",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def format_markdown(summary: Summary, meta: dict[str, Any]) -> str:
    """The results as Markdown tables (for docs/benchmarks.md)."""
    out = [
        f"Run: {meta['date']}, {meta['rounds']} rounds, ritellm at `{_git(meta)}`, "
        f"Python {meta['python']}, {meta['cpus']} CPUs, server: {meta['server']}"
        + (f" ({meta['note']})." if meta.get("note") else "."),
        "",
    ]
    for sc in SCENARIOS:
        block = summary["scenarios"].get(sc.key)
        if not block or not block["clients"]:
            continue
        out += [
            f"**{sc.title}** ({sc.unit})",
            "",
            "| client | N | median | min–max | × floor | anchor |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, row in block["clients"].items():
            if "median" not in row:
                out.append(f"| {row['label']} | | FAILED | | | |")
                continue
            size = f"{row['n']:,}" + (f"×{row['repeat']}" if row["repeat"] > 1 else "")
            if sc.kind == "streams":
                size = f"{sc.concurrency}×{size}"
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            out.append(
                f"| {row['label']} | {size} | {_num(row['median'])} | "
                f"{_num(row['min'])}–{_num(row['max'])} | {ratio} | {sc.anchors.get(key, '')} |"
            )
        out.append("")
    if summary["imports"]:
        out += [
            '**python -c "import X"** (ms wall, fresh process)',
            "",
            "| statement | median | min–max | × import httpcore |",
            "|---|---:|---:|---:|",
        ]
        for row in summary["imports"].values():
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            out.append(
                f"| `{row['statement']}` | {_num(row['median'])} | "
                f"{_num(row['min'])}–{_num(row['max'])} | {ratio} |"
            )
        out.append("")
    out += ["| target | this run | limit | rounds | |", "|---|---:|---:|---:|---|"]
    for t in summary["targets"]:
        is_ratio = t["kind"] == "ratio"
        value = f"{t['value']:.2f}×" if is_ratio else f"{t['value']:,.0f}"
        limit = f"{t['limit']:.2f}×" if is_ratio else f"{t['limit']:,.0f}"
        spread = ""
        if "min" in t:
            spread = (
                f"{t['min']:.2f}–{t['max']:.2f}" if is_ratio else f"{t['min']:,.0f}–{t['max']:,.0f}"
            )
        verdict = "met" if t["met"] else "**missed**"
        out.append(f"| {t['target']} | {value} | ≤ {limit} | {spread} | {verdict} |")
    return "\n".join(out) + "\n"
