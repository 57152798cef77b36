"""The blocking facade: completion() and sync streams, run on one long-lived portal thread.

The async core is the only implementation: each sync function hands its async twin to a
background thread that runs an event loop (and so owns its own connection pool). The one
module that touches asyncio directly, to drive that private loop (see _PortalThread).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from ._call import Messages
from ._client import AsyncClient, default_client
from ._fanout import FanoutStats, gather_completions
from ._types import ModelResponse, ModelResponseStream

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

    from ._call import CompletionParams
    from ._metadata import ResponseMetadata
    from ._stream import AsyncCompletionStream

__all__ = ["CompletionStream", "batch_completion", "completion", "flush_callbacks", "run_sync"]

T = TypeVar("T")


class _PortalThread:
    """One daemon thread running an event loop, started on first use (and again after
    ``os.fork()``, whose child inherits no threads).

    Why not ``anyio.from_thread.BlockingPortal``: its ``start_task_soon`` blocks the caller
    until the task has been spawned, then again for the result — two thread round trips per
    call (measured: ~400 µs of CPU per ``completion()`` against ~80 µs here). This portal
    posts the call with one ``call_soon_threadsafe`` and waits once. The loop is asyncio:
    it is private to ritellm (callers never see it), and the async core on it is still
    written against anyio only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        # Imported here, on the first blocking call: asyncio costs ~50 ms to import and
        # async-only programs never need it from ritellm.
        import asyncio

        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                # Closes idle keep-alive sockets: the transport registered an async
                # generator with this loop for exactly this moment.
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        thread = threading.Thread(target=run, name="ritellm-portal", daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._pid, self._thread = loop, os.getpid(), thread

    def running(self) -> bool:
        return self._loop is not None and self._pid == os.getpid()

    def in_portal_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` on the portal loop; don't wait. The asyncio task
        is kept on the future as ``future.task`` (for :meth:`cancel`)."""
        from concurrent.futures import CancelledError, Future

        loop = self.loop()
        future: Future[T] = Future()

        def spawn() -> None:
            if not future.set_running_or_notify_cancel():
                return
            task = loop.create_task(_run_coroutine(fn, args, kwargs))
            future.task = task  # type: ignore[attr-defined]

            def done(t: asyncio.Task[T]) -> None:
                if t.cancelled():
                    future.set_exception(CancelledError())
                elif (exc := t.exception()) is not None:
                    future.set_exception(exc)
                else:
                    future.set_result(t.result())

            task.add_done_callback(done)

        loop.call_soon_threadsafe(spawn)
        return future

    def cancel(self, future: Future[Any]) -> None:
        """Cancel a submitted call (from any thread)."""
        task = getattr(future, "task", None)
        if not future.cancel() and task is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(task.cancel)

    def stop(self) -> None:
        """At interpreter exit: stop the loop so idle connections are closed cleanly."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._pid != os.getpid():
            return
        self._loop = None
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2.0)


async def _run_coroutine(
    fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    return await fn(*args, **kwargs)


_PORTAL = _PortalThread()
# Seconds between checks for Ctrl-C while a blocking call waits (Windows needs them).
_INTERRUPT_CHECK = 0.2
atexit.register(_PORTAL.stop)


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run ``await fn(*args, **kwargs)`` on the portal thread and block for its result.

    Works from plain scripts, from many threads at once, and from a thread that is running
    its own event loop (e.g. Jupyter). A KeyboardInterrupt while waiting cancels the call.
    """
    if _PORTAL.in_portal_thread():
        raise RuntimeError(
            "ritellm's blocking API was called from inside its own event-loop thread; "
            "use the async API (await ritellm.acompletion(...)) there"
        )
    future = _PORTAL.submit(fn, *args, **kwargs)
    try:
        # A wait with a timeout, repeated: an untimed lock wait cannot be interrupted by
        # Ctrl-C on Windows, a timed one can (and POSIX delivers the signal either way).
        while True:
            try:
                return future.result(timeout=_INTERRUPT_CHECK)
            except TimeoutError:
                continue
    except BaseException:
        _PORTAL.cancel(future)  # no-op when it already finished; cancels it on Ctrl-C
        raise


class CompletionStream:
    """A blocking stream: ``for chunk in stream`` / ``with ... as stream``.

    Chunks are fetched from the portal thread in batches (one round trip per network read,
    not per chunk). Leaving a ``with`` block or calling :meth:`close` frees the connection.
    """

    def __init__(self, astream: AsyncCompletionStream) -> None:
        self._astream = astream
        self._buffer: deque[ModelResponseStream] = deque()
        self._done = False
        self._closed = False

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
        return f"<CompletionStream {self.provider}/{self.model}>"

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> ModelResponseStream:
        if self._buffer:
            return self._buffer.popleft()
        if self._done:
            raise StopIteration
        try:
            batch = run_sync(self._astream._next_batch)
        except BaseException:
            self._done = True
            self.close()
            raise
        if not batch:
            self._done = self._closed = True
            raise StopIteration
        self._buffer.extend(batch)
        return self._buffer.popleft()

    def close(self) -> None:
        """Close the response (idempotent)."""
        if not self._closed:
            self._closed = self._done = True
            self._buffer.clear()
            run_sync(self._astream.aclose)

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Safety net for `for chunk in completion(..., stream=True): ... break` without a
        # `with` block: hand the close to the portal without blocking the collector.
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):  # interpreter shutdown: the loop is gone
                _PORTAL.submit(self._astream.aclose)


@overload
def completion(
    model: str,
    messages: Messages,
    *,
    stream: Literal[False] = ...,
    **kwargs: Unpack[CompletionParams],
) -> ModelResponse: ...


@overload
def completion(
    model: str, messages: Messages, *, stream: Literal[True], **kwargs: Unpack[CompletionParams]
) -> CompletionStream: ...


@overload
def completion(
    model: str, messages: Messages, *, stream: bool, **kwargs: Unpack[CompletionParams]
) -> ModelResponse | CompletionStream: ...


def completion(
    model: str, messages: Messages, *, stream: bool = False, **kwargs: Any
) -> ModelResponse | CompletionStream:
    """The blocking twin of :func:`ritellm.acompletion`: same parameters, same errors.

    With ``stream=True`` it returns a :class:`CompletionStream` (an iterator and context
    manager) once the first chunk has arrived.
    """
    client = default_client()
    # Validate in the caller's thread: bad arguments raise here, before any thread hop.
    call = client._prepare(model, messages, stream, kwargs)
    result = run_sync(client._run, call)
    if isinstance(result, ModelResponse):
        return result
    return CompletionStream(result)


def flush_callbacks(timeout: float | None = None) -> bool:
    """Block until every callback reported so far has run — the sync ones (on ritellm's
    callback thread) and the async ones of blocking calls — or ``timeout`` seconds passed
    (then False). For async programs: ``await ritellm.aflush_callbacks()``. At interpreter
    exit ritellm waits up to 5 s for queued sync callbacks by itself."""
    if not _PORTAL.running():
        from ._observe._dispatch import flush

        return flush(timeout)
    return run_sync(_flush_within, timeout)


async def _flush_within(timeout: float | None) -> bool:
    import anyio

    from ._observe import aflush_callbacks

    with anyio.move_on_after(timeout) as scope:
        await aflush_callbacks()
    return not scope.cancelled_caught


def batch_completion(
    requests: Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 16,
    return_exceptions: bool = False,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
) -> list[Any]:
    """The blocking twin of :func:`ritellm.gather_completions` (LiteLLM's name): the same
    parameters and semantics, results in input order. Ctrl-C cancels every request."""
    return run_sync(
        gather_completions,
        requests,
        max_concurrency=max_concurrency,
        return_exceptions=return_exceptions,
        rpm=rpm,
        tpm=tpm,
        progress=progress,
        client=client,
    )
