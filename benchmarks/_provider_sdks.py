"""Adapters for the official Anthropic, Google Gemini and Ollama SDKs and for boto3's
Bedrock Runtime client, called the way their docs show and read to the end: the yardsticks
for ritellm's streams in those formats.

Imported only by the worker that measures one of them (``_clients.make_async`` /
``make_sync``); each SDK is imported lazily, so none is needed to run the rest of the suite.
"""

from __future__ import annotations

from typing import Any, cast

from ._clients import API_KEY, AsyncAdapter, PeerAdapter, SyncAdapter
from ._payloads import ANTHROPIC_MODEL, GEMINI_MODEL, MESSAGES
from ._payloads_native import (
    AWS_ACCESS_KEY_ID,
    AWS_REGION,
    AWS_SECRET_ACCESS_KEY,
    BEDROCK_MODEL,
    OLLAMA_MODEL,
)

__all__ = ["AnthropicSDK", "Boto3Bedrock", "GenAISDK", "OllamaSDK", "make_sdk", "make_sync_sdk"]

_PROMPT = MESSAGES[0]["content"]


class AnthropicSDK(PeerAdapter):
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

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


class GenAISDK(PeerAdapter):
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

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aio.aclose()


class OllamaSDK(PeerAdapter):
    """``ollama.AsyncClient(host=...).chat(model=..., messages=..., stream=True)``, iterating
    every part and reading ``part.message.content``; one SDK client per host (the server root).
    The client is httpx's with ``json.loads`` and a pydantic ``ChatResponse`` per line."""

    def __init__(self) -> None:
        import ollama

        self._factory = ollama.AsyncClient
        self._clients: dict[str, Any] = {}

    def _client(self, base: str) -> Any:
        client = self._clients.get(base)
        if client is None:
            client = self._clients[base] = self._factory(host=base)
        return client

    async def complete(self, base: str) -> int:  # pragma: no cover - stream scenarios only
        raise NotImplementedError

    async def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        parts = await self._client(base).chat(model=OLLAMA_MODEL, messages=MESSAGES, stream=True)
        async for part in parts:
            text = part.message.content
            if text:
                chunks += 1
                chars += len(text)
        return chunks, chars

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


class Boto3Bedrock:
    """``boto3.client("bedrock-runtime", endpoint_url=..., region_name=..., static keys,
    config=Config(retries={"total_max_attempts": 1})).converse_stream(...)``, iterating
    ``response["stream"]`` in the calling thread and reading each ``contentBlockDelta``'s
    ``delta.text``: boto3 is blocking, so this is measured as the plain synchronous loop a
    boto3 user writes. botocore SigV4-signs every request, parses the event-stream frames
    (CRCs included) and builds a dict per event from its service model."""

    def __init__(self) -> None:
        import boto3  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

        self._boto3 = boto3
        # One attempt: a failure must fail the measurement, not be retried inside it.
        self._config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
        self._clients: dict[str, Any] = {}
        self._messages = [{"role": "user", "content": [{"text": _PROMPT}]}]

    def _client(self, base: str) -> Any:
        client = self._clients.get(base)
        if client is None:
            client = self._clients[base] = self._boto3.client(
                "bedrock-runtime",
                region_name=AWS_REGION,
                endpoint_url=base,
                aws_access_key_id=AWS_ACCESS_KEY_ID,
                aws_secret_access_key=AWS_SECRET_ACCESS_KEY,
                config=self._config,
            )
        return client

    def complete(self, base: str) -> int:  # pragma: no cover - stream scenarios only
        raise NotImplementedError

    def stream(self, base: str) -> tuple[int, int]:
        chunks = chars = 0
        response = self._client(base).converse_stream(
            modelId=BEDROCK_MODEL, messages=self._messages
        )
        for event in response["stream"]:
            block = event.get("contentBlockDelta")
            if block is not None:
                text = block["delta"].get("text")
                if text:
                    chunks += 1
                    chars += len(text)
        return chunks, chars

    def ttfb(self, base: str) -> int:  # pragma: no cover - not a ttfb client
        raise NotImplementedError

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def make_sdk(name: str, wire: str) -> AsyncAdapter:
    """The async adapter of an official SDK (``anthropic``, ``genai``, ``ollama``).

    Raises:
        ValueError: an unknown SDK, or ``wire`` is not the format it speaks.
    """
    sdks: dict[str, tuple[type[AsyncAdapter], str]] = {
        "anthropic": (AnthropicSDK, "anthropic"),
        "genai": (GenAISDK, "gemini"),
        "ollama": (OllamaSDK, "ollama"),
    }
    if name not in sdks:
        raise ValueError(f"unknown SDK {name!r}")
    sdk, speaks = sdks[name]
    if wire != speaks:
        raise ValueError(f"client {name!r} speaks {speaks}, not {wire}")
    return sdk()


def make_sync_sdk(name: str, wire: str) -> SyncAdapter:
    """The blocking adapter of an official SDK (``boto3``).

    Raises:
        ValueError: an unknown SDK, or ``wire`` is not the format it speaks.
    """
    if name != "boto3":
        raise ValueError(f"unknown blocking SDK {name!r}")
    if wire != "bedrock":
        raise ValueError(f"client {name!r} speaks bedrock, not {wire}")
    return Boto3Bedrock()
