"""One measurement in a fresh process: ``python -m benchmarks._worker '<json spec>'``.

Imports the one client under test, warms it up (connections opened, code paths hot), then
measures this process's CPU time (``time.process_time()``: every thread, so the sync
facade's portal thread counts) around the timed section only, and prints one JSON line.
Import time and warm-up are excluded; the server runs in another process.
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ._clients import AsyncAdapter, SyncAdapter, make_async, make_sync

__all__ = ["main"]

Spec = dict[str, Any]
Result = dict[str, Any]
_TICK = os.sysconf("SC_CLK_TCK")


def _server_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by the server processes (utime + stime from /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICK


def machine_busy() -> float:
    """CPU seconds spent so far in user and system mode by every process on the machine
    (/proc/stat; irq/softirq excluded: loopback networking is part of what we measure)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[1]) + int(fields[2]) + int(fields[3])) / _TICK


def _vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class _Timer:
    """Client CPU, wall time and server CPU around the timed section."""

    def __init__(self, server_pids: list[int], profiler: cProfile.Profile | None = None) -> None:
        self._pids = server_pids
        self._profiler = profiler  # benchmarks.hotspots: profile the timed section only
        self.result: Result = {}

    def start(self) -> None:
        gc.collect()  # garbage from the warm-up is not the timed section's to collect
        self._server = _server_cpu(self._pids)
        self._machine = machine_busy()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._switches, self._user = usage.ru_nvcsw, usage.ru_utime
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        if self._profiler is not None:
            self._profiler.enable()

    def stop(self) -> None:
        if self._profiler is not None:
            self._profiler.disable()
        cpu = time.process_time() - self._cpu
        wall = time.perf_counter() - self._wall
        # Voluntary context switches: ~1 per chunk means the process slept until each event
        # arrived (drip-fed); ~0 means the events were already buffered (large reads).
        usage = resource.getrusage(resource.RUSAGE_SELF)
        switches = usage.ru_nvcsw - self._switches
        # User time alone: the kernel's share (syscalls, wake-ups) is the same for every
        # client on a drip-fed stream, and on a VM it is the noisy part.
        user = usage.ru_utime - self._user
        server = _server_cpu(self._pids) - self._server
        # Whatever else ran meanwhile (another user's test run, a stray process): on a
        # 2-core machine it competes with the client or the server, so the runner repeats
        # a measurement that was disturbed.
        foreign = machine_busy() - self._machine - cpu - server
        self.result.update(
            cpu_s=cpu,
            user_s=user,
            wall_s=wall,
            server_cpu_s=server,
            switches=switches,
            foreign_load=max(0.0, foreign) / wall if wall else 0.0,
        )


# -- async scenarios -----------------------------------------------------------------------


async def _gather(count: int, fn: Callable[[], Awaitable[tuple[int, int]]]) -> tuple[int, int]:
    totals = [0, 0]

    async def run() -> None:
        items, chars = await fn()
        totals[0] += items
        totals[1] += chars

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(run)
    return totals[0], totals[1]


async def _seq(c: AsyncAdapter, base: str, n: int) -> tuple[int, int]:
    chars = 0
    for _ in range(n):
        chars += await c.complete(base)
    return n, chars


async def _conc(c: AsyncAdapter, base: str, n: int, concurrency: int) -> tuple[int, int]:
    # `concurrency` workers pull from one counter: exactly n requests, at most
    # `concurrency` in flight, and no per-request task creation in the harness.
    left = [n]

    async def worker() -> tuple[int, int]:
        done = chars = 0
        while left[0] > 0:
            left[0] -= 1
            chars += await c.complete(base)
            done += 1
        return done, chars

    return await _gather(concurrency, worker)


async def _streams(c: AsyncAdapter, base: str, repeat: int, concurrency: int) -> tuple[int, int]:
    items = chars = 0
    for _ in range(repeat):
        if concurrency == 1:
            i, ch = await c.stream(base)
        else:
            i, ch = await _gather(concurrency, lambda: c.stream(base))
        items += i
        chars += ch
    return items, chars


async def _hold(c: AsyncAdapter, base: str, n: int, result: Result) -> tuple[int, int]:
    """Open n streams at once, each with its first chunk read; measure RSS; close them all."""
    all_open = anyio.Event()
    release = anyio.Event()
    opened = [0]

    async def on_open() -> None:
        opened[0] += 1
        if opened[0] == n:
            all_open.set()
        await release.wait()

    async def one() -> tuple[int, int]:
        await c.hold(base, on_open)
        return 1, 0

    before = _vm_rss_kib()
    async with anyio.create_task_group() as tg:

        async def measure() -> None:
            await all_open.wait()
            result["rss_open_kib"] = _vm_rss_kib()
            result["rss_base_kib"] = before
            release.set()

        tg.start_soon(measure)
        totals = await _gather(n, one)
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return totals


async def _run_async(spec: Spec, timer: _Timer) -> tuple[int, int]:
    client = make_async(spec["client"], spec.get("max_connections"), spec.get("wire", "openai"))
    base: str = spec["base"]
    scenario = spec["scenario"]
    n: int = spec["n"]
    concurrency: int = spec.get("concurrency", 1)
    repeat: int = spec.get("repeat", 1)
    try:
        if scenario == "seq":
            await _seq(client, base, min(n, 100))
            timer.start()
            totals = await _seq(client, base, n)
        elif scenario == "conc":
            await _conc(client, base, min(n, concurrency * 4), concurrency)
            timer.start()
            totals = await _conc(client, base, n, concurrency)
        elif scenario in ("stream", "streams", "drip"):
            await _streams(client, base, 1, concurrency)
            timer.start()
            totals = await _streams(client, base, repeat, concurrency)
        elif scenario == "ttfb":
            for _ in range(5):
                await client.ttfb(base)
            samples: list[int] = []
            timer.start()
            for _ in range(n):
                samples.append(await client.ttfb(base))
            timer.result["samples_us"] = [s / 1000 for s in samples]
            totals = (sum(1 for s in samples if s > 0), 0)
        elif scenario == "rss":
            await _hold(client, base, 10, {})
            timer.start()
            totals = await _hold(client, base, n, timer.result)
        else:
            raise ValueError(f"unknown scenario {scenario!r}")
        timer.stop()
    finally:
        await client.aclose()
    return totals


# -- blocking scenarios --------------------------------------------------------------------


def _run_sync(spec: Spec, timer: _Timer) -> tuple[int, int]:
    client: SyncAdapter = make_sync(spec["client"], spec.get("wire", "openai"))
    base: str = spec["base"]
    scenario = spec["scenario"]
    n: int = spec["n"]
    repeat: int = spec.get("repeat", 1)
    try:
        if scenario == "seq":
            for _ in range(min(n, 100)):
                client.complete(base)
            timer.start()
            chars = sum(client.complete(base) for _ in range(n))
            totals = (n, chars)
        elif scenario in ("stream", "drip"):
            client.stream(base)
            timer.start()
            items = chars = 0
            for _ in range(repeat):
                i, ch = client.stream(base)
                items += i
                chars += ch
            totals = (items, chars)
        elif scenario == "ttfb":
            for _ in range(5):
                client.ttfb(base)
            timer.start()
            samples = [client.ttfb(base) for _ in range(n)]
            timer.result["samples_us"] = [s / 1000 for s in samples]
            totals = (sum(1 for s in samples if s > 0), 0)
        else:
            raise ValueError(f"scenario {scenario!r} has no blocking variant")
        timer.stop()
    finally:
        client.close()
    return totals


def run(spec: Spec, profiler: cProfile.Profile | None = None) -> Result:
    """Run one measurement described by ``spec``; returns the result record. With a
    ``profiler``, it is enabled around the timed section only."""
    timer = _Timer(spec.get("server_pids", []), profiler)
    backend = spec["backend"]
    if backend == "sync":
        items, chars = _run_sync(spec, timer)
    else:
        items, chars = anyio.run(_run_async, spec, timer, backend=backend)
    result = timer.result
    result.update(items=items, chars=chars)
    if "samples_us" in result:
        result["median_us"] = statistics.median(result["samples_us"])
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point: the spec is one JSON argument; the result is the last stdout line."""
    args = sys.argv[1:] if argv is None else argv
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        result = run(json.loads(args[0]))
    except Exception:
        traceback.print_exc()
        print(json.dumps({"error": traceback.format_exc(limit=3)}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
