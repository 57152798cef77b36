"""CompletionStream: the stream the blocking completion() returns, read with ``for`` in
blocking code or ``async for`` in a coroutine, its chunks fetched in batches from the event
loop that owns its connection (reached through a :class:`Home`: ritellm._loops.ThreadLoop
or ritellm._portal.PortalThread).

I/O layer: imports anyio and ritellm's types; never asyncio or trio (the waiting loop is
woken through anyio's event-loop token).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.lowlevel

from ._types import ModelResponseStream

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ._metadata import ResponseMetadata
    from ._stream import AsyncCompletionStream

__all__ = ["CompletionStream", "Home"]

T = TypeVar("T")


class Home(Protocol):
    """The event loop a blocking call ran on, which owns its stream's connection."""

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` there and block until it is done; Ctrl-C
        cancels it."""
        ...

    def submit(
        self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any
    ) -> tuple[Future[T], Callable[[], None]]:
        """Start ``await fn(*args)`` there without waiting: its future (done once the
        coroutine is) and a function that cancels it (from any thread)."""
        ...

    def close_later(self, astream: AsyncCompletionStream) -> None:
        """Close ``astream`` without blocking (a finalizer's close)."""
        ...

    def stream_opened(self) -> None:
        """A stream reading on this loop was handed to the caller."""
        ...

    def stream_closed(self) -> None:
        """One of its streams was closed (or ended)."""
        ...


async def wait_there(home: Home, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """``await fn(*args)`` on ``home``'s loop without blocking the running one: this task
    sleeps until the other loop's thread wakes it (anyio's event-loop token, on asyncio
    and on trio). If this task is cancelled, so is the call there, and this task waits
    (shielded) until it has stopped: whatever it held is released before the cancellation
    propagates."""
    future, cancel = home.submit(fn, *args)
    if not future.done():
        token = anyio.lowlevel.current_token()
        backend, native = token.backend_class, token.native_token
        done = anyio.Event()

        def wake(_: object) -> None:
            # run_sync_soon does not wait for this loop (a blocking hand-over would stall
            # the home loop's thread behind whatever this loop is doing).
            with contextlib.suppress(Exception):  # this loop has ended: nobody waits
                backend.run_sync_soon(done.set, (), native)

        future.add_done_callback(wake)
        try:
            await done.wait()
        except BaseException:
            cancel()
            with anyio.CancelScope(shield=True):
                await done.wait()
            raise
    return future.result()


class CompletionStream:
    """A streamed answer from :func:`ritellm.completion`: ``for chunk in stream`` in
    blocking code, ``async for chunk in stream`` in a coroutine; ``with`` and ``async with``
    close it on exit.

    Chunks are fetched in batches: each wait for the next chunk also takes every chunk
    already decoded. ``async for`` waits without blocking the event loop, on asyncio and
    on trio, and cancelling it closes the stream. ``for`` and ``async for`` may take turns
    on one stream. Leaving a ``with`` block, :meth:`close` or ``await`` :meth:`aclose`
    frees the connection; so does reading to the end.
    """

    def __init__(self, astream: AsyncCompletionStream, home: Home) -> None:
        """Made by ritellm (``completion(..., stream=True)``); not constructed directly.

        Args:
            astream: the open stream, on the loop of ``home``.
            home: the event loop that owns its connection.
        """
        self._astream = astream
        self._home = home
        self._pid = os.getpid()
        self._buffer: deque[ModelResponseStream] = deque()
        self._done = False  # nothing more to fetch
        self._closed = False  # released: the home was told
        home.stream_opened()

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        return self._astream.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (lower-case names)."""
        return self._astream.headers

    @property
    def response_metadata(self) -> ResponseMetadata | None:
        """What the call reported (complete once the stream has ended)."""
        return self._astream.response_metadata

    @property
    def provider(self) -> str:
        """The provider called."""
        return self._astream.provider

    @property
    def model(self) -> str:
        """The model string called."""
        return self._astream.model

    def __repr__(self) -> str:
        model, provider = self._astream.model, self._astream.provider
        shown = model if "/" in model else f"{provider}/{model}"
        return f"<CompletionStream {shown} {'closed' if self._done else 'open'}>"

    def _check_process(self) -> None:
        if self._pid != os.getpid():
            self._done = self._closed = True  # the connection is the parent's: never touched
            raise RuntimeError(
                "This stream was opened before os.fork(), in process "
                f"{self._pid}: read it there, or call ritellm.completion(..., stream=True) "
                "again in this process."
            )

    def _release(self) -> None:
        self._done = True
        self._buffer.clear()
        if not self._closed:
            self._closed = True
            self._home.stream_closed()

    # -- blocking ----------------------------------------------------------------------

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> ModelResponseStream:
        if self._buffer:
            return self._buffer.popleft()
        if self._done:
            raise StopIteration
        self._check_process()
        try:
            batch = self._home.call(self._astream._next_batch)
        except BaseException:
            self.close()  # the stream closed itself; this also covers a call never started
            raise
        if not batch:
            self._release()  # it ended: the connection is back in its pool
            raise StopIteration
        self._buffer.extend(batch)
        return self._buffer.popleft()

    def close(self) -> None:
        """Close the response (idempotent)."""
        if not self._closed:
            self._done = True
            try:
                if self._pid == os.getpid():
                    self._home.call(self._astream.aclose)
            finally:
                self._release()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- async -------------------------------------------------------------------------

    def __aiter__(self) -> CompletionStream:
        return self

    async def __anext__(self) -> ModelResponseStream:
        if self._buffer:
            return self._buffer.popleft()
        if self._done:
            raise StopAsyncIteration
        self._check_process()
        try:
            batch = await wait_there(self._home, self._astream._next_batch)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise
        if not batch:
            self._release()
            raise StopAsyncIteration
        self._buffer.extend(batch)
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """Close the response (idempotent), without blocking the event loop."""
        if not self._closed:
            self._done = True
            try:
                if self._pid == os.getpid():
                    with anyio.CancelScope(shield=True):
                        await wait_there(self._home, self._astream.aclose)
            finally:
                self._release()

    async def __aenter__(self) -> CompletionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Safety net for `for chunk in completion(..., stream=True): ... break` without a
        # `with` block: the close is handed to the stream's loop without blocking.
        if not getattr(self, "_closed", True):
            self._done = True
            with contextlib.suppress(Exception):  # interpreter shutdown: the loop is gone
                if self._pid == os.getpid():
                    self._home.close_later(self._astream)
            self._release()
