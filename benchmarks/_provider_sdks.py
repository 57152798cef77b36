"""Adapters for the official Anthropic and Google Gemini SDKs, called the way their docs show
and read to the end: the yardsticks for ritellm's Anthropic and Gemini streams.

Imported only by the worker that measures one of them (``_clients.make_async``); each SDK is
imported lazily, so neither is needed to run the rest of the suite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from ._clients import API_KEY
from ._payloads import ANTHROPIC_MODEL, GEMINI_MODEL, MESSAGES

__all__ = ["AnthropicSDK", "GenAISDK"]

_PROMPT = MESSAGES[0]["content"]


class AnthropicSDK:
    """``AsyncAnthropic(base_url=..., max_retries=0).messages.create(..., stream=True)``,
    iterating the raw events; one SDK client per base URL (the server root)."""

    def __init__(self) -> None:
        import anthropic

        self._factory = anthropic.AsyncAnthropic
        self._clients: dict[str, Any] = {}

    def _client(self, base: str) -> Any:
        client = self._clients.get(base)
        if client is None:
            client = self._clients[base] = self._factory(
                base_url=base, api_key=API_KEY, max_retries=0
            )
        return client

    async def complete(self, base: str) -> int:  # pragma: no cover - stream scenarios only
        raise NotImplementedError

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._client(base).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=4096, messages=cast(Any, MESSAGES), stream=True
        )
        async with s:
            async for event in s:
                # The SDK's idiom for raw events: text arrives as content_block_delta events
                # whose delta is a text_delta.
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text = event.delta.text
                    if text:
                        chunks += 1
                        chars += len(text)
        return chunks, chars

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


class GenAISDK:
    """``genai.Client(api_key=..., http_options=HttpOptions(base_url=..., api_version=
    "v1beta")).aio.models.generate_content_stream(...)``, reading ``chunk.text``.

    The API version is named because google-genai defaults to ``v1`` while ritellm (and the
    canned route) use ``v1beta``; both versions stream the same bytes. The SDK's transport is
    aiohttp when that is importable, else httpx: ``latest.json`` records which versions ran.
    """

    def __init__(self) -> None:
        from google import genai
        from google.genai import types

        self._factory = genai.Client
        self._options = types.HttpOptions
        self._clients: dict[str, Any] = {}

    def _client(self, base: str) -> Any:
        client = self._clients.get(base)
        if client is None:
            options = self._options(base_url=base, api_version="v1beta")
            client = self._clients[base] = self._factory(api_key=API_KEY, http_options=options)
        return client

    async def complete(self, base: str) -> int:  # pragma: no cover - stream scenarios only
        raise NotImplementedError

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        s = await self._client(base).aio.models.generate_content_stream(
            model=GEMINI_MODEL, contents=_PROMPT
        )
        async for chunk in s:
            text = chunk.text
            if text:
                chunks += 1
                chars += len(text)
        return chunks, chars

    async def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    async def hold(self, base: str, opened: Callable[[], Awaitable[None]]) -> None:
        raise NotImplementedError  # pragma: no cover - not an RSS client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aio.aclose()
