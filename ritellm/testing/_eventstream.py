"""Encoder for AWS ``application/vnd.amazon.eventstream`` frames, the body of Bedrock's
ConverseStream, for the simulator (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html).

A frame, big-endian: ``[4 total_length][4 headers_length][4 CRC32 of the previous 8 bytes]``,
the headers, the payload, then ``[4 CRC32 of every byte before it]``. A header is ``[1 name
length][name][1 value type][value]``.

Written independently of the client's decoder (ritellm._providers._eventstream), which it must
never import: each implementation checks the other, and both are checked against botocore.
Standard library only.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zlib import crc32

__all__ = ["HeaderValue", "encode_frame", "event_frame", "exception_frame"]

HeaderValue = bool | int | bytes | str | datetime | uuid.UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _value(value: HeaderValue) -> bytes:
    """The value type byte and the value's bytes."""
    if isinstance(value, bool):  # before int: bool is an int
        return b"\x00" if value else b"\x01"
    if isinstance(value, int):
        if -(1 << 31) <= value < 1 << 31:
            return b"\x04" + struct.pack(">i", value)
        return b"\x05" + struct.pack(">q", value)  # struct.error beyond int64
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a timestamp header needs an aware datetime")
        return b"\x08" + struct.pack(">q", (value - _EPOCH) // _MS)
    if isinstance(value, uuid.UUID):
        return b"\x09" + value.bytes
    kind, raw = (b"\x07", value.encode()) if isinstance(value, str) else (b"\x06", value)
    if len(raw) > 0xFFFF:
        raise ValueError(f"a header value is limited to 65535 bytes, got {len(raw)}")
    return kind + struct.pack(">H", len(raw)) + raw


def encode_frame(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One frame. Value types follow the Python type: ``bool`` 0/1, ``int`` 4 (int32) or 5
    (int64) by its size, ``bytes`` 6, ``str`` 7, an aware ``datetime`` 8 (whole milliseconds,
    rounded down), ``uuid.UUID`` 9."""
    parts: list[bytes] = []
    for name, value in headers.items():
        raw = name.encode()
        if len(raw) > 255:
            raise ValueError(f"a header name is limited to 255 bytes, got {len(raw)}")
        parts += [bytes([len(raw)]), raw, _value(value)]
    block = b"".join(parts)
    prelude = struct.pack(">II", 16 + len(block) + len(payload), len(block))
    prelude += struct.pack(">I", crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack(">I", crc32(body))


def event_frame(event_type: str, payload: Mapping[str, Any] | bytes) -> bytes:
    """A Bedrock event: ``payload`` is sent as is if bytes, else as compact JSON."""
    data = payload if isinstance(payload, bytes) else _dumps(payload).encode()
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_frame(headers, data)


def exception_frame(exception_type: str, message: str) -> bytes:
    """A Bedrock in-stream exception such as ``throttlingException``: ``{"message": ...}``."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, _dumps({"message": message}).encode())
