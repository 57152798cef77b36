"""Fan-out figures: throughput and client CPU at 64 concurrent, behaviour against a
rate-limited server, and how fast a cancelled fan-out stops.

Run: ``python -m benchmarks.fanout [--requests 10000] [--rate 200] [--backend asyncio]``.
The simulator runs in its own process, so the CPU figures are the client's alone. How close
to a provider's limit the fan-out runs, with and without rate-limit headers, is measured by
``benchmarks.fanout_limits``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio

import ritellm


@contextmanager
def simulator(*extra: str) -> Iterator[str]:
    """``python -m ritellm.testing`` in a subprocess; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm.testing", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = next(word for word in line.split() if word.startswith("http://"))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def requests(n: int, **sim: Any) -> list[dict[str, Any]]:
    headers = {"x-ritellm-sim": json.dumps(sim)} if sim else None
    return [
        {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": f"question {i}"}],
            **({"extra_headers": headers} if headers else {}),
        }
        for i in range(n)
    ]


async def throughput(url: str, n: int) -> dict[str, float]:
    async with ritellm.AsyncClient(base_url=url) as client:
        await ritellm.gather_completions(requests(64), max_concurrency=64, client=client)
        cpu, wall = time.process_time(), time.perf_counter()
        results = await ritellm.gather_completions(requests(n), max_concurrency=64, client=client)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert len(results) == n
    assert all(isinstance(r, ritellm.ModelResponse) for r in results)
    return {"requests": n, "wall_s": wall, "cpu_us_per_request": cpu / n * 1e6}


async def rate_limited(url: str, n: int, rate: float) -> dict[str, float]:
    stats: list[ritellm.FanoutStats] = []
    async with ritellm.AsyncClient(base_url=url) as client:
        started = time.perf_counter()
        results = await ritellm.gather_completions(
            requests(n),
            max_concurrency=64,
            return_exceptions=True,
            client=client,
            progress=stats.append,
        )
        wall = time.perf_counter() - started
    failed = sum(1 for r in results if isinstance(r, BaseException))
    # The server's bucket starts full (a burst of `rate`), so the sustained rate excludes it.
    sustained = (n - rate) / wall if wall > 0 else 0.0
    return {
        "requests": n,
        "server_limit_rps": rate,
        "failed": failed,
        "retried_429": stats[-1].retried if stats else 0,
        "wall_s": wall,
        "achieved_rps": n / wall,
        "sustained_rps_after_burst": sustained,
        "min_concurrency_limit": min((s.concurrency for s in stats), default=64),
    }


async def cancellation(url: str, n: int) -> dict[str, float]:
    async with ritellm.AsyncClient(base_url=url) as client:
        done = anyio.Event()
        elapsed = 0.0
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                try:
                    await ritellm.gather_completions(
                        requests(n, latency=30), max_concurrency=64, client=client
                    )
                finally:
                    done.set()

            tg.start_soon(run)
            transport = client.transport()
            with anyio.fail_after(10):
                # Polling a counter of our own pool: no event exists for it.
                while transport.max_connections - transport.free_slots < 64:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            started = time.perf_counter()
            tg.cancel_scope.cancel()
        elapsed = time.perf_counter() - started
        assert transport.free_slots == transport.max_connections
    return {"in_flight_when_cancelled": 64, "ms_until_all_tasks_finished": elapsed * 1e3}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": args.backend}
    with simulator() as url:
        out["throughput"] = await throughput(url, args.requests)
        out["cancellation"] = await cancellation(url, 1000)
    with simulator("--rate-limit", str(args.rate)) as url:
        out["rate_limited"] = await rate_limited(url, args.rate_requests, args.rate)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0, help="server limit, requests/s")
    parser.add_argument("--rate-requests", type=int, default=2_000)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    result = anyio.run(main_async, args, backend=args.backend)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
