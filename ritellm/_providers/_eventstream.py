"""Incremental decoder for AWS ``application/vnd.amazon.eventstream``, the binary framing of
Bedrock's ConverseStream body (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html,
https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html). Big-endian throughout::

    frame  := [4 total_length][4 headers_length][4 prelude_crc] headers payload [4 message_crc]
    header := [1 name_length][name, UTF-8][1 value_type][value]

``prelude_crc`` is the CRC32 of the first 8 bytes, ``message_crc`` of every byte before it, so a
frame is 16 bytes plus its headers and payload. Value types: 0 true and 1 false (no value bytes),
2 int8, 3 int16, 4 int32, 5 int64, 6 bytes and 7 UTF-8 string (each ``[2 length][bytes]``),
8 timestamp (int64 milliseconds since the epoch), 9 UUID (16 bytes). A name appears at most once.

Pure: standard library only, no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple
from zlib import crc32

__all__ = ["EventStreamDecoder", "EventStreamError", "Frame"]

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
# The fixed-size numeric value types (0/1 carry no bytes; 6, 7 and 9 are handled inline).
_FIXED = {t: struct.Struct(f) for t, f in ((2, ">b"), (3, ">h"), (4, ">i"), (5, ">q"), (8, ">q"))}
_MAX_HEADERS = 128 * 1024  # AWS's limit on one frame's headers
# Bedrock repeats a handful of identical header blocks (one per event type), so decoded blocks
# are memoized by their bytes: a dict lookup instead of parsing three headers per token.
_CACHE_ENTRIES = 64
_CACHE_BLOCK_BYTES = 512


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad CRC, lengths, header or a truncated frame)."""


class Frame(NamedTuple):
    """One decoded frame (immutable; a ``NamedTuple``, the cheapest record on the hot path).

    ``headers`` is read-only and maps each name to ``bool``, ``int`` (types 2-5 and the
    timestamp, in milliseconds), ``bytes`` (byte arrays and the 16 raw bytes of a UUID) or
    ``str``; frames with the same header bytes may share one mapping.
    """

    headers: Mapping[str, object]
    payload: bytes


_new_frame = tuple.__new__  # skips the generated NamedTuple __new__ wrapper


def _headers(block: bytes) -> Mapping[str, object]:
    """Decode a complete header block (its CRC already checked)."""
    headers: dict[str, object] = {}
    end = len(block)
    pos = 0
    try:
        while pos < end:
            start = pos + 1
            pos = start + block[pos]
            if pos >= end:  # no room left for the value type
                raise _overrun(end)
            name = block[start:pos].decode()
            kind = block[pos]
            start = pos + 1
            value: object
            if kind == 7 or kind == 6:
                start += 2
                pos = start + _U16.unpack_from(block, start - 2)[0]
                if pos > end:  # before decoding, which could fail on a cut character
                    raise _overrun(end)
                value = block[start:pos].decode() if kind == 7 else block[start:pos]
            elif kind <= 1:
                pos = start
                value = kind == 0
            elif kind == 9:
                pos = start + 16
                value = block[start:pos]
            elif (fixed := _FIXED.get(kind)) is not None:
                pos = start + fixed.size
                value = fixed.unpack_from(block, start)[0]
            else:
                raise EventStreamError(
                    f"event stream header {name!r} has unknown value type {kind}"
                )
            if pos > end:
                raise _overrun(end)
            if name in headers:
                raise EventStreamError(f"event stream header {name!r} appears twice")
            headers[name] = value
    except struct.error:  # a length or number runs past the end of the block
        raise _overrun(end) from None
    except UnicodeDecodeError:
        raise EventStreamError("event stream header name or value is not valid UTF-8") from None
    return MappingProxyType(headers)


def _overrun(size: int) -> EventStreamError:
    return EventStreamError(f"event stream headers overrun their length of {size} bytes")


class EventStreamDecoder:
    """Push-style decoder: :meth:`feed` the body as it arrives, get every completed frame.

    Any split of the input gives the same frames. Memory is bounded by one frame: a frame whose
    prelude announces more than ``max_frame_bytes`` (default 1 MiB: Bedrock's frames are a few
    hundred bytes, AWS's own cap is 16 MiB) is refused as soon as its 12-byte prelude arrives,
    after the prelude CRC is checked, so a corrupted length cannot make it buffer megabytes.
    Besides that, up to 64 decoded header blocks of up to 512 bytes each are kept for reuse.

    Errors raise :class:`EventStreamError` and are terminal: later calls raise it again. An
    error found after good frames in the same :meth:`feed` is raised by the next call, so the
    caller sees the same frames before the same error however the bytes were split.
    """

    __slots__ = ("_buf", "_cache", "_failure", "_max", "_need")

    def __init__(self, max_frame_bytes: int = 1 << 20) -> None:
        if max_frame_bytes < 16:
            raise ValueError(f"max_frame_bytes must be at least 16, got {max_frame_bytes}")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._need = 12  # bytes needed before the next frame can progress: its prelude or body
        self._cache: dict[bytes, Mapping[str, object]] = {}
        self._failure: EventStreamError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Every frame completed by ``data``, in order."""
        if self._failure is not None:
            raise self._failure
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:  # e.g. a large frame arriving in many reads
                return []
            # One copy per feed that completes something: slices of bytes are the cheapest
            # cache keys and payloads, and the loop below never copies the buffer again.
            data = bytes(buf)
        size = len(data)
        frames: list[Frame] = []
        append = frames.append
        unpack = _PRELUDE.unpack_from
        cache = self._cache
        limit = self._max
        pos = 0
        need = 12
        try:
            while size - pos >= 12:
                total, hlen, crc = unpack(data, pos)
                # Checked before waiting for the body: a corrupted length must not make us
                # buffer up to 4 GiB, and the error must not depend on how the bytes were split.
                if (
                    crc32(data[pos : pos + 8]) != crc
                    or total < 16
                    or total > limit
                    or hlen > total - 16
                    or hlen > _MAX_HEADERS
                ):
                    raise self._bad_prelude(data[pos : pos + 8], total, hlen, crc)
                if pos + total > size:
                    need = total
                    break
                end = pos + total - 4
                # Resuming from the (checked) prelude CRC gives the CRC of every byte before.
                actual = crc32(data[pos + 8 : end], crc)
                if actual != (expected := _U32.unpack_from(data, end)[0]):
                    raise EventStreamError(
                        "event stream message CRC mismatch: "
                        f"expected 0x{expected:08x}, computed 0x{actual:08x}"
                    )
                mid = pos + 12 + hlen
                block = data[pos + 12 : mid]
                headers = cache.get(block)
                if headers is None:
                    headers = _headers(block)
                    if len(block) <= _CACHE_BLOCK_BYTES and len(cache) < _CACHE_ENTRIES:
                        cache[block] = headers
                append(_new_frame(Frame, (headers, data[mid:end])))
                pos = end + 4
        except EventStreamError as exc:
            self._failure = exc
            buf.clear()
            if not frames:
                raise
            return frames
        if pos < size:
            buf[:] = data[pos:]  # at most one partial frame is kept
        elif buf:
            buf.clear()
        self._need = need
        return frames

    def close(self) -> None:
        """Check the end of the body: raise if it stopped inside a frame."""
        if self._failure is not None:
            raise self._failure
        left = len(self._buf)
        if left:
            of = f"{self._need}-byte frame" if left >= 12 else "12-byte prelude"
            self._failure = EventStreamError(
                f"event stream truncated: it ended {left} bytes into a {of}"
            )
            self._buf.clear()
            raise self._failure

    def _bad_prelude(self, head: bytes, total: int, hlen: int, crc: int) -> EventStreamError:
        if (actual := crc32(head)) != crc:
            why = f"prelude CRC mismatch: expected 0x{crc:08x}, computed 0x{actual:08x}"
        elif total < 16:
            why = f"frame length {total} is below the minimum of 16"
        elif total > self._max:
            why = f"frame of {total} bytes exceeds the limit of {self._max} bytes"
        elif hlen > total - 16:
            why = f"headers length {hlen} does not fit in a frame of {total} bytes"
        else:
            why = f"headers length {hlen} exceeds the limit of {_MAX_HEADERS} bytes"
        return EventStreamError(f"event stream {why}")
