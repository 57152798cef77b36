"""What observing a call costs: client CPU per request with nothing observing, with
opentelemetry imported but not configured, with callbacks, with the OpenTelemetry SDK
(in-memory exporter and metric reader), and for reading the cost.

Run: ``python -m benchmarks.observe [--requests 2000] [--rounds 5] [--backend asyncio]``.

Each (round, setup) runs in a fresh process against one simulator process, setups
interleaved across rounds; the report gives the median CPU (``time.process_time``: the
callback thread's work included) per request and per streamed chunk, and each setup's
difference from "off".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio

import ritellm

from .fanout import simulator

SETUPS = ("off", "otel-imported", "callbacks", "otel-sdk", "cost")
MSGS: list[dict[str, Any]] = [{"role": "user", "content": "Hello there"}]
# ~40 chunks per streamed answer
CONTENT = " ".join(f"word{i}" for i in range(40))


def _client(setup: str, url: str) -> ritellm.AsyncClient:
    base: dict[str, Any] = {"base_url": url, "api_key": "sk-bench"}
    if setup == "otel-imported":
        import opentelemetry.trace  # noqa: F401  (imported, no provider set)
    if setup == "callbacks":

        class Nothing(ritellm.CustomLogger):
            def log_success_event(self, kwargs: Any, response: Any, s: Any, e: Any) -> None:
                pass

            async def async_log_success_event(
                self, kwargs: Any, response: Any, s: Any, e: Any
            ) -> None:
                pass

        def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
            pass

        ritellm.success_callback = [on_success]
        return ritellm.AsyncClient(callbacks=[Nothing()], **base)
    if setup == "otel-sdk":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        tracer_provider = TracerProvider()
        exporter = InMemorySpanExporter()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        return ritellm.AsyncClient(
            tracer_provider=tracer_provider, meter_provider=meter_provider, **base
        )
    return ritellm.AsyncClient(**base)


async def _measure(url: str, setup: str, n: int) -> dict[str, float]:
    """CPU µs per request (plain, then streamed) and per streamed chunk."""
    client = _client(setup, url)
    read_cost = setup == "cost"
    async with client:
        headers = {"x-ritellm-sim": json.dumps({"content": CONTENT})}
        for _ in range(50):  # warm up: connections, imports, the price lookup
            r = await client.acompletion("openai/gpt-4o-mini", MSGS)
            if read_cost:
                assert r.response_metadata is not None
                assert r.response_metadata.cost
        started = time.process_time()
        for _ in range(n):
            r = await client.acompletion("openai/gpt-4o-mini", MSGS)
            if read_cost:
                assert r.response_metadata is not None
                r.response_metadata.cost  # noqa: B018  (priced when read)
        plain = time.process_time() - started
        chunks = 0
        started = time.process_time()
        for _ in range(n // 4):
            stream = await client.acompletion(
                "openai/gpt-4o-mini",
                MSGS,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=headers,
            )
            async with stream:
                async for _chunk in stream:
                    chunks += 1
            if read_cost:
                assert stream.response_metadata is not None
                stream.response_metadata.cost  # noqa: B018
        streamed = time.process_time() - started
    await ritellm.aflush_callbacks()
    return {
        "request_us": plain / n * 1e6,
        "stream_us": streamed / (n // 4) * 1e6,
        "chunk_us": streamed / chunks * 1e6,
    }


def _worker(url: str, setup: str, n: int, backend: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.observe", "--worker", setup, url, str(n), backend],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", default="asyncio", choices=("asyncio", "trio"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        setup, url, n, backend = args.worker
        result = anyio.run(_measure, url, setup, int(n), backend=backend)
        print(json.dumps(result))
        return
    runs: dict[str, list[dict[str, float]]] = {setup: [] for setup in SETUPS}
    with simulator() as url:
        for i in range(args.rounds):
            for setup in SETUPS:
                runs[setup].append(_worker(url, setup, args.requests, args.backend))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
    medians = {
        setup: {key: statistics.median(run[key] for run in results) for key in results[0]}
        for setup, results in runs.items()
    }
    base = medians["off"]
    print(f"CPU per request, median of {args.rounds} rounds ({args.backend}, {args.requests} req)")
    print("| setup | request µs | Δ | stream µs | Δ | per chunk µs |")
    print("| --- | --- | --- | --- | --- | --- |")
    for setup, m in medians.items():
        print(
            f"| {setup} | {m['request_us']:.0f} | {m['request_us'] - base['request_us']:+.0f} "
            f"| {m['stream_us']:.0f} | {m['stream_us'] - base['stream_us']:+.0f} "
            f"| {m['chunk_us']:.2f} |"
        )


if __name__ == "__main__":
    main()
