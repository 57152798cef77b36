"""One adapter per client under test, each doing the same work in its own idiomatic way:
send the canned chat request, and read every chunk's delta content (or the message content).
ritellm and the floor speak every wire format (OpenAI, Anthropic, Gemini, Ollama, Bedrock);
the OpenAI-format peers (aiohttp, the OpenAI SDK, LiteLLM) are in ``_openai_peers.py``, the
other providers' official SDKs in ``_provider_sdks.py``.

Each adapter is imported only inside the worker process that measures it, so no client's
import cost or background threads leak into another's numbers. Optional peers are imported
lazily and only when installed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ._payloads import ANTHROPIC_MODEL, GEMINI_MODEL, MESSAGES, MODEL
from ._payloads_native import (
    AWS_ACCESS_KEY_ID,
    AWS_REGION,
    AWS_SECRET_ACCESS_KEY,
    BEDROCK_MODEL,
    OLLAMA_MODEL,
)

__all__ = ["API_KEY", "AsyncAdapter", "SyncAdapter", "make_async", "make_sync"]

API_KEY = "sk-bench"
# ritellm's model string per wire format: the prefix picks the provider's translator.
_RITELLM_MODELS = {
    "openai": "openai/" + MODEL,
    "anthropic": "anthropic/" + ANTHROPIC_MODEL,
    "gemini": "gemini/" + GEMINI_MODEL,
    "ollama": "ollama/" + OLLAMA_MODEL,
    "bedrock": "bedrock/" + BEDROCK_MODEL,
}
# How a user authenticates on each format: an API key, except a local Ollama (none) and
# Bedrock (static AWS keys: every request is SigV4-signed, as in production).
_RITELLM_AUTH: dict[str, dict[str, str]] = {
    "ollama": {},
    "bedrock": {
        "aws_access_key_id": AWS_ACCESS_KEY_ID,
        "aws_secret_access_key": AWS_SECRET_ACCESS_KEY,
        "aws_region_name": AWS_REGION,
    },
}


def _stamp_latency(content: str) -> int:
    """ns between the server's stamp (the chunk's content) and now; both CLOCK_MONOTONIC."""
    return time.monotonic_ns() - int(content)


class AsyncAdapter(Protocol):
    """What the worker needs from an async client."""

    async def complete(self, base: str) -> int:
        """One non-streaming request; returns len(message content)."""
        ...

    async def stream(self, base: str) -> tuple[int, int]:
        """One stream read to the end; returns (chunks with content, total content chars)."""
        ...

    async def ttfb(self, base: str) -> int:
        """One /ttfb stream; returns ns from the server's stamp to receiving that chunk."""
        ...

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        """Open a stream, read its first chunk, await ``opened()``, then close it."""
        ...

    async def aclose(self) -> None: ...


class PeerAdapter:
    """Base of the peers measured on complete/stream only (not in the ttfb or RSS runs)."""

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client


def count_openai_chunks(chunk: Any, counts: list[int]) -> None:
    """Add an OpenAI-shaped chunk's content to ``counts`` ([chunks with content, chars])."""
    if chunk.choices:
        content = chunk.choices[0].delta.content
        if content:
            counts[0] += 1
            counts[1] += len(content)


class SyncAdapter(Protocol):
    """What the worker needs from a blocking client."""

    def complete(self, base: str) -> int: ...

    def stream(self, base: str) -> tuple[int, int]: ...

    def ttfb(self, base: str) -> int: ...

    def close(self) -> None: ...


# -- ritellm -------------------------------------------------------------------------------


class Ritellm:
    """``ritellm.acompletion`` exactly as a user calls it (module-level default client)."""

    def __init__(self, max_connections: int | None = None, wire: str = "openai") -> None:
        import ritellm

        self._ritellm = ritellm
        self._acompletion: Any = ritellm.acompletion
        if max_connections is not None:
            # 1,000 open streams need more than the default pool of 256.
            self._acompletion = ritellm.AsyncClient(max_connections=max_connections).acompletion
        self._model = _RITELLM_MODELS[wire]
        self._auth = _RITELLM_AUTH.get(wire, {"api_key": API_KEY})

    async def complete(self, base: str) -> int:
        r = await self._acompletion(self._model, MESSAGES, base_url=base, **self._auth)
        return len(r.choices[0].message.content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._acompletion(self._model, MESSAGES, base_url=base, stream=True, **self._auth)
        async with s:
            async for chunk in s:
                choices = chunk.choices
                if choices:
                    content = choices[0].delta.content
                    if content:
                        chunks += 1
                        chars += len(content)
        return chunks, chars

    async def ttfb(self, base: str) -> int:
        latency = -1
        s = await self._acompletion(self._model, MESSAGES, base_url=base, stream=True, **self._auth)
        async with s:
            async for chunk in s:
                choices = chunk.choices
                if choices and choices[0].delta.content and latency < 0:
                    latency = _stamp_latency(choices[0].delta.content)
        return latency

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        s = await self._acompletion(self._model, MESSAGES, base_url=base, stream=True, **self._auth)
        async with s:
            await s.__anext__()
            await opened()

    async def aclose(self) -> None:
        pass


class RitellmSync:
    """``ritellm.completion``: the blocking facade (calls run on the calling thread's own
    event loop)."""

    def __init__(self) -> None:
        import ritellm

        self._completion: Any = ritellm.completion
        self._model = "openai/" + MODEL

    def complete(self, base: str) -> int:
        r = self._completion(self._model, MESSAGES, base_url=base, api_key=API_KEY)
        return len(r.choices[0].message.content)

    def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        with self._completion(
            self._model, MESSAGES, base_url=base, api_key=API_KEY, stream=True
        ) as s:
            for chunk in s:
                choices = chunk.choices
                if choices:
                    content = choices[0].delta.content
                    if content:
                        chunks += 1
                        chars += len(content)
        return chunks, chars

    def ttfb(self, base: str) -> int:
        latency = -1
        with self._completion(
            self._model, MESSAGES, base_url=base, api_key=API_KEY, stream=True
        ) as s:
            for chunk in s:
                choices = chunk.choices
                if choices and choices[0].delta.content and latency < 0:
                    latency = _stamp_latency(choices[0].delta.content)
        return latency

    def close(self) -> None:
        pass


# -- the floor -----------------------------------------------------------------------------


class Floor:
    """The minimal httpcore pool of ``_floor.py`` (one pool per base URL)."""

    def __init__(self, wire: str = "openai") -> None:
        from ._floor import PAYLOADS, FloorPool

        self._factory = FloorPool
        self._wire = wire
        self._pools: dict[str, FloorPool] = {}
        self._payload = PAYLOADS[wire]

    def _pool(self, base: str) -> Any:
        pool = self._pools.get(base)
        if pool is None:
            pool = self._pools[base] = self._factory(base, API_KEY, self._wire)
        return pool

    async def complete(self, base: str) -> int:
        content: str = await self._pool(base).complete(self._payload)
        return len(content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        async for content in self._pool(base).stream(self._payload):
            if content:
                chunks += 1
                chars += len(content)
        return chunks, chars

    async def ttfb(self, base: str) -> int:
        latency = -1
        async for content in self._pool(base).stream(self._payload):
            if content and latency < 0:
                latency = _stamp_latency(content)
        return latency

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        conn, response, body = await self._pool(base).open_stream(self._payload)
        try:
            first = await body.__anext__()
            assert json.loads(first.split(b"\n", 1)[0][6:])["choices"]
            await opened()
        finally:
            await response.aclose()
            await conn.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


def make_async(name: str, max_connections: int | None = None, wire: str = "openai") -> AsyncAdapter:
    """The adapter for a client family name (without its ``-trio`` suffix) speaking ``wire``
    ("openai", "anthropic", "gemini", "ollama" or "bedrock").

    Raises:
        ValueError: an unknown client, or one that does not speak ``wire``.
    """
    if name == "ritellm":
        return Ritellm(max_connections, wire)
    if name == "floor":
        return Floor(wire)
    if name in ("anthropic", "genai", "ollama"):
        from ._provider_sdks import make_sdk

        return make_sdk(name, wire)
    from ._openai_peers import Aiohttp, LiteLLM, OpenAISDK

    peers: dict[str, type[AsyncAdapter]] = {
        "aiohttp": Aiohttp,
        "openai": OpenAISDK,
        "litellm": LiteLLM,
    }
    if name not in peers:
        raise ValueError(f"unknown async client {name!r}")
    if wire != "openai":
        raise ValueError(f"client {name!r} speaks openai, not {wire}")
    return peers[name]()


def make_sync(name: str, wire: str = "openai") -> SyncAdapter:
    """The blocking adapter for a client family name speaking ``wire``.

    Raises:
        ValueError: an unknown client, or one that does not speak ``wire``.
    """
    if name == "boto3":
        from ._provider_sdks import make_sync_sdk

        return make_sync_sdk(name, wire)
    if wire != "openai":
        raise ValueError(f"blocking client {name!r} speaks openai, not {wire}")
    if name == "ritellm":
        return RitellmSync()
    raise ValueError(f"unknown sync client {name!r}")
