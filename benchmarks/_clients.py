"""One adapter per client under test, each doing the same work in its own idiomatic way:
send the canned chat request, and read every chunk's delta content (or the message content).
ritellm and the floor speak every wire format (OpenAI, Anthropic, Gemini); the provider SDKs
for Anthropic and Gemini are in ``_provider_sdks.py``.

Each adapter is imported only inside the worker process that measures it, so no client's
import cost or background threads leak into another's numbers. Optional peers (aiohttp, the
openai SDK, LiteLLM) are imported lazily and only when installed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from ._payloads import ANTHROPIC_MODEL, GEMINI_MODEL, MESSAGES, MODEL

__all__ = ["API_KEY", "AsyncAdapter", "SyncAdapter", "make_async", "make_sync"]

API_KEY = "sk-bench"
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# ritellm's model string per wire format: the prefix picks the provider's translator.
_RITELLM_MODELS = {
    "openai": "openai/" + MODEL,
    "anthropic": "anthropic/" + ANTHROPIC_MODEL,
    "gemini": "gemini/" + GEMINI_MODEL,
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

    async def complete(self, base: str) -> int:
        r = await self._acompletion(self._model, MESSAGES, base_url=base, api_key=API_KEY)
        return len(r.choices[0].message.content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._acompletion(
            self._model, MESSAGES, base_url=base, api_key=API_KEY, stream=True
        )
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
        s = await self._acompletion(
            self._model, MESSAGES, base_url=base, api_key=API_KEY, stream=True
        )
        async with s:
            async for chunk in s:
                choices = chunk.choices
                if choices and choices[0].delta.content and latency < 0:
                    latency = _stamp_latency(choices[0].delta.content)
        return latency

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        s = await self._acompletion(
            self._model, MESSAGES, base_url=base, api_key=API_KEY, stream=True
        )
        async with s:
            await s.__anext__()
            await opened()

    async def aclose(self) -> None:
        pass


class RitellmSync:
    """``ritellm.completion``: the blocking facade (calls hop to its portal thread)."""

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


# -- peers ---------------------------------------------------------------------------------


class Aiohttp:
    """aiohttp's ClientSession with json.loads, SSE read line by line (its idiom)."""

    def __init__(self) -> None:
        import aiohttp  # type: ignore[import-not-found, unused-ignore]

        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        self._headers = {"Content-Type": "application/json", "Authorization": "Bearer " + API_KEY}

    async def complete(self, base: str) -> int:
        body = _dumps({"model": MODEL, "messages": MESSAGES}).encode()
        async with self._session.post(
            base + "/chat/completions", data=body, headers=self._headers
        ) as resp:
            data = await resp.read()
        content: str = json.loads(data)["choices"][0]["message"]["content"]
        return len(content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        body = _dumps({"model": MODEL, "messages": MESSAGES, "stream": True}).encode()
        async with self._session.post(
            base + "/chat/completions", data=body, headers=self._headers
        ) as resp:
            async for line in resp.content:
                if line[:6] != b"data: ":
                    continue
                data = line[6:].rstrip()
                if data == b"[DONE]":
                    continue
                choices = json.loads(data)["choices"]
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        chunks += 1
                        chars += len(content)
        return chunks, chars

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client

    async def aclose(self) -> None:
        await self._session.close()


class OpenAISDK:
    """``AsyncOpenAI(base_url=..., max_retries=0)``: one SDK client per base URL."""

    def __init__(self) -> None:
        import openai

        self._factory = openai.AsyncOpenAI
        self._clients: dict[str, Any] = {}

    def _client(self, base: str) -> Any:
        client = self._clients.get(base)
        if client is None:
            client = self._clients[base] = self._factory(
                base_url=base, api_key=API_KEY, max_retries=0
            )
        return client

    async def complete(self, base: str) -> int:
        r = await self._client(base).chat.completions.create(
            model=MODEL, messages=cast(Any, MESSAGES)
        )
        return len(r.choices[0].message.content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._client(base).chat.completions.create(
            model=MODEL, messages=cast(Any, MESSAGES), stream=True
        )
        async with s:
            async for chunk in s:
                if chunk.choices:
                    content = chunk.choices[0].delta.content
                    if content:
                        chunks += 1
                        chars += len(content)
        return chunks, chars

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


class LiteLLM:
    """``litellm.acompletion(model="openai/...", api_base=...)`` with its default settings."""

    def __init__(self) -> None:
        import litellm  # type: ignore[import-untyped, import-not-found, unused-ignore]

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self._acompletion: Any = litellm.acompletion
        self._model = "openai/" + MODEL

    async def complete(self, base: str) -> int:
        r = await self._acompletion(
            model=self._model, messages=MESSAGES, api_base=base, api_key=API_KEY
        )
        return len(r.choices[0].message.content)

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._acompletion(
            model=self._model, messages=MESSAGES, api_base=base, api_key=API_KEY, stream=True
        )
        async for chunk in s:
            if chunk.choices:
                content = chunk.choices[0].delta.content
                if content:
                    chunks += 1
                    chars += len(content)
        return chunks, chars

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client

    async def aclose(self) -> None:
        pass


def make_async(name: str, max_connections: int | None = None, wire: str = "openai") -> AsyncAdapter:
    """The adapter for a client family name (without its ``-trio`` suffix) speaking ``wire``
    ("openai", "anthropic" or "gemini").

    Raises:
        ValueError: an unknown client, or one that does not speak ``wire``.
    """
    if name == "ritellm":
        return Ritellm(max_connections, wire)
    if name == "floor":
        return Floor(wire)
    if name in ("anthropic", "genai"):
        from ._provider_sdks import AnthropicSDK, GenAISDK

        sdk, speaks = (AnthropicSDK, "anthropic") if name == "anthropic" else (GenAISDK, "gemini")
        if wire != speaks:
            raise ValueError(f"client {name!r} speaks {speaks}, not {wire}")
        return sdk()
    if wire != "openai":
        raise ValueError(f"client {name!r} speaks openai, not {wire}")
    if name == "aiohttp":
        return Aiohttp()
    if name == "openai":
        return OpenAISDK()
    if name == "litellm":
        return LiteLLM()
    raise ValueError(f"unknown async client {name!r}")


def make_sync(name: str) -> SyncAdapter:
    """The blocking adapter for a client family name."""
    if name == "ritellm":
        return RitellmSync()
    raise ValueError(f"unknown sync client {name!r}")
