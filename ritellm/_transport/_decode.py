"""Content decoding of response bodies (``Content-Encoding: gzip``/``deflate``), incremental and
bounded: each network read yields what it decompresses to (so a compressed event stream still
delivers each event as soon as its bytes arrive), and one call never returns more than a fixed
amount (the rest of the input waits in the decoder), so a decompression bomb cannot exhaust
memory.

Pure: standard library (zlib) only; no anyio, httpcore or h11.
"""

from __future__ import annotations

import zlib

__all__ = ["ACCEPT_ENCODING", "DecodeError", "Decoder", "UnsupportedEncoding", "decoder_for"]

# What ritellm asks for. Brotli and zstd would need third-party packages.
ACCEPT_ENCODING = b"gzip, deflate"

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


class UnsupportedEncoding(ValueError):
    """The response uses a content coding ritellm cannot decode (``args[0]`` names it)."""


class DecodeError(ValueError):
    """The compressed body is corrupt or truncated."""


class _Stage:
    """One coding: a zlib decompressor that returns at most ``limit`` bytes per call and keeps
    the input it has not used yet for the next call."""

    __slots__ = ("_gzip", "_head", "_obj", "_probing", "_seen", "pending")

    def __init__(self, coding: str) -> None:
        self._gzip = coding != "deflate"
        self._obj = zlib.decompressobj(_GZIP_WBITS if self._gzip else _ZLIB_WBITS)
        self.pending = b""
        self._head = b""
        self._seen = False
        # "deflate" is RFC 9110's zlib format, but some servers send raw DEFLATE: the first
        # bytes decide (as browsers, urllib3 and httpx do).
        self._probing = not self._gzip

    def feed(self, data: bytes, limit: int) -> bytes:
        if self.pending:
            data = self.pending + data
        if not data:
            return b""
        self._seen = True
        obj = self._obj
        if self._probing:
            # The zlib header is two bytes: until both have passed its check, keep them in
            # case the data turns out to be raw DEFLATE.
            self._head += data
            try:
                out = obj.decompress(data, limit)
            except zlib.error:
                self._obj = obj = zlib.decompressobj(_RAW_WBITS)
                out = obj.decompress(self._head, limit)
                self._probing = False
            else:
                self._probing = len(self._head) < 2
        else:
            out = obj.decompress(data, limit)
        self.pending = obj.unconsumed_tail
        if obj.eof and obj.unused_data and self._gzip:
            # Another gzip member follows (RFC 1952 allows several): decode it too.
            self.pending = obj.unused_data
            self._obj = zlib.decompressobj(_GZIP_WBITS)
            if not limit:
                out += self.feed(b"", 0)
            elif len(out) < limit:
                out += self.feed(b"", limit - len(out))
        return out

    def end(self) -> bytes:
        out = self._obj.flush()
        if self._gzip and self._seen and not self._obj.eof:
            raise zlib.error("the gzip data ends before its trailer")
        return out


class Decoder:
    """Undoes one or more content codings, returning at most ``chunk`` bytes per call."""

    __slots__ = ("_chunk", "_stages", "coding")

    def __init__(self, codings: list[str], chunk: int) -> None:
        self.coding = ", ".join(codings)
        # Codings are listed in the order they were applied: undo the last one first.
        self._stages = [_Stage(coding) for coding in reversed(codings)]
        self._chunk = chunk

    @property
    def pending(self) -> bool:
        """Whether input is waiting to be decoded: call ``feed(b"")`` for more output."""
        return any(stage.pending for stage in self._stages)

    def feed(self, data: bytes) -> bytes:
        """Decode the next piece of the body (``b""`` continues with pending input).

        Raises:
            DecodeError: the compressed data is corrupt.
        """
        try:
            for stage in self._stages:
                data = stage.feed(data, self._chunk)
        except zlib.error as exc:
            raise DecodeError(f"invalid {self.coding} data: {exc}") from None
        return data

    def end(self) -> bytes:
        """The last output at the end of the body (drain :attr:`pending` first).

        Raises:
            DecodeError: the compressed data is truncated or corrupt.
        """
        out = b""
        try:
            for stage in self._stages:
                # What a previous stage flushed is the tail of zlib's window, not a stream:
                # no bound needed (0 means none).
                out = stage.feed(out, 0) + stage.end()
        except zlib.error as exc:
            raise DecodeError(f"invalid {self.coding} data: {exc}") from None
        return out


def decoder_for(content_encoding: str, chunk: int) -> Decoder | None:
    """The decoder for a ``Content-Encoding`` header value; None when there is nothing to undo.

    Args:
        content_encoding: the header value, e.g. ``"gzip"`` (``identity`` is skipped).
        chunk: the most bytes one call may return.

    Raises:
        UnsupportedEncoding: a coding other than gzip, x-gzip, deflate or identity.
    """
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    for coding in codings:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise UnsupportedEncoding(coding)
    return Decoder(codings, chunk)
