"""The benchmark runner: starts the servers, runs every (round, scenario, client) measurement
in a fresh worker process, interleaved across rounds, and writes the report.

    python -m benchmarks                 # full run: 5 rounds (~20 minutes on 2 cores)
    python -m benchmarks --quick         # smoke test: 1 round, small N (< 2 minutes)
    python -m benchmarks --only seq,stream --clients floor,ritellm --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._chart import write_chart
from ._nginx import find_nginx
from ._payloads import COMPLETION_CONTENT, WORD
from ._plan import CLIENTS, IMPORTS, SCENARIOS, Scenario, available_clients
from ._report import format_markdown, format_report, summarize
from ._servers import ROOT, Servers, env, sizes_needed
from ._worker import machine_busy

__all__ = ["main"]

_JOB_TIMEOUT = 900.0


_QUIET_WINDOW = 0.15
_QUIET_LOAD = 0.2  # cores busy (of the whole machine) that still count as quiet
_DISTURBED_LOAD = 0.3  # foreign cores busy during a timed section that void it
_RETRIES = 2


def _wait_quiet(limit: float = 30.0) -> bool:
    """Wait until the machine is idle (nothing but us): returns False after ``limit`` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = machine_busy()
        time.sleep(_QUIET_WINDOW)
        if (machine_busy() - before) / _QUIET_WINDOW <= _QUIET_LOAD:
            return True
    return False


def _expected(sc: Scenario, n: int, repeat: int) -> tuple[int, int | None]:
    """(items, chars) a correct run must report: nothing may be silently skipped."""
    if sc.kind in ("seq", "conc"):
        return n, n * len(COMPLETION_CONTENT)
    if sc.kind in ("stream", "streams", "drip"):
        items = n * repeat * sc.concurrency
        return items, items * len(WORD)
    return n, None  # ttfb samples / open streams


def _run_job(
    servers: Servers, sc: Scenario, client_key: str, quick: bool, round_no: int
) -> dict[str, Any]:
    """Measure once; again (up to _RETRIES times) when something else used the machine."""
    record: dict[str, Any] = {}
    for attempt in range(_RETRIES + 1):
        quiet = _wait_quiet()
        record = _measure(servers, sc, client_key, quick, round_no)
        record["ritellm_digest"] = _ritellm_digest()
        record["attempts"] = attempt + 1
        record["quiet_start"] = quiet
        if not record["ok"] or record["foreign_load"] <= _DISTURBED_LOAD:
            break
        record["disturbed"] = True
    return record


def _measure(
    servers: Servers, sc: Scenario, client_key: str, quick: bool, round_no: int
) -> dict[str, Any]:
    client = CLIENTS[client_key]
    size = sc.size(client_key, quick)
    base, pids = servers.base(sc, size.n)
    spec: dict[str, Any] = {
        "client": client.family,
        "backend": client.backend,
        "wire": sc.wire,
        "scenario": sc.kind,
        "base": base,
        "n": size.n,
        "repeat": size.repeat,
        "concurrency": sc.concurrency,
        "server_pids": pids,
    }
    if sc.kind == "rss":
        spec["max_connections"] = size.n + 64
    record: dict[str, Any] = {
        "scenario": sc.key,
        "client": client_key,
        "round": round_no,
        "n": size.n,
        "repeat": size.repeat,
        "ok": False,
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._worker", json.dumps(spec)],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=_JOB_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        record["error"] = f"timed out after {_JOB_TIMEOUT:.0f}s"
        return record
    lines = proc.stdout.strip().splitlines()
    result: dict[str, Any]
    try:
        result = json.loads(lines[-1]) if lines else {"error": "no output"}
    except ValueError:
        result = {"error": f"bad output: {lines[-1][:200]}"}
    if proc.returncode != 0 or "error" in result:
        record["error"] = result.get("error") or proc.stderr[-2000:]
        return record
    items, chars = _expected(sc, size.n, size.repeat)
    if result["items"] != items or (chars is not None and result["chars"] != chars):
        record["error"] = (
            f"verification failed: got {result['items']} items / {result['chars']} chars, "
            f"expected {items} / {chars}"
        )
        return record
    record.update(result)
    wall = result["wall_s"]
    record["server_util"] = result["server_cpu_s"] / wall if wall else 0.0
    record["wakeups"] = result["switches"] / items if items else 0.0
    record["server_us_per_item"] = result["server_cpu_s"] / items * 1e6 if items else 0.0
    if sc.kind == "ttfb":
        record["metric"] = result["median_us"]
    elif sc.kind == "rss":
        record["metric"] = (result["rss_open_kib"] - result["rss_base_kib"]) / size.n
    else:
        record["metric"] = result["cpu_s"] / items * 1e6
    record["ok"] = True
    return record


def _time_import(statement: str) -> float:
    _wait_quiet()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env(), check=True)
    return (time.perf_counter() - start) * 1000


def _ritellm_digest() -> str:
    """A short hash of ritellm's source: other people may edit it while a long run is going,
    and a run that mixes two versions must say so."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "ritellm").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _git_state() -> str:
    """HEAD's commit (and '+dirty' with uncommitted changes to ritellm/); read-only git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ritellm"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def _versions() -> dict[str, str]:
    out = {}
    for dist in (
        *("ritellm", "httpcore", "h11", "anyio", "trio", "aiohttp", "openai", "litellm", "httpx"),
        *("anthropic", "google-genai", "ollama", "boto3", "botocore", "httpx2", "pydantic"),
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


def _rotated(items: list[str], k: int) -> Iterator[str]:
    # Each round starts with a different client, so no client always runs first (cold
    # caches, CPU frequency) or always right after the heaviest one.
    for i in range(len(items)):
        yield items[(i + k) % len(items)]


def _write_outputs(
    meta: dict[str, Any], summary: dict[str, Any], runs: list[dict[str, Any]], out: Path, docs: bool
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps({"meta": meta, **summary, "runs": runs}, indent=1, ensure_ascii=False)
    )
    (out / "latest.md").write_text(format_markdown(summary, meta))
    chart = out / "benchmarks.png"
    message = write_chart(summary, chart)
    if message:
        print(message)
        return
    print(f"wrote {out / 'latest.json'}, {out / 'latest.md'} and {chart}")
    if docs:
        target = ROOT / "docs" / "img" / "benchmarks.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chart, target)
        print(f"wrote {target}")


def _rereport(path: Path, out: Path, docs: bool, latest_version: bool) -> int:
    saved = json.loads(path.read_text())
    runs = saved["runs"]
    imports = {name: row["values"] for name, row in saved["imports"].items()}
    if latest_version:
        # Keep only the rounds measured entirely with the ritellm source of the last job
        # (import timings are one per round, taken after that round's jobs).
        last = runs[-1].get("ritellm_digest")
        rounds = sorted({r["round"] for r in runs})
        keep = [
            n
            for n in rounds
            if all(r.get("ritellm_digest") == last for r in runs if r["round"] == n)
        ]
        runs = [r for r in runs if r["round"] in keep]
        imports = {
            name: [v for i, v in enumerate(vals) if i in keep] for name, vals in imports.items()
        }
        saved["meta"] = {
            **saved["meta"],
            "rounds": len(keep),
            "ritellm_digests": [last],
            "note": f"rounds {[n + 1 for n in keep]} of {len(rounds)}: one ritellm version",
        }
        print(f"kept rounds {[n + 1 for n in keep]} of {len(rounds)} (ritellm source {last})")
    summary = summarize(runs, imports)
    print(format_report(summary, saved["meta"]))
    _write_outputs(saved["meta"], summary, runs, out, docs)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns 0 when every measurement ran and verified."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick 1)")
    parser.add_argument("--quick", action="store_true", help="1 round, small N: a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--server",
        choices=("auto", "nginx", "python"),
        default="auto",
        help="canned server: nginx when installed (auto), or the Python one",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios: " + ",".join(s.key for s in SCENARIOS) + ",import",
    )
    parser.add_argument(
        "--clients", default="", help="comma-separated clients: " + ",".join(CLIENTS)
    )
    parser.add_argument(
        "--drip-gap-us",
        type=float,
        default=200.0,
        help="pause before each drip-fed event (µs; default 200)",
    )
    parser.add_argument(
        "--docs-chart", action="store_true", help="also write the chart to docs/img/benchmarks.png"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="only re-print the report (and redraw the chart) from a saved latest.json",
    )
    parser.add_argument(
        "--latest-version",
        action="store_true",
        help="with --report: keep only the rounds that measured the last ritellm source",
    )
    args = parser.parse_args(argv)
    # A SIGTERM (e.g. a CI timeout) must still run the `with Servers(...)` cleanup.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.report is not None:
        return _rereport(args.report, args.out, args.docs_chart, args.latest_version)
    rounds = args.rounds or (1 if args.quick else 5)
    only = set(filter(None, args.only.split(",")))
    wanted = set(filter(None, args.clients.split(",")))
    for name in wanted - set(CLIENTS):
        parser.error(f"unknown client {name!r}")
    for name in only - {s.key for s in SCENARIOS} - {"import"}:
        parser.error(f"unknown scenario {name!r}")

    avail = available_clients()
    skipped = sorted(k for k, ok in avail.items() if not ok and (not wanted or k in wanted))
    if skipped:
        print(
            f"not installed, skipped: {', '.join(skipped)} "
            "(pip install -e '.[bench]' to measure them)"
        )
    scenarios = [s for s in SCENARIOS if not only or s.key in only]
    plan = {
        sc.key: [c for c in sc.clients if avail[c] and (not wanted or c in wanted)]
        for sc in scenarios
    }
    streams, drips = sizes_needed(
        (sc, sc.size(c, args.quick).n) for sc in scenarios for c in plan[sc.key]
    )

    kind = args.server
    if kind == "auto":
        kind = "nginx" if find_nginx() else "python"
        if kind == "python":
            print("nginx not found: serving canned responses from benchmarks/_server.py")
    elif kind == "nginx" and not find_nginx():
        parser.error("--server nginx: nginx is not installed")

    imports = [
        k
        for k in IMPORTS
        if (k == "python" or avail[k])
        and (not wanted or k in wanted or (k == "floor" and not wanted) or k == "python")
    ]
    do_imports = not only or "import" in only
    runs: list[dict[str, Any]] = []
    import_ms: dict[str, list[float]] = {k: [] for k in imports} if do_imports else {}
    started = time.monotonic()
    git_before = _git_state()
    with Servers(kind, streams, drips, args.drip_gap_us) as servers:
        if do_imports:
            for k in imports:  # untimed: compile .pyc files and warm the page cache
                _time_import(IMPORTS[k])
        for r in range(rounds):
            for sc in scenarios:
                for c in _rotated(plan[sc.key], r):
                    rec = _run_job(servers, sc, c, args.quick, r)
                    runs.append(rec)
                    shown = (
                        f"{rec['metric']:,.2f} {sc.unit}"
                        + (f" (attempt {rec['attempts']})" if rec["attempts"] > 1 else "")
                        if rec["ok"]
                        else f"FAILED: {str(rec.get('error', ''))[-300:]}"
                    )
                    print(
                        f"[{time.monotonic() - started:6.0f}s] round {r + 1}/{rounds} "
                        f"{sc.key:<8} {c:<13} {shown}",
                        flush=True,
                    )
            for k in _rotated(list(import_ms), r):
                import_ms[k].append(_time_import(IMPORTS[k]))
    elapsed = time.monotonic() - started

    digests = sorted({r["ritellm_digest"] for r in runs if "ritellm_digest" in r})
    if len(digests) > 1:
        print(
            f"WARNING: ritellm's source changed during the run ({len(digests)} versions "
            "measured); rerun for numbers that belong to one version",
            file=sys.stderr,
        )
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": rounds,
        "quick": args.quick,
        "server": kind + ("" if kind == "python" else " (drip/ttfb/hold: benchmarks/_server.py)"),
        "drip_gap_us": args.drip_gap_us,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": _versions(),
        "elapsed_s": round(elapsed, 1),
        "git": git_before if git_before == _git_state() else f"{git_before} → {_git_state()}",
        "ritellm_digests": digests,
    }
    summary = summarize(runs, import_ms)
    report = format_report(summary, meta)
    print()
    print(report)
    print(f"\n({elapsed / 60:.1f} minutes)")
    _write_outputs(meta, summary, runs, args.out, args.docs_chart)
    failed = [r for r in runs if not r["ok"]]
    if failed:
        print(f"{len(failed)} measurement(s) FAILED", file=sys.stderr)
    return 1 if failed else 0
