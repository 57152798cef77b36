"""The Anthropic Messages SSE event state machine: a stream of content-block events as
``chat.completion.chunk`` objects (wire-formats §4.4-§4.9).

Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from typing import Any

from .._errors import StreamError
from .._types import AttrDict, ModelResponseStream, decode_plain_text
from ..sse import ServerSentEvent
from ._anthropic_response import error_info, error_status, finish_reason, usage
from ._common import chunk, dumps
from ._framing import SSEChunkDecoder, inband_error

__all__ = ["AnthropicStreamDecoder"]


class _Block:
    """What the decoder remembers of one open content block."""

    __slots__ = ("args", "kind", "number")

    def __init__(self, kind: str, number: int = 0) -> None:
        self.kind = kind  # "text", "tool_use", "thinking" or "other" (ignored)
        self.number = number  # the tool call's or the thinking block's OpenAI-side index
        self.args = False  # a tool call whose arguments have been emitted


class AnthropicStreamDecoder(SSEChunkDecoder):
    """SSE events -> chunks, following Anthropic's event sequence (wire-formats §4.4):
    ``message_start`` (id, model, input usage), per content block ``content_block_start`` /
    ``content_block_delta`` / ``content_block_stop``, ``message_delta`` (stop reason,
    cumulative usage), ``message_stop`` (end). ``ping`` and unknown events are ignored;
    ``error`` raises StreamError with ``inband`` set.

    No chunk is emitted before the first real delta, so an error right after
    ``message_start`` (a captured real failure) surfaces before anything reaches the caller.
    A body that ends before ``message_stop`` raises StreamError from :meth:`close`. SSE
    framing, and delivering the chunks before an error found in the same read, are the
    base class's.
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

    def _end(self) -> list[ModelResponseStream]:
        if not self._done:
            raise self._truncated("message_stop")
        return []

    def _decode(self, events: list[ServerSentEvent], out: list[ModelResponseStream]) -> None:
        for event in events:
            if self._done:
                break  # nothing after message_stop is part of the answer
            data = event.data
            try:
                # Plain dicts: events are translated into new chunks, never handed over.
                obj = decode_plain_text(data)
            except ValueError as exc:
                if data.strip():
                    raise self._malformed("malformed JSON in stream event", data) from exc
                obj = {}  # an event without data: its name says what it is
            if type(obj) is not dict:
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

    def _start(self, obj: dict[str, Any], data: str, out: list[ModelResponseStream]) -> None:
        index = obj.get("index")
        if type(index) is not int:
            raise self._malformed("content_block_start without an integer index", data)
        block = obj.get("content_block")
        if type(block) is not dict:
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
            arguments = dumps(given) if type(given) is dict and given else ""
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

    def _delta(self, obj: dict[str, Any], data: str, out: list[ModelResponseStream]) -> None:
        index = obj.get("index")
        block = self._blocks.get(index) if type(index) is int else None
        if block is None:
            raise self._malformed("content_block_delta for a block that was never started", data)
        delta = obj.get("delta")
        if type(delta) is not dict:
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

    def _message_start(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        if type(message) is not dict:
            return
        if type(message.get("id")) is str:
            self._id = message["id"]
        if type(message.get("model")) is str:
            self._model = message["model"]
        if message.get("stop_reason") is not None:
            self._stop_reason = message["stop_reason"]
        raw = message.get("usage")
        if type(raw) is dict:
            self._usage.update(raw)

    def _message_delta(self, obj: dict[str, Any]) -> None:
        delta = obj.get("delta")
        if type(delta) is dict and delta.get("stop_reason") is not None:
            self._stop_reason = delta["stop_reason"]
        raw = obj.get("usage")
        if type(raw) is dict:
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
        return inband_error(info, self._provider, error_status(info))
