"""ritellm on Ray: requests per second against the number of workers on one machine, and
ritellm's CPU per request inside a Ray worker next to plain ``gather_completions``.

Run: ``python -m benchmarks.ray_scale [--rows 3000] [--workers 1 2 4] [--svg PATH]``.

A local Ray cluster (``ray.init(num_cpus=2)``) and the simulator in its own process, which
notes when each request arrives: each point is the steady rate at the server over the
middle 80% of a job's requests (the workers' start-up left out). The CPU figures
come from a worker actor driven directly (``process_time`` around its batches; its shared
limiter's separately) and from ``gather_completions`` in a fresh process, same simulator.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ritellm

from .fanout import simulator

MODEL = "openai/gpt-4o-mini"


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(n)]


class _Arrivals(list[Any]):
    """The simulator's request list, noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.monotonic())


def serve() -> None:
    """``--serve``: a simulator that notes arrival times; each line read from stdin is
    answered with the steady rate since the last one (the middle 80% of the arrivals:
    the workers' start-up and the last stragglers left out)."""
    from ritellm.testing import Simulator

    with Simulator.start_in_thread() as sim:
        current = sim.simulator.requests = _Arrivals()
        print(f"listening on {sim.base_url}", flush=True)
        for _ in sys.stdin:
            done, current = current, _Arrivals()
            sim.simulator.requests = current
            times = sorted(done.times)
            n = len(times)
            lo, hi = n // 10, n - n // 10 - 1
            rate = (hi - lo) / (times[hi] - times[lo]) if hi > lo else 0.0
            print(json.dumps({"requests": n, "rps": rate}), flush=True)


def _job(url: str, n: int, workers: int, concurrency: int) -> None:
    import ray.data

    from ritellm.ray import map_completions

    ds = ray.data.from_items(_rows(n))
    out = map_completions(
        ds,
        model=MODEL,
        base_url=url,
        api_key="sk-bench",
        num_workers=workers,
        concurrency_per_worker=concurrency,
    )
    count = sum(len(batch["id"]) for batch in out.iter_batches(batch_format="numpy"))
    assert count == n


def scaling(rows: int, workers: list[int], concurrency: int) -> list[dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.ray_scale", "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[-1]

    def rate() -> dict[str, Any]:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        result: dict[str, Any] = json.loads(proc.stdout.readline())
        return result

    try:
        rate()  # start counting
        _job(url, rows // 4, workers[0], concurrency)  # warm up: imports, caches
        rate()
        points = []
        for n in workers:
            _job(url, rows, n, concurrency)
            point = {"workers": n, **rate()}
            points.append(point)
            print(f"{n} worker(s): {point['rps']:.0f} req/s", file=sys.stderr)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    return points


def worker_cpu(url: str, batches: int, batch: int, concurrency: int) -> dict[str, float]:
    """CPU per request of one CompletionWorker actor (and of the shared limiter)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import ray

    from ritellm.ray._actor import CompletionWorker, WorkerConfig
    from ritellm.ray._limiter import SharedLimits

    class Timed(CompletionWorker):
        def cpu(self) -> float:
            return time.process_time()

    class TimedLimits(SharedLimits):
        async def cpu(self) -> float:
            return time.process_time()

    config = WorkerConfig(
        model=MODEL,
        params={"base_url": url, "api_key": "sk-bench"},
        concurrency=concurrency,
        tpm=False,
        backend="asyncio",
        client_options={},
    )
    # Typed as Any: ray's stubs do not follow a class through ray.remote's overloads.
    limits_cls: Any = ray.remote(num_cpus=0)(TimedLimits)
    worker_cls: Any = ray.remote(Timed).options(num_cpus=0, max_concurrency=4)
    limits = limits_cls.remote(None, None)
    worker = worker_cls.remote(config, limits)
    table = pa.Table.from_pylist(_rows(batch))
    ray.get([worker.__call__.remote(table) for _ in range(4)])  # warm up
    worker_before, limits_before = ray.get([worker.cpu.remote(), limits.cpu.remote()])
    # Four batches at a time, as map_completions runs them.
    for _ in range(batches // 4):
        ray.get([worker.__call__.remote(table) for _ in range(4)])
    worker_after, limits_after = ray.get([worker.cpu.remote(), limits.cpu.remote()])
    n = (batches // 4) * 4 * batch
    ray.kill(worker)
    ray.kill(limits)
    return {
        "worker_us_per_request": (worker_after - worker_before) / n * 1e6,
        "limiter_us_per_request": (limits_after - limits_before) / n * 1e6,
    }


async def _gather_cpu(url: str, n: int, concurrency: int) -> float:
    async with ritellm.AsyncClient(base_url=url, api_key="sk-bench") as client:
        requests = [{"model": MODEL, "messages": r["messages"]} for r in _rows(n)]
        await ritellm.gather_completions(requests[:200], max_concurrency=concurrency, client=client)
        started = time.process_time()
        await ritellm.gather_completions(requests, max_concurrency=concurrency, client=client)
        return (time.process_time() - started) / n * 1e6


def gather_cpu(url: str, n: int, concurrency: int) -> float:
    """CPU per request of plain gather_completions, in a fresh process."""
    code = (
        "import anyio, benchmarks.ray_scale as b; "
        f"print(anyio.run(b._gather_cpu, {url!r}, {n}, {concurrency}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=os.getcwd()
    )
    return float(out.stdout.strip().splitlines()[-1])


def write_svg(points: list[dict[str, Any]], path: Path) -> None:
    """A bar chart of requests/s per worker count (plain SVG: no plotting library)."""
    width, height, left, bottom, top = 420, 260, 56, 40, 30
    peak = max(p["rps"] for p in points) * 1.15
    slot = (width - left - 20) / len(points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{width / 2}" y="18" text-anchor="middle">'
        "requests/s against Ray workers (one 2-core machine)</text>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="black"/>',
    ]
    for i, point in enumerate(points):
        h = (height - bottom - top) * point["rps"] / peak
        x = left + i * slot + slot * 0.2
        y = height - bottom - h
        parts += [
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
            'fill="#d62728"/>',
            f'<text x="{x + slot * 0.3:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
            f"{point['rps']:.0f}</text>",
            f'<text x="{x + slot * 0.3:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{point['workers']}</text>",
        ]
    parts += [
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle">workers</text>',
        f'<text x="14" y="{(height - bottom) / 2}" transform="rotate(-90 14 '
        f'{(height - bottom) / 2})" text-anchor="middle">requests/s</text>',
        "</svg>",
    ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=16, help="per worker")
    parser.add_argument("--cpu-batches", type=int, default=40)
    parser.add_argument("--svg", type=Path, help="write the figure here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        with simulator() as url:
            out: dict[str, Any] = {
                "cpu": {
                    "gather_us_per_request": gather_cpu(url, 4000, args.concurrency),
                    **worker_cpu(url, args.cpu_batches, 64, args.concurrency),
                },
                "scaling": scaling(args.rows, args.workers, args.concurrency),
            }
    finally:
        ray.shutdown()
    if args.svg:
        write_svg(out["scaling"], args.svg)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
