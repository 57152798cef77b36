"""What is measured: the scenarios, their sizes (full and ``--quick``), which clients run
each one, the wire format each speaks, and the targets from the issue. Pure data; the runner
and the report read it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

__all__ = [
    "CLIENTS",
    "IMPORTS",
    "SCENARIOS",
    "SDKS",
    "Client",
    "Scenario",
    "Size",
    "available_clients",
]


@dataclass(frozen=True)
class Client:
    """One column of the results: a client family on one backend."""

    key: str
    family: str  # the adapter in _clients.py
    backend: str  # "asyncio", "trio" or "sync"
    label: str
    requires: tuple[str, ...] = ()  # importable modules needed (optional peers)


CLIENTS: dict[str, Client] = {
    c.key: c
    for c in (
        Client("floor", "floor", "asyncio", "floor (httpcore, asyncio)"),
        Client("floor-trio", "floor", "trio", "floor (httpcore, trio)", ("trio",)),
        Client("ritellm", "ritellm", "asyncio", "ritellm (asyncio)"),
        Client("ritellm-trio", "ritellm", "trio", "ritellm (trio)", ("trio",)),
        Client("ritellm-sync", "ritellm", "sync", "ritellm.completion (sync)"),
        Client("aiohttp", "aiohttp", "asyncio", "aiohttp + json.loads", ("aiohttp",)),
        Client("openai", "openai", "asyncio", "openai SDK (AsyncOpenAI)", ("openai",)),
        Client("litellm", "litellm", "asyncio", "LiteLLM", ("litellm",)),
        Client("anthropic", "anthropic", "asyncio", "anthropic SDK (async)", ("anthropic",)),
        Client("genai", "genai", "asyncio", "google-genai SDK (aio)", ("google.genai",)),
        Client("ollama", "ollama", "asyncio", "ollama SDK (AsyncClient)", ("ollama",)),
        # Blocking: measured as the synchronous loop a boto3 user writes.
        Client("boto3", "boto3", "sync", "boto3 bedrock-runtime (sync)", ("boto3",)),
    )
}

# The official SDK of each wire format: the "SDK / ritellm" comparison of the report.
SDKS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "genai",
    "ollama": "ollama",
    "bedrock": "boto3",
}

# `python -c "import X"` wall time, per client family.
IMPORTS: dict[str, str] = {
    "python": "pass",  # the interpreter's own start-up, for context
    "floor": "import httpcore",
    "ritellm": "import ritellm",
    "aiohttp": "import aiohttp",
    "openai": "import openai",
    "litellm": "import litellm",
    "anthropic": "import anthropic",
    "genai": "from google import genai",
    "ollama": "import ollama",
    "boto3": "import boto3",
}


@dataclass(frozen=True)
class Size:
    """How much work one measurement does: ``n`` requests (or chunks per stream, or
    samples, or open streams) and ``repeat`` streams in a row."""

    n: int
    repeat: int = 1


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    unit: str
    kind: str  # the worker's scenario
    route: str  # path prefix on the server; "{n}" is the size
    server: str  # "canned" (nginx or the Python server) or "paced"/"hold" (Python server)
    full: Size
    quick: Size
    clients: tuple[str, ...]
    concurrency: int = 1
    # Smaller sizes for slow peers, so the whole run stays under ~25 minutes.
    full_overrides: dict[str, Size] = field(default_factory=dict)
    quick_overrides: dict[str, Size] = field(default_factory=dict)
    # ritellm (asyncio) / floor must not exceed this ratio (None: reported, no target).
    target: float | None = None
    anchors: dict[str, str] = field(default_factory=dict)
    # The provider's wire format: "openai" (base URL ``/{route}/v1``), "anthropic", "gemini",
    # "ollama" or "bedrock" (base URL ``/{route}``, the server root: the clients append
    # ``/v1/messages``, ``/v1beta/models/...``, ``/api/chat`` or ``/model/{id}/...``).
    wire: str = "openai"
    # Another scenario whose ritellm (asyncio) cost is this one's yardstick, and the ratio that
    # ritellm here must not exceed (the same format-independent work on another format).
    baseline: str | None = None
    baseline_target: float | None = None
    # The official SDK (SDKS[wire]) must cost at least this many times ritellm here.
    sdk_factor: float | None = None

    def size(self, client: str, quick: bool) -> Size:
        overrides = self.quick_overrides if quick else self.full_overrides
        return overrides.get(client, self.quick if quick else self.full)


_ALL_ASYNC = ("floor", "floor-trio", "ritellm", "ritellm-trio", "aiohttp", "openai", "litellm")
_ALL = (*_ALL_ASYNC[:4], "ritellm-sync", *_ALL_ASYNC[4:])
_RITELLM_AND_FLOOR = ("floor", "floor-trio", "ritellm", "ritellm-trio", "ritellm-sync")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="seq",
        title="sequential non-streaming requests",
        unit="µs CPU/request",
        kind="seq",
        route="json",
        server="canned",
        full=Size(2000),
        quick=Size(300),
        clients=_ALL,
        full_overrides={"litellm": Size(500)},
        quick_overrides={"litellm": Size(100), "openai": Size(200)},
        target=1.15,
        anchors={
            "floor": "440–605",
            "aiohttp": "207–268",
            "openai": "1,510–1,630",
            "litellm": "4,960–5,650",
        },
    ),
    Scenario(
        key="conc",
        title="non-streaming requests, 64 concurrent",
        unit="µs CPU/request",
        kind="conc",
        route="json",
        server="canned",
        full=Size(20000),
        quick=Size(2000),
        concurrency=64,
        clients=_ALL_ASYNC,
        full_overrides={"openai": Size(4000), "litellm": Size(2000)},
        quick_overrides={"openai": Size(500), "litellm": Size(300)},
        target=1.15,
        anchors={
            "floor": "415–490",
            "aiohttp": "159–174",
            "openai": "3,840–4,260",
            "litellm": "3,900–4,950",
        },
    ),
    Scenario(
        key="stream",
        title="one stream, chunks arrive in large reads",
        unit="µs CPU/chunk",
        kind="stream",
        route="s{n}",
        server="canned",
        full=Size(20000, repeat=3),
        quick=Size(5000),
        clients=_ALL,
        full_overrides={"openai": Size(20000), "litellm": Size(4000)},
        quick_overrides={"litellm": Size(1000)},
        target=1.3,
        anchors={
            "floor": "4.7–5.0",
            "aiohttp": "8.2–9.0",
            "openai": "81–107",
            "litellm": "440–532",
        },
    ),
    # The same stream as "stream" (N tokens of WORD, large reads) in Anthropic's and Gemini's
    # formats; ritellm on "stream" (OpenAI) is their yardstick, measured in the same round.
    Scenario(
        key="anthropic",
        title="one Anthropic Messages stream, large reads",
        unit="µs CPU/chunk",
        kind="stream",
        route="a{n}",
        server="canned",
        full=Size(20000, repeat=3),
        quick=Size(5000),
        clients=("floor", "ritellm", "ritellm-trio", "anthropic"),
        full_overrides={"anthropic": Size(20000)},
        wire="anthropic",
        baseline="stream",
        baseline_target=1.3,
        sdk_factor=5.0,
    ),
    Scenario(
        key="gemini",
        title="one Gemini stream, large reads",
        unit="µs CPU/chunk",
        kind="stream",
        route="g{n}",
        server="canned",
        full=Size(20000, repeat=3),
        quick=Size(5000),
        clients=("floor", "ritellm", "ritellm-trio", "genai"),
        full_overrides={"genai": Size(20000)},
        wire="gemini",
        baseline="stream",
        baseline_target=1.3,
        sdk_factor=5.0,
    ),
    # The same stream in the native formats that are not SSE: Ollama's NDJSON lines and
    # Bedrock's binary event-stream frames (ritellm signs each Bedrock request with SigV4).
    Scenario(
        key="ollama",
        title="one Ollama NDJSON stream, large reads",
        unit="µs CPU/chunk",
        kind="stream",
        route="o{n}",
        server="canned",
        full=Size(20000, repeat=3),
        quick=Size(5000),
        clients=("floor", "ritellm", "ritellm-trio", "ollama"),
        full_overrides={"ollama": Size(20000)},
        wire="ollama",
        baseline="stream",
        baseline_target=1.3,
    ),
    Scenario(
        key="bedrock",
        title="one Bedrock ConverseStream (event stream), large reads",
        unit="µs CPU/chunk",
        kind="stream",
        route="b{n}",
        server="canned",
        full=Size(20000, repeat=3),
        quick=Size(5000),
        clients=("floor", "ritellm", "ritellm-trio", "boto3"),
        full_overrides={"boto3": Size(20000)},
        wire="bedrock",
        baseline="stream",
        baseline_target=1.3,
        sdk_factor=5.0,
    ),
    Scenario(
        key="streams",
        title="32 concurrent streams × 200 chunks",
        unit="µs CPU/chunk",
        kind="streams",
        route="s{n}",
        server="canned",
        full=Size(200, repeat=10),
        quick=Size(200, repeat=2),
        concurrency=32,
        clients=_ALL_ASYNC,
        full_overrides={"openai": Size(200, repeat=2), "litellm": Size(200, repeat=1)},
        quick_overrides={"openai": Size(200, repeat=1), "litellm": Size(200, repeat=1)},
        target=1.3,
        anchors={
            "floor": "7.0–9.2",
            "aiohttp": "8.4–9.6",
            "openai": "88–98",
            "litellm": "376–475",
        },
    ),
    Scenario(
        key="drip",
        title="one drip-fed stream (one event per write)",
        unit="µs CPU/chunk",
        kind="drip",
        route="drip{n}",
        server="paced",
        full=Size(5000),
        quick=Size(1000),
        clients=_RITELLM_AND_FLOOR,
        target=1.3,
    ),
    Scenario(
        key="ttfb",
        title="first-event latency (server send → caller)",
        unit="µs",
        kind="ttfb",
        route="ttfb",
        server="paced",
        full=Size(300),
        quick=Size(50),
        clients=_RITELLM_AND_FLOOR,
    ),
    Scenario(
        key="rss",
        title="1,000 concurrent open streams",
        unit="KiB RSS/stream",
        kind="rss",
        route="hold",
        server="hold",
        full=Size(1000),
        quick=Size(1000),
        clients=("floor", "ritellm", "ritellm-trio"),
    ),
)


def available_clients() -> dict[str, bool]:
    """Which clients can run here (optional peers only when importable)."""
    return {
        key: all(importlib.util.find_spec(mod) is not None for mod in client.requires)
        for key, client in CLIENTS.items()
    }
