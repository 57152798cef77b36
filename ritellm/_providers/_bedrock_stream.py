"""AWS Bedrock ConverseStream -> ``chat.completion.chunk`` objects (wire-formats §13.4): binary
``application/vnd.amazon.eventstream`` frames (checksummed, see ``_eventstream``) carrying JSON
events, and exception frames that are typed errors.

Pure: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

from typing import Any

from .._errors import ErrorInfo, StreamError
from .._types import AttrDict, ModelResponseStream, decode_plain_text
from ._bedrock_response import EXCEPTION_STATUS, finish_reason, reasoning_block, usage
from ._common import chunk
from ._eventstream import EventStreamDecoder, EventStreamError, Frame
from ._framing import ChunkDecoder, inband_error

__all__ = ["BedrockStreamDecoder"]


class _Tool:
    __slots__ = ("args", "number")

    def __init__(self, number: int) -> None:
        self.number = number  # the OpenAI tool_calls index
        self.args = False  # whether any input fragment arrived


class BedrockStreamDecoder(ChunkDecoder[Frame]):
    """Events in order: ``messageStart``, per content block ``contentBlockStart`` (tool use
    only) / ``contentBlockDelta`` (text, ``toolUse.input`` fragments, ``reasoningContent``) /
    ``contentBlockStop``, ``messageStop`` (the stop reason: the finish chunk), ``metadata``
    (usage: the usage chunk with ``include_usage``; the end of the stream). A stream without
    ``messageStop`` was truncated; an exception frame is a StreamError whose twin is the HTTP
    status AWS sends that exception with.
    """

    __slots__ = (
        "_created",
        "_frames",
        "_id",
        "_include_usage",
        "_model",
        "_started",
        "_stopped",
        "_thinking",
        "_tools",
    )

    def __init__(
        self,
        provider: str,
        *,
        id: str,
        model: str,
        created: int,
        include_usage: bool = False,
        max_event_bytes: int = 1 << 20,
    ) -> None:
        super().__init__(provider)
        self._frames = EventStreamDecoder(max_frame_bytes=max_event_bytes)
        self._id = id
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._started = False
        self._stopped = False
        self._tools: dict[int, _Tool] = {}  # contentBlockIndex -> tool call
        self._thinking: dict[int, int] = {}  # contentBlockIndex -> thinking_blocks index

    def _split(self, data: bytes) -> list[Frame]:
        try:
            return self._frames.feed(data)
        except EventStreamError as exc:
            raise StreamError(str(exc), provider=self._provider) from None

    def _split_last(self) -> list[Frame]:
        try:
            self._frames.close()
        except EventStreamError as exc:
            raise StreamError(str(exc), provider=self._provider) from None
        return []

    def _decode(self, frames: list[Frame], out: list[ModelResponseStream]) -> None:
        for frame in frames:
            kind = frame.headers.get(":message-type")
            if kind != "event":
                if kind in ("exception", "error"):
                    raise self._exception(frame)
                # Not an error the service sent: broken framing, never retried as one.
                raise self._malformed(
                    f"event stream frame with :message-type {kind!r}, neither an event nor "
                    "an exception",
                    frame.payload,
                )
            name = frame.headers.get(":event-type")
            try:
                obj = decode_plain_text(frame.payload.decode())
            except ValueError as exc:
                raise self._malformed(f"malformed JSON in {name} event", frame.payload) from exc
            if type(obj) is not dict:
                raise self._malformed(f"{name} event is not a JSON object", frame.payload)
            if name == "contentBlockDelta":
                self._delta(obj, frame.payload, out)
            elif name == "contentBlockStart":
                self._start(obj, out)
            elif name == "contentBlockStop":
                self._stop(obj, out)
            elif name == "messageStop":
                self._stopped = True
                calls = bool(self._tools)
                out.append(self._chunk(AttrDict(), finish_reason(obj.get("stopReason"), calls)))
            elif name == "metadata":
                # The last event: done (the rest of the body may be dropped), unless the
                # answer never finished, which close() then reports as truncated.
                self._done = self._stopped
                raw = obj.get("usage")
                if self._include_usage and isinstance(raw, dict):
                    last = self._chunk(AttrDict())
                    last["choices"] = []
                    last["usage"] = usage(raw)
                    out.append(last)
            # messageStart (the role comes with the first delta) and events added later.

    def _start(self, obj: dict[str, Any], out: list[ModelResponseStream]) -> None:
        start = obj.get("start")
        use = start.get("toolUse") if isinstance(start, dict) else None
        index = obj.get("contentBlockIndex")
        if not isinstance(use, dict) or type(index) is not int:
            return
        tool = self._tools[index] = _Tool(len(self._tools))
        call = AttrDict(
            index=tool.number,
            id=use.get("toolUseId"),
            type="function",
            function=AttrDict(name=use.get("name"), arguments=""),
        )
        out.append(self._chunk(AttrDict(tool_calls=[call])))

    def _delta(self, obj: dict[str, Any], raw: bytes, out: list[ModelResponseStream]) -> None:
        delta = obj.get("delta")
        if type(delta) is not dict:
            raise self._malformed("contentBlockDelta without a delta object", raw)
        text = delta.get("text")
        if type(text) is str:
            if text:
                out.append(self._chunk(AttrDict(content=text)))
            return
        index = obj.get("contentBlockIndex")
        use = delta.get("toolUse")
        if isinstance(use, dict):
            tool = self._tools.get(index) if type(index) is int else None
            if tool is None:
                raise self._malformed("toolUse delta for a block that was never started", raw)
            fragment = use.get("input")
            if type(fragment) is str and fragment:
                tool.args = True
                call = AttrDict(index=tool.number, function=AttrDict(arguments=fragment))
                out.append(self._chunk(AttrDict(tool_calls=[call])))
            return
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and type(index) is int:
            self._reasoning(index, reasoning, out)

    def _reasoning(self, index: int, raw: dict[str, Any], out: list[ModelResponseStream]) -> None:
        number = self._thinking.setdefault(index, len(self._thinking))
        text = raw.get("text")
        if type(text) is str and text:
            block = AttrDict(index=number, type="thinking", thinking=text)
            out.append(self._chunk(AttrDict(reasoning_content=text, thinking_blocks=[block])))
        elif type(raw.get("signature")) is str:
            block = AttrDict(index=number, type="thinking", signature=raw["signature"])
            out.append(self._chunk(AttrDict(thinking_blocks=[block])))
        elif raw.get("redactedContent") is not None:
            whole = reasoning_block(raw)
            if whole is not None:
                whole["index"] = number
                out.append(self._chunk(AttrDict(thinking_blocks=[whole])))

    def _stop(self, obj: dict[str, Any], out: list[ModelResponseStream]) -> None:
        index = obj.get("contentBlockIndex")
        tool = self._tools.get(index) if type(index) is int else None
        if tool is not None and not tool.args:
            # A call without arguments still gets OpenAI's "{}", never "".
            tool.args = True
            call = AttrDict(index=tool.number, function=AttrDict(arguments="{}"))
            out.append(self._chunk(AttrDict(tool_calls=[call])))

    def _end(self) -> list[ModelResponseStream]:
        if not self._stopped:
            raise self._truncated("messageStop")
        return []

    def _chunk(self, delta: AttrDict, finish: str | None = None) -> ModelResponseStream:
        if not self._started:
            self._started = True
            delta = AttrDict(role="assistant", **delta)
        return chunk(
            id=self._id, created=self._created, model=self._model, delta=delta, finish_reason=finish
        )

    def _exception(self, frame: Frame) -> StreamError:
        """An exception (or error) frame: the service's error inside the 200 stream."""
        headers = frame.headers
        name = headers.get(":exception-type") or headers.get(":error-code")
        name = name if isinstance(name, str) else "UnknownException"
        message: object = headers.get(":error-message")
        body: Any = None
        try:
            body = decode_plain_text(frame.payload.decode()) if frame.payload else None
        except ValueError:
            body = frame.payload.decode("utf-8", "replace")
        if isinstance(body, dict):
            message = body.get("message", body.get("Message", message))
        type_name = name[:1].upper() + name[1:]  # throttlingException -> ThrottlingException
        info = ErrorInfo(message if isinstance(message, str) else None, type=type_name, body=body)
        err = inband_error(info, self._provider, EXCEPTION_STATUS.get(type_name, 500))
        if type_name == "ModelStreamErrorException":
            # The model failed while generating: a StreamError even before any chunk (it
            # has no HTTP twin a caller would handle differently).
            info.status = None
        return err
