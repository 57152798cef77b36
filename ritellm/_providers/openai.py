"""OpenAI Chat Completions wire format (also Azure-less OpenAI-compatible hosts: vLLM, llama.cpp,
Groq, OpenRouter, ...). Pure translator: builds request bytes, parses bodies and SSE chunks.

Imports only the standard library and ritellm's pure modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._error_map import error_from_response
from .._errors import ErrorInfo, ParameterError, StreamError
from .._types import (
    AttrDict,
    CompletionRequest,
    Credentials,
    HttpRequest,
    Media,
    ModelResponse,
    ModelResponseStream,
    decode_json_text,
    retype,
)
from .._version import __version__
from . import NO_HEADERS, ProviderSpec, endpoint
from ._common import BaseProvider, parse_error_body
from ._framing import SSEChunkDecoder, inband_error, invalid_response, json_body

__all__ = ["OpenAIProvider", "OpenAIStreamDecoder", "inband_status", "make_provider"]

_USER_AGENT = f"ritellm/{__version__}".encode()
_set_class = object.__setattr__  # obj.__class__ = X without AttrDict's __setattr__
_JSON = b"application/json"
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class OpenAIProvider(BaseProvider):
    """Translator for ``POST {base_url}/chat/completions``."""

    def build_request(
        self, req: CompletionRequest, creds: Credentials, media: Mapping[str, Media]
    ) -> HttpRequest:
        return self._request(req, creds, endpoint(creds, "/chat/completions"))

    def _request(self, req: CompletionRequest, creds: Credentials, url: str) -> HttpRequest:
        payload: dict[str, Any] = {"model": req.model, "messages": req.messages}
        payload.update(req.params)
        if req.stream:
            payload["stream"] = True
        headers = [
            (b"Content-Type", _JSON),
            (b"Accept", b"text/event-stream" if req.stream else _JSON),
            (b"User-Agent", _USER_AGENT),
        ]
        if creds.api_key:
            auth = self._auth(creds)
            if any(name.lower() == auth[0].lower() for name, _ in creds.headers):
                raise ParameterError(
                    f"base_url has a user:password (sent as Basic auth) and {self.spec.name} "
                    f"sends its key in the same {auth[0].decode()} header: give one of them"
                )
            headers.append(auth)
        headers.extend(creds.headers)
        return HttpRequest(method=b"POST", url=url, headers=headers, body=_dumps(payload).encode())

    def _auth(self, creds: Credentials) -> tuple[bytes, bytes]:
        assert creds.api_key is not None
        return (b"Authorization", b"Bearer " + creds.api_key.encode())

    def parse_completion(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        req: CompletionRequest,
        now: int,
    ) -> ModelResponse:
        obj = json_body(self.spec.name, status, headers, body)
        if isinstance(obj, dict) and obj.get("error"):
            # llama.cpp (and some proxies) have sent errors with a 2xx status.
            info = parse_error_body(body)
            raise error_from_response(status, headers, body, info=info, provider=self.spec.name)
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            raise invalid_response(
                self.spec.name, status, headers, body, "response is not a chat.completion object"
            )
        return retype(obj, ModelResponse)

    def stream_decoder(
        self,
        req: CompletionRequest,
        *,
        now: int,
        max_event_bytes: int,
        headers: Mapping[str, str] = NO_HEADERS,
    ) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(self.spec.name, max_event_bytes=max_event_bytes)


class OpenAIStreamDecoder(SSEChunkDecoder):
    """SSE events → chunks. ``data: [DONE]`` ends the stream; ``{"error": ...}`` raises.

    A body that ends before ``[DONE]`` and before any choice finished is a truncated stream
    and raises StreamError from :meth:`close` rather than passing for success.
    """

    __slots__ = ("_last_choices",)

    def __init__(self, provider: str, *, max_event_bytes: int = 1 << 20) -> None:
        super().__init__(provider, max_event_bytes=max_event_bytes)
        self._last_choices: list[Any] = []

    def _end(self) -> list[ModelResponseStream]:
        finished = any(choice.get("finish_reason") for choice in self._last_choices)
        if not self._done and not finished:
            raise self._truncated("data: [DONE] and before any choice finished")
        return []

    def _decode(self, events: list[Any], out: list[ModelResponseStream]) -> None:
        # The per-chunk hot path: ~1 µs here besides the JSON decode itself. Exact type
        # checks (decoded objects are always AttrDict) and the class swap are inlined.
        decode = decode_json_text
        for event in events:
            if self._done:
                break  # anything after [DONE] is not part of the answer
            data: str = event.data
            if data == "[DONE]":
                self._done = True
                continue
            if event.event == "error":
                raise self._error(data)
            try:
                obj = decode(data)
            except ValueError as exc:
                raise self._malformed("malformed JSON in stream event", data) from exc
            if type(obj) is not AttrDict:
                raise self._malformed("stream event is not a JSON object", data)
            if obj.get("error"):
                raise self._error(data)
            choices = obj.get("choices")
            if choices:
                if type(choices) is not list:
                    raise self._malformed("stream chunk has malformed choices", data)
                for choice in choices:
                    if type(choice) is not AttrDict:
                        raise self._malformed("stream chunk has malformed choices", data)
                # The truncation check at close() needs only the last choices seen: a
                # complete answer's last ones carry a finish_reason.
                self._last_choices = choices
            elif choices is not None and type(choices) is not list:
                raise self._malformed("stream chunk has malformed choices", data)
            _set_class(obj, "__class__", ModelResponseStream)
            out.append(obj)  # type: ignore[arg-type]  # its class is now ModelResponseStream

    def _error(self, data: str) -> StreamError:
        info = parse_error_body(data.encode())
        return inband_error(info, self._provider, inband_status(info))


def inband_status(info: ErrorInfo) -> int:
    """The HTTP twin of an error event inside a 200 stream: a numeric code in the error
    (OpenRouter sends the upstream status), else by its type, else 500."""
    if info.code is not None and info.code.isdigit() and 400 <= int(info.code) <= 599:
        return int(info.code)
    kind = (info.type or "").lower()
    if "rate_limit" in kind or kind in ("requests", "tokens"):
        return 429
    if kind == "invalid_request_error":
        return 400
    return 500


def make_provider(spec: ProviderSpec) -> OpenAIProvider:
    """Registry hook: the translator for ``spec``."""
    return OpenAIProvider(spec)
