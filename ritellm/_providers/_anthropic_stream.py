"""Anthropic Messages responses -> OpenAI shapes: a message as a ``chat.completion``, the SSE
event state machine that turns a stream into ``chat.completion.chunk`` objects, and the error
shape. Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import ErrorInfo, StreamError
from .._types import AttrDict, ModelResponse, ModelResponseStream, decode_json_text
from ..sse import ServerSentEvent
from ._common import chunk, completion, dumps, parse_error_body
from ._common import usage as openai_usage
from .openai import OpenAIStreamDecoder, inband_status

__all__ = [
    "AnthropicStreamDecoder",
    "error_info",
    "error_status",
    "finish_reason",
    "message_completion",
    "usage",
]

# stop_reason -> OpenAI finish_reason (wire-formats §9.2); anything else is "stop".
# fmt: off
_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "model_context_window_exceeded": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# fmt: on

# error.type -> the HTTP status Anthropic sends it with (wire-formats §4.9): the "twin" of an
# error that arrives inside a 200 stream, so it maps to the class (and retry rule) it would
# have had as an HTTP error.
# fmt: off
_ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
# fmt: on


def finish_reason(stop_reason: object) -> str:
    """OpenAI's ``finish_reason`` for an Anthropic ``stop_reason`` (unmapped -> "stop")."""
    return _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _count(value: object) -> int:
    return value if type(value) is int else 0


def usage(raw: Mapping[str, Any]) -> AttrDict:
    """OpenAI's usage object for Anthropic's ``usage``.

    Anthropic's ``input_tokens`` excludes cached tokens, so the prompt total adds the cache
    reads and writes (OpenAI's convention: prompt_tokens counts every input token). The cache
    counts are also kept as top-level keys under LiteLLM's names.
    """
    read = raw.get("cache_read_input_tokens")
    write = raw.get("cache_creation_input_tokens")
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    extra: dict[str, int] = {}
    if type(write) is int:
        extra["cache_creation_input_tokens"] = write
    if type(read) is int:
        extra["cache_read_input_tokens"] = read
    return openai_usage(
        _count(raw.get("input_tokens")) + _count(write) + _count(read),
        _count(raw.get("output_tokens")),
        cached=read if type(read) is int else None,
        reasoning=thinking if type(thinking) is int else None,
        extra=extra,
    )


def error_info(body: bytes) -> ErrorInfo:
    """Anthropic's ``{"type": "error", "error": {"type", "message"}, "request_id"}`` as an
    ErrorInfo whose body is the inner error object; any other shape goes to the
    OpenAI-compatible parser (proxies in front of Anthropic answer in many shapes)."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return parse_error_body(body)
    if (
        not isinstance(parsed, dict)
        or parsed.get("type") != "error"
        or not isinstance(parsed.get("error"), dict)
    ):
        return parse_error_body(body)
    inner = parsed["error"]
    message = inner.get("message")
    kind = inner.get("type")
    return ErrorInfo(
        message if isinstance(message, str) else None,
        type=kind if isinstance(kind, str) else None,
        body=inner,
    )


def error_status(info: ErrorInfo) -> int:
    """The HTTP twin of an Anthropic error that arrived without its own status."""
    status = _ERROR_STATUS.get(info.type or "")
    return status if status is not None else inband_status(info)


def message_completion(obj: Mapping[str, Any], model: str, now: int) -> ModelResponse | None:
    """A Messages API message as a ``chat.completion``.

    Args:
        obj: the decoded response body.
        model: the requested model id, for a body that names none.
        now: the unix time for ``created`` (Anthropic sends none).

    Returns:
        The completion, or None when ``obj`` is not a message (the caller raises).
    """
    content = obj.get("content")
    if not isinstance(content, list) or obj.get("type", "message") != "message":
        return None
    texts: list[str] = []
    calls: list[AttrDict] = []
    reasoning: list[str] = []
    blocks: list[AttrDict] = []
    for block in content:
        if not isinstance(block, Mapping):
            return None
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            given = block.get("input")
            function = AttrDict(
                name=block.get("name"),
                arguments=dumps(given) if isinstance(given, Mapping) and given else "{}",
            )
            calls.append(AttrDict(id=block.get("id"), type="function", function=function))
        elif kind == "thinking":
            text = block.get("thinking")
            text = text if isinstance(text, str) else ""
            reasoning.append(text)
            entry = AttrDict(type="thinking", thinking=text)
            if isinstance(block.get("signature"), str):
                entry["signature"] = block["signature"]
            blocks.append(entry)
        elif kind == "redacted_thinking":
            blocks.append(AttrDict(type="redacted_thinking", data=block.get("data")))
        # Server tool blocks and block types added later: not mapped.
    text = "".join(texts)
    message = AttrDict(role="assistant", content=text or (None if calls else ""))
    if calls:
        message["tool_calls"] = calls
    if "".join(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    if blocks:
        message["thinking_blocks"] = blocks
    message["refusal"] = None
    choice = AttrDict(
        index=0, message=message, logprobs=None, finish_reason=finish_reason(obj.get("stop_reason"))
    )
    served = obj.get("model")
    raw = obj.get("usage")
    return completion(
        id=obj["id"] if isinstance(obj.get("id"), str) else "",
        created=now,
        model=served if isinstance(served, str) else model,
        choices=[choice],
        usage=usage(raw) if isinstance(raw, Mapping) else None,
    )


class _Block:
    """What the decoder remembers of one open content block."""

    __slots__ = ("args", "kind", "number")

    def __init__(self, kind: str, number: int = 0) -> None:
        self.kind = kind  # "text", "tool_use", "thinking" or "other" (ignored)
        self.number = number  # the tool call's or the thinking block's OpenAI-side index
        self.args = False  # a tool call whose arguments have been emitted


class AnthropicStreamDecoder(OpenAIStreamDecoder):
    """SSE events -> chunks, following Anthropic's event sequence (wire-formats §4.4):
    ``message_start`` (id, model, input usage), per content block ``content_block_start`` /
    ``content_block_delta`` / ``content_block_stop``, ``message_delta`` (stop reason,
    cumulative usage), ``message_stop`` (end). ``ping`` and unknown events are ignored;
    ``error`` raises StreamError with ``inband`` set.

    No chunk is emitted before the first real delta, so an error right after
    ``message_start`` (a captured real failure) surfaces before anything reaches the caller.
    A body that ends before ``message_stop`` raises StreamError from :meth:`close`. SSE
    framing, and delivering the chunks before an error found in the same read, are the
    OpenAI decoder's.
    """

    __slots__ = (
        "_blocks",
        "_created",
        "_id",
        "_include_usage",
        "_model",
        "_started",
        "_stop_reason",
        "_thinking",
        "_tools",
        "_usage",
    )

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
        self._created = created
        self._include_usage = include_usage
        self._id = ""  # until message_start gives the message's id and model
        self._model = model
        self._started = False  # whether a chunk was emitted (the first carries the role)
        self._blocks: dict[int, _Block] = {}  # open content blocks by Anthropic's index
        self._tools = 0  # tool calls seen: the next one's OpenAI index
        self._thinking = 0  # thinking blocks seen: the next one's thinking_blocks index
        self._stop_reason: Any = None
        self._usage: dict[str, Any] = {}

    def close(self) -> list[ModelResponseStream]:
        if self._failure is not None:
            raise self._failure
        self._sse.close()  # an unfinished last event is discarded (SSE rules)
        if not self._done:
            raise StreamError(
                "stream ended before message_stop (the response was truncated)",
                provider=self._provider,
            )
        return []

    def _decode(self, events: list[ServerSentEvent], out: list[ModelResponseStream]) -> None:
        for event in events:
            if self._done:
                break  # nothing after message_stop is part of the answer
            data = event.data
            try:
                obj = decode_json_text(data)
            except ValueError as exc:
                if data.strip():
                    raise self._malformed("malformed JSON in stream event", data) from exc
                obj = AttrDict()  # an event without data: its name says what it is
            if type(obj) is not AttrDict:
                raise self._malformed("stream event is not a JSON object", data)
            # The JSON's own type decides (LiteLLM-style servers send data lines only); the
            # SSE event name stands in when it is missing.
            kind = obj.get("type") or event.event
            if kind == "content_block_delta":
                self._delta(obj, data, out)
            elif kind == "content_block_start":
                self._start(obj, data, out)
            elif kind == "content_block_stop":
                index = obj.get("index")
                block = self._blocks.pop(index, None) if type(index) is int else None
                if block is not None:
                    self._close_block(block, out)
            elif kind == "message_start":
                self._message_start(obj)
            elif kind == "message_delta":
                self._message_delta(obj)
            elif kind == "message_stop":
                self._finish(out)
            elif kind == "error" or ("type" not in obj and obj.get("error")):
                raise self._error(data)
            # ping, and event types added after this was written: ignored (§4.4).

    def _emit(
        self, out: list[ModelResponseStream], delta: AttrDict, finish: str | None = None
    ) -> None:
        if not self._started:
            self._started = True
            delta = AttrDict(role="assistant", **delta)
        out.append(
            chunk(
                id=self._id,
                created=self._created,
                model=self._model,
                delta=delta,
                finish_reason=finish,
            )
        )

    def _start(self, obj: AttrDict, data: str, out: list[ModelResponseStream]) -> None:
        index = obj.get("index")
        if type(index) is not int:
            raise self._malformed("content_block_start without an integer index", data)
        block = obj.get("content_block")
        if type(block) is not AttrDict:
            raise self._malformed("content_block_start without a content_block object", data)
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = block.get("text")
            if type(text) is str and text:
                self._emit(out, AttrDict(content=text))
        elif kind == "tool_use":
            state = self._blocks[index] = _Block("tool_use", self._tools)
            self._tools += 1
            # The API starts every tool_use block with "input": {}; should a server send the
            # whole input here instead, it is the arguments.
            given = block.get("input")
            arguments = dumps(given) if type(given) is AttrDict and given else ""
            state.args = bool(arguments)
            call = AttrDict(
                index=state.number,
                id=block.get("id"),
                type="function",
                function=AttrDict(name=block.get("name"), arguments=arguments),
            )
            self._emit(out, AttrDict(tool_calls=[call]))
        elif kind == "thinking":
            state = self._blocks[index] = _Block("thinking", self._thinking)
            self._thinking += 1
            self._thinking_delta(state, block.get("thinking"), out)
            self._signature(state, block.get("signature"), out)
        elif kind == "redacted_thinking":
            # Opaque and sent whole at the start; nothing more arrives for this block.
            self._blocks[index] = _Block("other")
            fragment = AttrDict(index=self._thinking, type="redacted_thinking")
            fragment["data"] = block.get("data")
            self._thinking += 1
            self._emit(out, AttrDict(thinking_blocks=[fragment]))
        else:
            # Server tools and their results, and block types added later: not mapped.
            self._blocks[index] = _Block("other")

    def _delta(self, obj: AttrDict, data: str, out: list[ModelResponseStream]) -> None:
        index = obj.get("index")
        block = self._blocks.get(index) if type(index) is int else None
        if block is None:
            raise self._malformed("content_block_delta for a block that was never started", data)
        delta = obj.get("delta")
        if type(delta) is not AttrDict:
            raise self._malformed("content_block_delta without a delta object", data)
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if type(text) is str and text:
                self._emit(out, AttrDict(content=text))
        elif kind == "input_json_delta":
            fragment = delta.get("partial_json")
            # The first fragment is often "": skipped, it carries nothing.
            if block.kind == "tool_use" and type(fragment) is str and fragment:
                block.args = True
                call = AttrDict(index=block.number, function=AttrDict(arguments=fragment))
                self._emit(out, AttrDict(tool_calls=[call]))
        elif kind == "thinking_delta" and block.kind == "thinking":
            self._thinking_delta(block, delta.get("thinking"), out)
        elif kind == "signature_delta" and block.kind == "thinking":
            self._signature(block, delta.get("signature"), out)
        # citations_delta and delta types added later: ignored.

    def _thinking_delta(self, block: _Block, text: object, out: list[ModelResponseStream]) -> None:
        if type(text) is str and text:
            fragment = AttrDict(index=block.number, type="thinking", thinking=text)
            self._emit(out, AttrDict(reasoning_content=text, thinking_blocks=[fragment]))

    def _signature(self, block: _Block, signature: object, out: list[ModelResponseStream]) -> None:
        if type(signature) is str and signature:
            fragment = AttrDict(index=block.number, type="thinking", signature=signature)
            self._emit(out, AttrDict(thinking_blocks=[fragment]))

    def _close_block(self, block: _Block, out: list[ModelResponseStream]) -> None:
        if block.kind == "tool_use" and not block.args:
            # A call without arguments streams none: "{}" keeps the assembled call parseable.
            block.args = True
            call = AttrDict(index=block.number, function=AttrDict(arguments="{}"))
            self._emit(out, AttrDict(tool_calls=[call]))

    def _message_start(self, obj: AttrDict) -> None:
        message = obj.get("message")
        if type(message) is not AttrDict:
            return
        if type(message.get("id")) is str:
            self._id = message["id"]
        if type(message.get("model")) is str:
            self._model = message["model"]
        if message.get("stop_reason") is not None:
            self._stop_reason = message["stop_reason"]
        raw = message.get("usage")
        if type(raw) is AttrDict:
            self._usage.update(raw)

    def _message_delta(self, obj: AttrDict) -> None:
        delta = obj.get("delta")
        if type(delta) is AttrDict and delta.get("stop_reason") is not None:
            self._stop_reason = delta["stop_reason"]
        raw = obj.get("usage")
        if type(raw) is AttrDict:
            # Cumulative counts: a field present here replaces the one from message_start
            # (input and cache counts are sent again by newer API versions, or null).
            self._usage.update((k, v) for k, v in raw.items() if v is not None)

    def _finish(self, out: list[ModelResponseStream]) -> None:
        self._done = True
        # Tool blocks a server never stopped still get their "{}", in call order.
        for block in sorted(self._blocks.values(), key=lambda b: b.number):
            self._close_block(block, out)
        self._blocks.clear()
        self._emit(out, AttrDict(), finish_reason(self._stop_reason))
        if self._include_usage:
            last = chunk(id=self._id, created=self._created, model=self._model, delta=AttrDict())
            last["choices"] = []
            last["usage"] = usage(self._usage)
            out.append(last)

    def _error(self, data: str) -> StreamError:
        info = error_info(data.encode())
        info.status = error_status(info)
        err = StreamError(
            info.message or "An error occurred during streaming",
            type=info.type,
            code=info.code,
            param=info.param,
            provider=self._provider,
            body=info.body,
        )
        err.inband = info
        return err
