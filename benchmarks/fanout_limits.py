"""Fan-out against a rate-limited server: how close to the limit the fan-out runs, how many
429s it takes on the way, and whether any request fails.

Run: ``python -m benchmarks.fanout_limits [--rates 2,20,200] [--seconds 20]
[--backends asyncio,trio] [--headers both|with|without]``.

The simulator runs in its own process as a token bucket of ``R`` requests/s with a small
burst, ``max(1, R/10)``, and an exact ``retry-after-ms`` on each 429; "with headers" it also
states its bucket in OpenAI's ``x-ratelimit-*`` headers on every answer, "without" it does
not (``--no-rate-headers``), so the fan-out can only learn the rate from its 429s.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import anyio

import ritellm

from .fanout import requests, simulator

CONCURRENCY = 64


def burst_for(rate: float) -> float:
    """The simulator's bucket size for a limit of ``rate`` requests/s."""
    return max(1.0, rate / 10)


async def run_one(rate: float, seconds: float, headers: bool) -> dict[str, Any]:
    """One fan-out of ~``seconds`` worth of requests at the server's limit ``rate``."""
    burst = burst_for(rate)
    n = max(30, round(rate * seconds))
    extra = ["--rate-limit", str(rate), "--rate-burst", str(burst)]
    if not headers:
        extra.append("--no-rate-headers")
    finished: list[float] = []  # time of each success, from the progress callback
    last: list[ritellm.FanoutStats] = []

    def progress(stats: ritellm.FanoutStats) -> None:
        while len(finished) < stats.done:
            finished.append(time.perf_counter())
        last[:] = [stats]

    with simulator(*extra) as url:
        async with ritellm.AsyncClient(base_url=url) as client:
            started = time.perf_counter()
            results = await ritellm.gather_completions(
                requests(n),
                max_concurrency=CONCURRENCY,
                return_exceptions=True,
                client=client,
                progress=progress,
            )
            wall = time.perf_counter() - started
    failed = sum(1 for r in results if isinstance(r, BaseException))
    # The bucket starts full: its burst is free, so the sustained rate leaves it out.
    sustained = (n - burst) / wall
    # The second half alone: the rate once the fan-out has converged.
    half = started + wall / 2
    late = [t for t in finished if t >= half]
    steady = len(late) / (started + wall - half) if late else 0.0
    return {
        "limit_rps": rate,
        "burst": burst,
        "headers": headers,
        "requests": n,
        "wall_s": round(wall, 2),
        "sustained_pct": round(100 * sustained / rate, 1),
        "second_half_pct": round(100 * steady / rate, 1),
        "retried_429": last[0].retried if last else 0,
        "failed": failed,
    }


async def main_async(args: argparse.Namespace, backend: str) -> list[dict[str, Any]]:
    rows = []
    for rate in args.rates:
        for headers in args.headers:
            row = {"backend": backend, **await run_one(rate, args.seconds, headers)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = "| backend | R (req/s) | burst | headers | requests | wall s | sustained % of R "
    head += "| 2nd half % of R | 429s | failed |"
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['limit_rps']:g} | {r['burst']:g} | "
            f"{'yes' if r['headers'] else 'no'} | {r['requests']} | {r['wall_s']} | "
            f"{r['sustained_pct']} | {r['second_half_pct']} | {r['retried_429']} | "
            f"{r['failed']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="2,20,200", help="server limits, requests/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--headers", choices=("both", "with", "without"), default="both")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.headers = {"both": [True, False], "with": [True], "without": [False]}[args.headers]
    rows: list[dict[str, Any]] = []
    for backend in args.backends.split(","):
        rows += anyio.run(main_async, args, backend, backend=backend)
    print(table(rows))


if __name__ == "__main__":
    main()
