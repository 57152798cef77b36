"""Incremental Server-Sent Events decoder (WHATWG "interpreting an event stream").

Bytes in, events out: this module must stay pure (standard library only, no I/O, no async).
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

__all__ = ["SSEDecodeError", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):
    """One dispatched Server-Sent Event (immutable).

    A ``NamedTuple`` because it is the cheapest immutable record to build on the
    streaming hot path; like any tuple it also compares equal to a plain tuple of
    the same four values.

    Attributes:
        event: The event type; ``"message"`` when no (or an empty) ``event:`` field
            was given in the block.
        data: The block's ``data:`` lines joined with ``"\\n"``.
        id: The last event ID in effect when the event was dispatched. It persists
            across events until the server sends another ``id:`` field. ``None``
            means no ``id:`` field was ever received; ``""`` means the server
            explicitly reset it with an empty ``id:`` field.
        retry: The reconnection time in milliseconds in effect when the event was
            dispatched (it also persists), or ``None`` if never set.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecodeError(ValueError):
    """The event stream exceeded the decoder's ``max_line_bytes`` limit."""


# tuple.__new__ skips the generated NamedTuple __new__ wrapper: ~2x cheaper per event.
_new_event = tuple.__new__


class SSEDecoder:
    """Incremental, push-style decoder for a ``text/event-stream`` byte stream.

    Feed it the body bytes exactly as they arrive; any split of the input (one byte
    at a time, inside a UTF-8 character, between CR and LF, inside the leading BOM)
    yields the same events. Decoding follows the WHATWG HTML rules: UTF-8 with
    replacement of invalid bytes, CR / LF / CRLF line ends, one leading BOM
    stripped, ``:`` comments, ``data`` / ``event`` / ``id`` / ``retry`` fields
    (case-sensitive), unknown fields ignored, and an incomplete final block
    discarded at end of input. One deviation only a hostile server can notice: a
    ``retry`` value with more significant digits than CPython's int-parsing limit
    (``sys.get_int_max_str_digits()``) is ignored like a non-numeric one.

    Memory is bounded by ``max_line_bytes`` in two ways, both raising
    :class:`SSEDecodeError`:

    * a single line (its bytes, excluding the line terminator) longer than
      ``max_line_bytes``, whether or not its terminator has arrived yet;
    * one event's accumulated data longer than ``max_line_bytes``, counted as the
      UTF-8 bytes of its ``data:`` values plus one per joining line feed (i.e. the
      size of the data buffer before the final LF is removed).

    An error is terminal: afterwards the decoder's buffers are dropped and any
    further :meth:`feed` raises ``RuntimeError``.

    Args:
        max_line_bytes: The limit described above; must be a positive integer.
            Defaults to 1 MiB.

    Raises:
        ValueError: If ``max_line_bytes`` is not positive.
    """

    __slots__ = (
        "_after_cr",
        "_bom_buf",
        "_bom_pending",
        "_closed_reason",
        "_data_parts",
        "_data_size",
        "_dispatched_id",
        "_event_type",
        "_id",
        "_max",
        "_pending",
        "_pending_size",
        "_retry",
        "_slow",
    )

    def __init__(self, *, max_line_bytes: int = 1 << 20) -> None:
        if max_line_bytes <= 0:
            raise ValueError(f"max_line_bytes must be positive, got {max_line_bytes!r}")
        self._max = max_line_bytes
        # Any of: closed, BOM not yet resolved, previous chunk ended with CR.
        # One flag keeps the common case to a single attribute test per feed().
        self._slow = True
        self._closed_reason: str | None = None
        self._bom_pending = True
        self._bom_buf = b""
        self._after_cr = False
        # Pieces of the current unterminated line, joined only once its end arrives
        # (avoids quadratic re-copying of a long line delivered in small chunks).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._data_parts: list[bytes] = []
        self._data_size = 0
        self._event_type = ""
        self._id: str | None = None
        self._dispatched_id: str | None = None
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The event source's last event ID string, for a ``Last-Event-ID`` header.

        Updated at every blank line (even one that dispatches nothing), so an ``id:``
        in an unfinished block does not count. ``None`` if never set.
        """
        return self._dispatched_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds set by the server, or ``None``."""
        return self._retry

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode the next chunk of the stream.

        Args:
            data: The next bytes of the response body, of any size (may be empty).

        Returns:
            The events completed by this chunk, in stream order (often empty).

        Raises:
            SSEDecodeError: If a line or one event's data exceeds ``max_line_bytes``.
            RuntimeError: If called after :meth:`close` or after an
                :class:`SSEDecodeError`.
        """
        if self._slow:
            data = self._prologue(data)
        if not data:
            return []
        max_ = self._max
        pending = self._pending
        if pending:
            # Still inside a long line: just collect pieces until a terminator shows up.
            if b"\n" not in data and b"\r" not in data:
                size = self._pending_size + len(data)
                if size > max_:
                    raise self._line_too_long(size)
                pending.append(data)
                self._pending_size = size
                return []
            pending.append(data)
            data = b"".join(pending)
            pending.clear()
        # bytes.splitlines() breaks at exactly LF, CR and CRLF (ASCII only, unlike
        # str.splitlines), in C. CR/LF never occur inside a UTF-8 multi-byte
        # sequence, so each complete line can be decoded on its own.
        lines = data.splitlines()
        last = data[-1]
        if last != 10:  # LF; literals avoid global lookups on the hot path
            if last == 13:  # CR
                # The line is complete, but an LF starting the next chunk belongs to it.
                self._after_cr = self._slow = True
            else:
                tail = lines.pop()
                size = len(tail)
                if size > max_:
                    raise self._line_too_long(size)
                pending.append(tail)
                self._pending_size = size
        if len(data) > max_ and lines:
            # Only a chunk longer than the limit can hold a complete over-long line.
            size = max(map(len, lines))
            if size > max_:
                raise self._line_too_long(size)
        if not lines:
            return []

        events: list[ServerSentEvent] = []
        parts = self._data_parts
        data_size = self._data_size
        event_type = self._event_type
        last_id = self._id
        retry = self._retry
        dispatched_id = self._dispatched_id
        for line in lines:
            if not line:
                # Blank line: dispatch the event.
                dispatched_id = last_id
                if parts:
                    # Decode once per event; LF is never part of a UTF-8 sequence,
                    # so this equals decoding each value separately.
                    events.append(
                        _new_event(
                            ServerSentEvent,
                            (
                                event_type or "message",
                                b"\n".join(parts).decode("utf-8", "replace"),
                                last_id,
                                retry,
                            ),
                        )
                    )
                    parts = []
                    data_size = 0
                event_type = ""
                continue
            if line[:6] == b"data: ":
                # The overwhelmingly common line: skip the generic field parsing below.
                data_size += len(line) - 5
                if data_size > max_:
                    raise self._data_too_long(data_size)
                parts.append(line[6:])
                continue
            # A comment (leading ":") yields an empty field name, which matches no
            # field below, so it needs no branch of its own. Names are compared as
            # bytes: invalid UTF-8 would decode to U+FFFD and match nothing anyway.
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data_size += len(value) + 1
                if data_size > max_:
                    raise self._data_too_long(data_size)
                parts.append(value)
            elif name == b"event":
                event_type = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    last_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII digits only
                # More digits than CPython's int-parsing limit: ignore the field.
                with contextlib.suppress(ValueError):
                    retry = int(value.lstrip(b"0") or b"0")
        self._data_parts = parts
        self._data_size = data_size
        self._event_type = event_type
        self._id = last_id
        self._retry = retry
        self._dispatched_id = dispatched_id
        return events

    def close(self) -> list[ServerSentEvent]:
        """Signal the end of the stream.

        Per the spec, an incomplete final block (no terminating blank line) and a
        final line without a line terminator are discarded, so nothing is ever
        dispatched here; the list return keeps the call symmetric with
        :meth:`feed`. Calling ``close()`` again is a no-op.

        Returns:
            The events completed by the end of input: always an empty list.
        """
        if self._closed_reason is None:
            self._shut("feed() called after close()")
        return []

    def _prologue(self, data: bytes) -> bytes:
        """Rare per-feed work: closed check, leading BOM, LF after a chunk-final CR."""
        if self._closed_reason is not None:
            raise RuntimeError(f"SSEDecoder: {self._closed_reason}")
        if not data:
            return data
        if self._bom_pending:
            head = self._bom_buf + data
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._bom_buf = head  # could still become a BOM: wait for more
                return b""
            self._bom_pending = False
            self._bom_buf = b""
            data = head[len(_BOM) :] if head.startswith(_BOM) else head
            if not data:
                self._slow = False
                return data
        if self._after_cr:
            self._after_cr = False
            if data[0] == 10:  # LF
                data = data[1:]
        self._slow = False
        return data

    def _shut(self, reason: str) -> None:
        self._closed_reason = reason
        self._slow = True
        self._pending = []
        self._data_parts = []
        self._bom_buf = b""

    def _line_too_long(self, size: int) -> SSEDecodeError:
        self._shut("feed() called after an SSEDecodeError")
        return SSEDecodeError(
            f"SSE line longer than max_line_bytes={self._max}: "
            f"{size} bytes buffered for a single line"
        )

    def _data_too_long(self, size: int) -> SSEDecodeError:
        self._shut("feed() called after an SSEDecodeError")
        return SSEDecodeError(
            f"SSE event data longer than max_line_bytes={self._max}: "
            f"{size} bytes of data lines accumulated without a blank line ending the event"
        )
