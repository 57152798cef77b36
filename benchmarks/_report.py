"""Turn raw measurements into the summary: medians, min–max, ratios to the floor measured in
the same run, the issue's targets, the terminal table and the Markdown tables (the provider
format comparison is ``_provider_report``'s, the chart ``_chart``'s).
"""

from __future__ import annotations

import statistics
from typing import Any

from ._plan import CLIENTS, IMPORTS, SCENARIOS
from ._provider_report import (
    format_provider_table,
    provider_markdown,
    provider_rows,
    provider_targets,
)
from ._stats import Summary, fmt_num, paired, stats

__all__ = ["format_markdown", "format_report", "summarize"]


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
                row.update(stats(row["values"]))
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
            pair = paired(runs, sc.key, key, "floor")
            if floor and "median" in row and pair is not None:
                row["ratio"] = pair["median"]
                row["ratio_min"], row["ratio_max"] = pair["min"], pair["max"]
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
        name: {"statement": IMPORTS[name], "values": values, **stats(values)}
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
    summary["providers"] = provider_rows(runs, scenarios)
    summary["targets"] = _targets(runs, summary)
    return summary


def _targets(runs: list[dict[str, Any]], summary: Summary) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, scenario: str, num: str, den: str, limit: float, diff: bool = False) -> None:
        pair = paired(runs, scenario, num, den, diff)
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
    out.extend(provider_targets(runs))
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
            spread = f"{fmt_num(row['min'])}–{fmt_num(row['max'])}"
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            notes = []
            if sc.anchors.get(key):
                notes.append(f"anchor {sc.anchors[key]}")
            if sc.kind == "ttfb":
                notes.append(f"p90 {fmt_num(row['p90'])}")
            if sc.kind == "rss":
                notes.append(
                    f"peak RSS {row['maxrss_mib']:.1f} MiB (+{row['open_mib']:.1f} MiB open)"
                )
            if sc.kind == "drip":
                notes.append(
                    f"user {fmt_num(row['user_median'])}; "
                    f"{row['wakeups_per_item']:.2f} wakeups/chunk"
                )
            if row["server_util_max"] > 0.8:
                notes.append(f"SERVER BUSY {row['server_util_max']:.0%}")
            if row["failed"]:
                notes.append(f"{row['failed']} FAILED")
            if row["n"] != block["clients"].get("floor", row)["n"]:
                notes.append("smaller N (slow)")
            lines.append(
                f"  {row['label']:<28}{size:>8}{fmt_num(row['median']):>10}{spread:>20}"
                f"{ratio:>9}  {'; '.join(notes)}"
            )
        lines.append("")
    if summary["imports"]:
        lines.append('python -c "<statement>" — ms wall, fresh process (× import httpcore)')
        for row in summary["imports"].values():
            ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
            lines.append(
                f"  {row['statement']:<28}{'':>8}{fmt_num(row['median']):>10}"
                f"{fmt_num(row['min']) + '–' + fmt_num(row['max']):>20}{ratio:>9}"
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
    lines += format_provider_table(summary.get("providers", []))
    lines.append("targets")
    for t in summary["targets"]:
        value, limit, spread = _target_cells(t)
        lines.append(
            f"  {'met ' if t['met'] else 'MISS'}  {t['target']:<50}{value:>9}  ({limit:<8})"
            f"  rounds: {spread}"
        )
    return "\n".join(lines)


def _target_cells(t: dict[str, Any]) -> tuple[str, str, str]:
    """(value, "≤ limit" or "≥ limit", min–max over rounds) of a target, formatted."""
    is_ratio = t["kind"] == "ratio"
    value = f"{t['value']:.2f}×" if is_ratio else f"{t['value']:,.0f}"
    limit = f"{t['limit']:.2f}×" if is_ratio else f"{t['limit']:,.0f}"
    spread = ""
    if "min" in t:
        spread = (
            f"{t['min']:.2f}–{t['max']:.2f}" if is_ratio else f"{t['min']:,.0f}–{t['max']:,.0f}"
        )
    return value, f"{t.get('op', '≤')} {limit}", spread


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
                f"| {row['label']} | {size} | {fmt_num(row['median'])} | "
                f"{fmt_num(row['min'])}–{fmt_num(row['max'])} | {ratio} | "
                f"{sc.anchors.get(key, '')} |"
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
                f"| `{row['statement']}` | {fmt_num(row['median'])} | "
                f"{fmt_num(row['min'])}–{fmt_num(row['max'])} | {ratio} |"
            )
        out.append("")
    out += provider_markdown(summary.get("providers", []))
    out += ["| target | this run | limit | rounds | |", "|---|---:|---:|---:|---|"]
    for t in summary["targets"]:
        value, limit, spread = _target_cells(t)
        verdict = "met" if t["met"] else "**missed**"
        out.append(f"| {t['target']} | {value} | {limit} | {spread} | {verdict} |")
    return "\n".join(out) + "\n"
