"""Reading Ollama's native chat responses (wire-formats §6.2-§6.5): messages, tool calls,
finish reasons, usage and errors as OpenAI's, for whole responses and NDJSON streams.

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ErrorInfo, StreamError
from .._types import AttrDict, ModelResponseStream, decode_plain_text
from ._common import call_id, chunk, dumps, parse_error_body, usage
from ._framing import LineChunkDecoder, inband_error

__all__ = [
    "OllamaStreamDecoder",
    "error_info",
    "finish_reason",
    "message_of",
    "response_id",
    "tool_calls",
    "twin_status",
    "usage_of",
]

_NOT_FOUND = re.compile(r"model ['\"]?([^'\"]+?)['\"]? not found")


def error_info(body: bytes) -> ErrorInfo:
    """Ollama's ``{"error": "text"}`` (and the OpenAI-compatible shapes); a missing model gets
    the command that fixes it."""
    info = parse_error_body(body)
    found = _NOT_FOUND.search(info.message or "")
    if found is not None:
        info.message = f"{info.message} (pull it first: ollama pull {found.group(1)})"
    return info


def twin_status(info: ErrorInfo) -> int:
    """The HTTP status an error sent inside a 200 response stands for: Ollama's errors carry
    no type, so a missing model is a 404 and anything else a server error (retried)."""
    return 404 if _NOT_FOUND.search(info.message or "") else 500


def response_id(seed: bytes | str) -> str:
    """Ollama sends no id: one derived from the first object (its model and timestamp), so
    every chunk of a stream carries the same id and different responses different ones."""
    data = seed.encode() if isinstance(seed, str) else seed
    return "chatcmpl-" + hashlib.sha256(data).hexdigest()[:24]


def message_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    message = obj.get("message")
    return message if isinstance(message, Mapping) else {}


def tool_calls(raw: object, rid: str, first: int) -> list[AttrDict] | None:
    """OpenAI tool calls from Ollama's whole calls, numbered from ``first``. Arguments arrive
    as an object (a string from some servers) and leave as OpenAI's JSON text; older servers
    send no id, so one is made up (stable for the response and the call's position)."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise ValueError("tool_calls is not a list")
    out = []
    for k, call in enumerate(raw):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ValueError("a tool call has no function name")
        arguments = function.get("arguments")
        if arguments is None:
            arguments = {}
        text = arguments if isinstance(arguments, str) else dumps(arguments)
        given = call.get("id")
        out.append(
            AttrDict(
                index=first + k,
                id=given if isinstance(given, str) and given else call_id(rid, first + k),
                type="function",
                function=AttrDict(name=function["name"], arguments=text),
            )
        )
    return out


def finish_reason(raw: object, has_calls: bool) -> str:
    """OpenAI's finish_reason for a ``done_reason``: Ollama says "stop" after tool calls too,
    and older servers say nothing."""
    if has_calls:
        return "tool_calls"
    if raw == "length":
        return "length"
    return "stop"  # "stop", "load"/"unload", or absent


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if type(value) is int else 0  # omitted when zero (Go's omitempty)


def usage_of(obj: Mapping[str, Any]) -> AttrDict:
    return usage(_count(obj, "prompt_eval_count"), _count(obj, "eval_count"))


class OllamaStreamDecoder(LineChunkDecoder):
    """Ollama's NDJSON stream -> ``chat.completion.chunk`` objects (wire-formats §6.3, §6.4).

    Each line is one object: fragments of ``message.content`` / ``message.thinking``, whole
    ``tool_calls``, then a last object with ``"done": true``, ``done_reason`` and the token
    counts, which ends the stream (a finish chunk, then with ``include_usage`` the usage
    chunk). A ``{"error": ...}`` line is a StreamError; a body without the done line was
    truncated. Lines with nothing in them (an empty first fragment) make no chunk.
    """

    __slots__ = ("_calls", "_closing", "_created", "_id", "_include_usage", "_model", "_started")

    def __init__(
        self,
        provider: str,
        *,
        model: str,
        created: int,
        include_usage: bool = False,
        max_event_bytes: int = 1 << 20,
    ) -> None:
        super().__init__(provider, max_event_bytes=max_event_bytes)
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._id = ""  # from the first line: Ollama sends no id
        self._started = False
        self._calls = 0
        self._closing = False

    def _decode(self, frames: list[bytes], out: list[ModelResponseStream]) -> None:
        for line in frames:
            if self._done:
                return  # nothing follows the done line
            try:
                # Plain dicts: the object never reaches the caller, its chunks are built.
                obj = decode_plain_text(line.decode())
            except ValueError as exc:
                if self._closing:  # a last line without its newline that does not parse
                    raise self._truncated('the final line with "done": true') from exc
                raise self._malformed("malformed JSON line in Ollama stream", line) from exc
            if type(obj) is not dict:
                raise self._malformed("Ollama stream line is not a JSON object", line)
            if obj.get("error") is not None:
                raise self._inband(line)
            if not self._id:
                self._id = response_id(line.strip())  # the same for LF and CRLF framing
                model = obj.get("model")
                if type(model) is str and model:
                    self._model = model
            self._object(obj, line, out)

    def _object(self, obj: dict[str, Any], line: bytes, out: list[ModelResponseStream]) -> None:
        message = message_of(obj)
        delta = AttrDict()
        thinking = message.get("thinking")
        if type(thinking) is str and thinking:
            delta["reasoning_content"] = thinking
        content = message.get("content")
        if type(content) is str and content:
            delta["content"] = content
        raw = message.get("tool_calls")
        if raw:
            try:
                calls = tool_calls(raw, self._id, self._calls)
            except ValueError as exc:
                raise self._malformed(f"malformed Ollama tool call ({exc})", line) from None
            if calls:
                self._calls += len(calls)
                delta["tool_calls"] = calls
        if delta:
            out.append(self._chunk(delta))
        if obj.get("done") is True:
            self._done = True
            out.append(
                self._chunk(AttrDict(), finish_reason(obj.get("done_reason"), self._calls > 0))
            )
            if self._include_usage:
                last = self._chunk(AttrDict())
                last["choices"] = []
                last["usage"] = usage_of(obj)
                out.append(last)

    def _split_last(self) -> list[bytes]:
        self._closing = True  # what is decoded from here on is a last line with no newline
        return super()._split_last()

    def _end(self) -> list[ModelResponseStream]:
        if not self._done:
            raise self._truncated('the final line with "done": true')
        return []

    def _chunk(self, delta: AttrDict, finish: str | None = None) -> ModelResponseStream:
        if not self._started:
            self._started = True
            delta = AttrDict(role="assistant", **delta)
        return chunk(
            id=self._id, created=self._created, model=self._model, delta=delta, finish_reason=finish
        )

    def _inband(self, line: bytes) -> StreamError:
        info = error_info(line)
        return inband_error(info, self._provider, twin_status(info))
