"""A response whose body is still on the wire: status and headers at once, then the body read
whole (bounded by ``max_response_bytes``) or piece by piece as it arrives, decoded when the
server compressed it. Hands its connection back to the pool when the body is complete.

Imports h11 and this package; never providers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import h11

from .._errors import APIResponseValidationError
from ._conn import Connection
from ._decode import DecodeError, Decoder
from ._failures import IO_ERRORS, exchange_failure
from ._route import Route

if TYPE_CHECKING:
    from ._pool import Transport

__all__ = ["Response"]

_BODY = "reading the response body"


class _HeaderView(Mapping[str, str]):
    __slots__ = ("_response",)

    def __init__(self, response: Response) -> None:
        self._response = response

    def __getitem__(self, name: str) -> str:
        return self._response.headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._response.headers)

    def __len__(self) -> int:
        return len(self._response.headers)


class Response:
    """Status and headers of a response whose body is still on the wire.

    Holds a connection and a pool slot until :meth:`aread` finishes, :meth:`receive`
    returns ``b""``, or :meth:`aclose` is called (always safe to call; idempotent).
    """

    __slots__ = (
        "_closed",
        "_conn",
        "_decoder",
        "_headers",
        "_length",
        "_limit",
        "_raw",
        "_route",
        "_transport",
        "status",
    )

    def __init__(
        self,
        transport: Transport,
        conn: Connection,
        route: Route,
        head: h11.Response,
        decoder: Decoder | None,
        length: int | None,
        limit: int,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._route = route
        self.status: int = head.status_code
        self._raw = head.headers
        self._headers: dict[str, str] | None = None
        self._decoder = decoder
        self._length = length  # the declared Content-Length, if any
        self._limit = limit
        self._closed = False

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers with lower-case names (repeated headers joined by ``, ``)."""
        if self._headers is None:
            result: dict[str, str] = {}
            for raw_name, raw_value in self._raw:
                name = raw_name.decode("latin-1")  # h11 lower-cases names
                value = raw_value.decode("latin-1")
                result[name] = f"{result[name]}, {value}" if name in result else value
            self._headers = result
        return self._headers

    @property
    def lazy_headers(self) -> Mapping[str, str]:
        """:attr:`headers`, decoded only if something reads them (the success path of a
        non-streaming call never does)."""
        return _HeaderView(self) if self._headers is None else self._headers

    @property
    def where(self) -> str:
        """``host:port`` (and the proxy, if any) for messages."""
        return self._route.where

    def _too_large(self, size: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"The response body from {self._route.where} is {size}, more than "
            f"max_response_bytes={self._limit:,}; raise the limit with "
            "AsyncClient(max_response_bytes=...) if this is expected",
            status_code=self.status,
            headers=self.headers,
        )

    async def aread(self) -> bytes:
        """The whole body (decoded); the connection is returned to the pool afterwards.

        Raises:
            APIResponseValidationError: the body (declared or decoded) is larger than
                ``max_response_bytes``, or its compressed data is corrupt.
            APIConnectionError / APITimeoutError: the body could not be read.
        """
        limit = self._limit
        if self._length is not None and self._length > limit:
            await self.aclose()
            raise self._too_large(f"{self._length:,} bytes (Content-Length)")
        conn = self._conn
        h = conn.h11
        decoder = self._decoder
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                event = h.next_event()
                if type(event) is h11.Data:
                    data: bytes = event.data if decoder is None else decoder.feed(event.data)
                    while True:
                        size += len(data)
                        if size > limit:
                            raise self._too_large(f"larger than {limit:,} bytes")
                        parts.append(data)
                        if decoder is None or not decoder.pending:
                            break
                        data = decoder.feed(b"")  # one read that expands a lot
                elif event is h11.NEED_DATA:
                    await conn.receive()
                elif type(event) is h11.EndOfMessage:
                    if decoder is not None:
                        parts.append(decoder.end())
                    break
                else:
                    raise h11.RemoteProtocolError("the server closed the connection")
        except IO_ERRORS as exc:
            await self._fail()
            raise exchange_failure(exc, self._route, phase=_BODY, eof=conn.eof) from exc
        except DecodeError as exc:
            await self._fail()
            raise self._bad_coding(exc) from exc
        except BaseException:
            await self._fail()
            raise
        await self._finish()
        return b"".join(parts)

    async def receive(self) -> bytes:
        """The next piece of the body (decoded) as it arrives; ``b""`` at the end, when the
        connection has been returned.

        Raises:
            APIConnectionError / APITimeoutError: the body could not be read; the connection
                is closed.
            APIResponseValidationError: the compressed data is corrupt.
        """
        if self._closed:
            return b""
        conn = self._conn
        h = conn.h11
        decoder = self._decoder
        try:
            if decoder is not None and decoder.pending:
                # A read that decompressed to more than one piece: hand out the next one.
                data = decoder.feed(b"")
                if data:
                    return data
            while True:
                event = h.next_event()
                if type(event) is h11.Data:
                    data = bytes(event.data) if decoder is None else decoder.feed(event.data)
                    if data:  # (b"" would mean the end)
                        return data
                elif event is h11.NEED_DATA:
                    await conn.receive()
                elif type(event) is h11.EndOfMessage:
                    tail = decoder.end() if decoder is not None else b""
                    await self._finish()
                    return tail
                else:
                    raise h11.RemoteProtocolError("the server closed the connection")
        except IO_ERRORS as exc:
            await self._fail()
            raise exchange_failure(exc, self._route, phase=_BODY, eof=conn.eof) from exc
        except DecodeError as exc:
            await self._fail()
            raise self._bad_coding(exc) from exc
        except BaseException:
            await self._fail()
            raise

    def _bad_coding(self, exc: DecodeError) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"The response body from {self._route.where} could not be decoded: {exc}",
            status_code=self.status,
            headers=self.headers,
        )

    async def _finish(self) -> None:
        """The body is complete: hand the connection back."""
        self._closed = True
        await self._transport._release(self._conn)

    async def _fail(self) -> None:
        """Reading failed or was cancelled: the connection cannot be reused."""
        if not self._closed:
            self._closed = True
            await self._transport._discard(self._conn)

    async def aclose(self) -> None:
        """Stop reading: return the connection if the body was complete, else close it."""
        if self._closed:
            return
        self._closed = True
        # The rest of a body that has already arrived is consumed (no I/O), so that the
        # connection can still be reused; otherwise it is closed.
        h = self._conn.h11
        with contextlib.suppress(h11.RemoteProtocolError):
            while h.their_state is h11.SEND_BODY:
                event = h.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
        await self._transport._release(self._conn)

    def __del__(self) -> None:
        # Safety net only: every documented path closes responses explicitly. A stream that
        # is dropped without `async with`/aclose() must not leak its pool slot forever.
        if not getattr(self, "_closed", True):
            self._closed = True
            self._transport._abandon(self._conn)
