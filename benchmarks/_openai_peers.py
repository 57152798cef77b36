"""The OpenAI-format peers, each called the way its docs show and read to the end: aiohttp
with ``json.loads`` (the lower bound of a C HTTP parser), the OpenAI SDK and LiteLLM.

Imported only by the worker that measures one of them (``_clients.make_async``); each peer is
imported lazily, so none is needed to run the rest of the suite.
"""

from __future__ import annotations

import json
from typing import Any, cast

from ._clients import API_KEY, PeerAdapter, count_openai_chunks
from ._payloads import MESSAGES, MODEL

__all__ = ["Aiohttp", "LiteLLM", "OpenAISDK"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Aiohttp(PeerAdapter):
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

    async def aclose(self) -> None:
        await self._session.close()


class OpenAISDK(PeerAdapter):
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
        s = await self._client(base).chat.completions.create(
            model=MODEL, messages=cast(Any, MESSAGES), stream=True
        )
        counts = [0, 0]
        async with s:
            async for chunk in s:
                count_openai_chunks(chunk, counts)
        return counts[0], counts[1]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


class LiteLLM(PeerAdapter):
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
        s = await self._acompletion(
            model=self._model, messages=MESSAGES, api_base=base, api_key=API_KEY, stream=True
        )
        counts = [0, 0]
        async for chunk in s:
            count_openai_chunks(chunk, counts)
        return counts[0], counts[1]

    async def aclose(self) -> None:
        pass
