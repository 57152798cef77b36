"""The `Reply` value (what the simulator answers next, faults included) and the reply script.

Pure: stdlib and attrs only; no anyio, sockets or I/O.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Literal, get_args

import attrs
from attrs import validators as v

__all__ = ["FAULTS", "Fault", "RecordedRequest", "Reply", "ReplyScript"]

Fault = Literal[
    "reset",
    "stall",
    "no_response",
    "truncate",
    "malformed",
    "stream_error",
    "html",
    "empty",
    "close",
    "drip",
]
FAULTS: frozenset[str] = frozenset(get_args(Fault))

_opt_str = v.optional(v.instance_of(str))
_flag = v.instance_of(bool)


def _count(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"Reply.{attribute.name} must be an int >= 0, got {value!r}")


def _opt_pos_int(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"Reply.{attribute.name} must be an int >= 1 or None, got {value!r}")


def _seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"Reply.{attribute.name} must be a number of seconds >= 0, got {value!r}")


def _status(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 200 <= value <= 599:
        raise ValueError(f"Reply.status must be an HTTP status from 200 to 599, got {value!r}")


def _str_dict(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in value.items()
    ):
        raise TypeError(f"Reply.{attribute.name} must be a dict of str to str, got {value!r}")
    for k, x in value.items():
        if not k or any(c in k + x for c in "\r\n\0") or any(c in k for c in " :"):
            raise ValueError(f"Reply.{attribute.name} has an invalid HTTP header: {k!r}: {x!r}")


def _tool_calls(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and isinstance(c.get("arguments", ""), (str, dict))
        for c in value
    ):
        raise TypeError(
            "Reply.tool_calls must be a list of {'name': str, 'arguments': str | dict"
            f"[, 'id': str]}} objects, got {value!r}"
        )


def _fault(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in FAULTS:
        raise ValueError(f"Reply.fault must be one of {sorted(FAULTS)} or None, got {value!r}")


@attrs.frozen(kw_only=True)
class Reply:
    """How the simulator answers one request: keyword-only, every field optional, each one
    rendered in the format of the route that was called. Invalid values raise ValueError or
    TypeError here.

    The ``*_after`` fields of stream faults count streamed events already sent (OpenAI: the
    role chunk is the first; Azure: the prompt-filter chunk; Anthropic: ``message_start``),
    e.g. ``stall_after=1`` goes silent right after the first event. How each fault looks on
    the wire is listed in the ``ritellm.testing`` module docstring.

    Attributes:
        content: assistant text. None: a short deterministic answer that echoes the last user
            message (no text when there are ``tool_calls``).
        chunk_size: characters per streamed chunk (content, reasoning and tool arguments).
            None: word-ish tokens (each word with its trailing whitespace) for text, 8
            characters for arguments.
        delay: seconds between streamed events (for ``fault="drip"``: between single-byte
            writes).
        latency: seconds to wait before the response headers are sent.
        status: the HTTP status (200-599); from 400 up the body is the format's error object.
        headers: extra response headers (added after the simulator's own).
        body: raw body override: a dict is JSON-encoded, str/bytes are sent as they are.
        content_type: Content-Type for ``body`` (default ``application/json``) or the
            ``html`` fault.
        error_message: the error object's message (``status`` >= 400, ``stream_error``).
        error_type: the error object's type.
        error_code: the error object's code.
        tool_calls: ``[{"name": ..., "arguments": "<json string>" or dict, "id": optional}]``.
        finish_reason: sent verbatim as the format's finish/stop reason.
        usage: replaces the format's usage object verbatim (OpenAI ``usage``, Anthropic
            ``usage`` in the message and in ``message_start``/``message_delta``, Gemini
            ``usageMetadata``).
        model: the model the response reports (default: the request's; Azure: the
            deployment).
        fault: one of :data:`FAULTS` (``"reset"``, ``"stall"``, ``"truncate"``, ...), or None.
        reset_after: ``reset``: response bytes (head included) written before the RST; a
            shorter response is sent whole, then reset.
        stall_after: ``stall``: events written before going silent (0: right after the
            headers).
        truncate_after: ``truncate``: events written before the body ends early.
        malformed_after: ``malformed``: events written before the invalid one.
        error_after: ``stream_error``: events written before the in-band error.
        event_size: pad each streamed content event's text so the event is at least this
            many bytes.
        crlf: end SSE lines with CRLF instead of LF.
        keepalive_comments: put a ``: keep-alive`` comment before every event after the
            first.
        split_data_lines: split each event's JSON over two ``data:`` lines.
        extra_fields: add unknown fields (``obfuscation``, ``provider``, ``x_groq``) to bodies
            and chunks.
        role_chunk: OpenAI/Azure streams: send the initial ``{"role": "assistant"}`` delta.
        canned: stream: write the whole body in one write (no per-event writes, ignores
            ``delay``).
        reasoning: thinking text, sent before the answer: an Anthropic ``thinking`` block
            (with a deterministic signature), Gemini ``thought`` parts, OpenAI-shape
            ``reasoning_content``.
        cached_tokens: prompt tokens served from a cache, on top of the counted prompt
            (Anthropic ``cache_read_input_tokens``, Gemini ``cachedContentTokenCount``,
            OpenAI ``prompt_tokens_details.cached_tokens``).
        cache_creation_tokens: Anthropic only: ``cache_creation_input_tokens``.
        blocked: refuse the prompt: Gemini answers 200 with ``promptFeedback.blockReason``
            set to this and no candidates; Azure/OpenAI a 400 ``content_filter`` error;
            Anthropic ends with ``stop_reason: "refusal"``.
        async_filter: Azure stream: content-filter results arrive in trailing annotation
            chunks (choices without ``delta``, with ``content_filter_offsets``) instead of on
            each content chunk.
    """

    content: str | None = attrs.field(default=None, validator=_opt_str)
    chunk_size: int | None = attrs.field(default=None, validator=_opt_pos_int)
    delay: float = attrs.field(default=0.0, validator=_seconds)
    latency: float = attrs.field(default=0.0, validator=_seconds)
    status: int = attrs.field(default=200, validator=_status)
    headers: dict[str, str] = attrs.field(factory=dict, validator=_str_dict, hash=False)
    body: bytes | str | dict[str, Any] | None = attrs.field(
        default=None, validator=v.optional(v.instance_of((bytes, str, dict))), hash=False
    )
    content_type: str | None = attrs.field(default=None, validator=_opt_str)
    error_message: str | None = attrs.field(default=None, validator=_opt_str)
    error_type: str | None = attrs.field(default=None, validator=_opt_str)
    error_code: str | None = attrs.field(default=None, validator=_opt_str)
    tool_calls: list[dict[str, Any]] | None = attrs.field(
        default=None, validator=_tool_calls, hash=False
    )
    finish_reason: str | None = attrs.field(default=None, validator=_opt_str)
    usage: dict[str, Any] | None = attrs.field(
        default=None, validator=v.optional(v.instance_of(dict)), hash=False
    )
    model: str | None = attrs.field(default=None, validator=_opt_str)
    fault: Fault | None = attrs.field(default=None, validator=_fault)
    reset_after: int = attrs.field(default=0, validator=_count)
    stall_after: int = attrs.field(default=0, validator=_count)
    truncate_after: int = attrs.field(default=2, validator=_count)
    malformed_after: int = attrs.field(default=2, validator=_count)
    error_after: int = attrs.field(default=2, validator=_count)
    event_size: int | None = attrs.field(default=None, validator=_opt_pos_int)
    crlf: bool = attrs.field(default=False, validator=_flag)
    keepalive_comments: bool = attrs.field(default=False, validator=_flag)
    split_data_lines: bool = attrs.field(default=False, validator=_flag)
    extra_fields: bool = attrs.field(default=False, validator=_flag)
    role_chunk: bool = attrs.field(default=True, validator=_flag)
    canned: bool = attrs.field(default=False, validator=_flag)
    reasoning: str | None = attrs.field(default=None, validator=_opt_str)
    cached_tokens: int = attrs.field(default=0, validator=_count)
    cache_creation_tokens: int = attrs.field(default=0, validator=_count)
    blocked: str | None = attrs.field(default=None, validator=_opt_str)
    async_filter: bool = attrs.field(default=False, validator=_flag)

    @classmethod
    def from_json(cls, text: str) -> Reply:
        """Build a Reply from a JSON object of its fields (the ``x-ritellm-sim`` header).

        Args:
            text: the JSON text, e.g. ``'{"fault": "stall", "stall_after": 3}'``.

        Raises:
            ValueError: not a JSON object, an unknown field, or a field of the wrong type.
        """
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"x-ritellm-sim is not valid JSON: {exc}") from None
        if not isinstance(fields, dict):
            raise ValueError("x-ritellm-sim must be a JSON object of Reply fields")
        unknown = sorted(set(fields) - _FIELD_NAMES)
        if unknown:
            raise ValueError(f"x-ritellm-sim has unknown Reply fields: {', '.join(unknown)}")
        try:
            return cls(**fields)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"x-ritellm-sim: {exc}") from None


_FIELD_NAMES = frozenset(a.name for a in attrs.fields(Reply))


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as the simulator received it.

    Attributes:
        method: the HTTP method, e.g. ``POST``.
        path: the request target without its query string, e.g. ``/v1/chat/completions``.
        query: the query string, without the ``?`` (empty if none).
        headers: lower-case names; repeated headers are joined with ``", "``.
        body: the body's bytes.
        json: the parsed JSON body, or None when the body is empty or not JSON.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any


class ReplyScript:
    """FIFO of scripted replies; falls back to a default when empty.

    Appends happen on the caller's thread and pops on the server's: a deque's append and
    popleft are atomic, and the lock only keeps ``push`` of several replies contiguous.
    """

    def __init__(self) -> None:
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()

    def push(self, replies: tuple[Reply, ...]) -> None:
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"script() takes Reply objects, got {reply!r}")
        with self._lock:
            self._queue.extend(replies)

    def pop(self, default: Reply) -> Reply:
        try:
            return self._queue.popleft()
        except IndexError:
            return default

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)
