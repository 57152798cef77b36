"""The blocking facade: completion() and the event loops it runs the async core on.

A thread that runs no event loop runs its calls on an asyncio loop of its own (no thread
hop; its connections kept between calls and closed when the thread ends). A thread that
already runs a loop (asyncio, trio, Jupyter), and a call whose async callbacks must outlive
it, hand the call to one long-lived portal thread instead. The one module that touches
asyncio directly, to drive these private loops; the async core on them uses anyio only.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Unpack, overload

from ._call import Messages
from ._client import AsyncClient, default_client
from ._fanout import FanoutStats, gather_completions
from ._sync_stream import CompletionStream
from ._threads import CANCEL_WAIT, PerThread, block_on, loop_running_here, task_context
from ._types import ModelResponse

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

    from ._call import CompletionParams
    from ._observe import Report
    from ._stream import AsyncCompletionStream

__all__ = ["CompletionStream", "batch_completion", "completion", "flush_callbacks", "run_sync"]

T = TypeVar("T")
CoroutineFunction = Callable[..., Coroutine[Any, Any, T]]
# The C functions behind signal.signal and signal.getsignal, whose wrappers convert handlers
# to enums (~8 µs of CPU per blocking call against ~1 µs).
_signal: Any = getattr(signal, "_signal", signal)


class _Started:
    """A coroutine started on an event loop for another thread: its future, and a cancel
    that reaches the task whether or not it exists yet."""

    __slots__ = ("future", "loop", "stop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from concurrent.futures import Future

        self.future: Future[Any] = Future()
        self.loop = loop
        self.task: asyncio.Task[Any] | None = None
        self.stop = False

    def adopt(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """On the loop's thread: start ``coro`` as the task a cancel reaches."""
        self.task = task = self.loop.create_task(coro)
        if self.stop:  # the cancel came first
            task.cancel()
        return task

    def begin(self, coro: Coroutine[Any, Any, Any]) -> None:
        """:meth:`adopt`, its outcome going to the future."""
        future = self.future

        def done(t: asyncio.Task[Any]) -> None:
            if t.cancelled():
                from concurrent.futures import CancelledError

                future.set_exception(CancelledError())
            elif (exc := t.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(t.result())

        self.adopt(coro).add_done_callback(done)

    def cancel(self) -> None:
        # The flag first, the task second (adopt() does the reverse): whichever runs
        # second sees what the other did.
        if self.future.cancel():
            return
        self.stop = True
        task = self.task
        if task is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: it has stopped
                self.loop.call_soon_threadsafe(task.cancel)


# -- the portal thread ----------------------------------------------------------------------


class _PortalThread:
    """One daemon thread running an event loop, started on first use (and again after
    ``os.fork()``, whose child inherits no threads).

    Why not ``anyio.from_thread.BlockingPortal``: its ``start_task_soon`` blocks the caller
    until the task has been spawned, then again for the result — two thread round trips per
    call (measured: ~400 µs of CPU per ``completion()`` against ~80 µs here). This portal
    posts the call with one ``call_soon_threadsafe`` and waits once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._forked: list[asyncio.AbstractEventLoop] = []  # a parent's, in a child

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

        if self._loop is not None:
            self._forked.append(self._loop)  # never closed here: see PerThread
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

    def submit(
        self, fn: CoroutineFunction[T], *args: Any, **kwargs: Any
    ) -> tuple[Future[T], Callable[[], None]]:
        """Start ``fn(*args, **kwargs)`` on the portal loop; don't wait."""
        started = _Started(self.loop())

        def spawn() -> None:
            if started.future.set_running_or_notify_cancel():
                started.begin(fn(*args, **kwargs))

        started.loop.call_soon_threadsafe(spawn, context=task_context())
        return started.future, started.cancel

    def call(self, fn: CoroutineFunction[T], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` on the portal loop and block for its result."""
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError(
                "ritellm's blocking API was called from inside its own event-loop thread; "
                "use the async API (await ritellm.acompletion(...)) there"
            )
        return block_on(*self.submit(fn, *args, **kwargs))

    def close_later(self, astream: AsyncCompletionStream) -> None:
        if self.running():  # not after interpreter exit stopped it
            self.submit(astream.aclose)

    def stream_opened(self) -> None:
        pass  # the portal lives as long as the process

    def stream_closed(self) -> None:
        pass

    def stop(self) -> None:
        """At interpreter exit: stop the loop so idle connections are closed cleanly."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._pid != os.getpid():
            return
        self._loop = None
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=2.0)


_PORTAL = _PortalThread()
atexit.register(_PORTAL.stop)


def run_sync(fn: CoroutineFunction[T], *args: Any, **kwargs: Any) -> T:
    """Run ``await fn(*args, **kwargs)`` on the portal thread and block for its result.

    Works from plain scripts, from many threads at once, and from a thread that is running
    its own event loop (e.g. Jupyter). A KeyboardInterrupt while waiting cancels the call.
    """
    return _PORTAL.call(fn, *args, **kwargs)


# -- a thread's own loop ----------------------------------------------------------------------


class _ThreadLoop:
    """The event loop of one thread that runs none: that thread's blocking calls run here,
    driven by the thread itself, and its connections stay open between calls.

    Whoever runs the loop holds ``lock``: the owning thread during a call, or another
    thread reading one of its streams. Closed once its thread has ended and its last stream
    is closed, or at interpreter exit (see PerThread).
    """

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()  # never made the thread's current loop
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.closed = False
        self._count = threading.RLock()  # reentrant: a finalizer may close a stream meanwhile
        self._streams = 0
        self._orphaned = False
        self._closing: set[asyncio.Task[None]] = set()

    def call(self, fn: CoroutineFunction[T], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` here and block until it is done: in this
        thread, or in a helper thread if this one runs a loop of its own."""
        if loop_running_here():
            return block_on(*self.submit(fn, *args, **kwargs))
        lock = self.lock
        if not lock.acquire(blocking=False):  # another thread is reading one of its streams
            while not lock.acquire(timeout=0.2):  # timed: Ctrl-C can land in between
                pass
        try:
            self._check_open()
            return self._run(fn(*args, **kwargs), interruptible=True)
        finally:
            lock.release()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(
                "This stream's event loop was closed at interpreter exit; call "
                "ritellm.completion(..., stream=True) again for a new stream."
            )

    def _run(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        interruptible: bool,
        start: Callable[[Coroutine[Any, Any, T]], asyncio.Task[T]] | None = None,
    ) -> T:
        """Run the loop until ``coro``, run as a task (made by ``start``), is done. Ctrl-C in
        the main thread cancels it (as asyncio.run() does: the call closes what it holds at
        its next await) and is raised as KeyboardInterrupt once it stopped; the loop stays
        usable."""
        loop = self.loop
        kept: list[Any] = []
        coro = _until_done(coro, loop, kept)
        task = loop.create_task(coro, context=task_context()) if start is None else start(coro)
        running = [task]  # the handler's reference: dropped, with this frame's, at the end
        interrupted = False
        sigint = (
            interruptible
            and threading.main_thread().ident == threading.get_ident()
            and _signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if sigint:

            def on_sigint(signum: int, frame: object) -> None:
                nonlocal interrupted
                if running and not running[0].done():
                    if interrupted:
                        raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for cleanup
                    running[0].cancel()
                    loop.call_soon_threadsafe(_wake)  # the selector returns at once
                interrupted = True  # raised below, never inside whatever code runs now

            _signal.signal(signal.SIGINT, on_sigint)
        try:
            while not task.done():  # (another call's leftover task may stop it too)
                loop.run_forever()
            result: T = task.result()
        except BaseException:
            if not task.done():  # the loop stopped midway (a KeyboardInterrupt raised in it)
                task.cancel()
                with contextlib.suppress(BaseException):
                    while not task.done():
                        loop.run_forever()
            elif not task.cancelled():
                task.exception()  # retrieved: else asyncio logs it when the task is freed
            if not interrupted:
                raise
        finally:
            # Freed while Ctrl-C is still deferred: freeing a task runs weakref callbacks,
            # where a KeyboardInterrupt would be lost ("Exception ignored").
            del task
            running.clear()
            if sigint:
                _signal.signal(signal.SIGINT, signal.default_int_handler)
        if interrupted:
            # Ctrl-C came as the call ended (asyncio drops the result of a task cancelled
            # as it returns): a stream it opened would never reach the caller.
            for opened in kept:
                if hasattr(opened, "aclose"):
                    with contextlib.suppress(BaseException):
                        self._run(opened.aclose(), interruptible=False)
            raise KeyboardInterrupt
        return result

    def submit(
        self, fn: CoroutineFunction[T], *args: Any, **kwargs: Any
    ) -> tuple[Future[T], Callable[[], None]]:
        """Run ``fn(*args, **kwargs)`` here from a helper thread, for a caller that must
        not block or runs a loop of its own (``async for`` over one of its streams)."""
        started = _Started(self.loop)
        context = task_context() or contextvars.copy_context()  # a thread starts with none

        def drive() -> None:
            if not started.future.set_running_or_notify_cancel():
                return
            try:
                with self.lock:
                    self._check_open()
                    result = self._run(
                        fn(*args, **kwargs),
                        interruptible=False,
                        start=lambda coro: context.run(started.adopt, coro),
                    )
            except BaseException as exc:
                started.future.set_exception(exc)
            else:
                started.future.set_result(result)

        threading.Thread(target=drive, name="ritellm-stream-reader", daemon=True).start()
        return started.future, started.cancel

    def close_later(self, astream: AsyncCompletionStream) -> None:
        """Close a dropped stream: now if this thread may run the loop (closing takes no
        network round trip), else when the loop next runs."""
        if not self.closed and not loop_running_here() and self.lock.acquire(blocking=False):
            try:
                self._run(astream.aclose(), interruptible=False)
            finally:
                self.lock.release()
        elif not self.closed:
            self.loop.call_soon_threadsafe(self._close_soon, astream)

    def _close_soon(self, astream: AsyncCompletionStream) -> None:
        task = self.loop.create_task(astream.aclose())
        self._closing.add(task)  # asyncio keeps only a weak reference
        task.add_done_callback(self._closing.discard)

    def stream_opened(self) -> None:
        with self._count:
            self._streams += 1

    def stream_closed(self) -> None:
        with self._count:
            self._streams -= 1
            reap = self._orphaned and self._streams == 0
        if reap:
            _THREAD_LOOPS.reap(self)

    def orphaned(self) -> None:
        with self._count:
            self._orphaned = True
            reap = self._streams == 0 and not self.closed
        if reap:  # else its last stream's close does it
            _THREAD_LOOPS.reap(self)

    def finish(self, *, wait: bool) -> None:
        """Close the loop, after its scheduled closes and its idle keep-alive sockets."""
        if not self.lock.acquire(blocking=wait):
            return
        try:
            if not self.closed:
                self.closed = True
                _close_loop(self.loop)
        finally:
            self.lock.release()


def _wake() -> None:
    """Scheduled only to make a loop's selector return."""


async def _until_done(
    coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop, kept: list[Any]
) -> T:
    """A call run as a task that stops ``loop`` as it ends: run_forever() returns in that
    same loop iteration (run_until_complete() takes one more, ~8 µs, for its callback)."""
    try:
        result = await coro
        kept.append(result)  # seen even if a cancellation lands as the task returns
        return result
    finally:
        loop.stop()


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let scheduled closes finish, close the idle keep-alive sockets, close ``loop``."""
    import asyncio

    async def settle() -> None:
        await asyncio.sleep(0)  # closes scheduled by finalizers start their tasks
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CANCEL_WAIT)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # The transport registered an async generator with the loop to close its idle
        # sockets at this moment (ritellm._transport._lifetime).
        await loop.shutdown_asyncgens()

    task = loop.create_task(_until_done(settle(), loop, []))
    try:
        while not task.done():  # (a leftover call's task may stop the loop too)
            loop.run_forever()
        task.result()
    finally:
        loop.close()


_THREAD_LOOPS: PerThread[_ThreadLoop] = PerThread(_ThreadLoop)


# -- the facade -------------------------------------------------------------------------------


def _spawns_tasks(report: Report) -> bool:
    """Whether the call has async callbacks: they run as tasks on the call's loop after it
    returned, and a thread's own loop runs only during that thread's calls."""
    for sink in report.sinks:
        hooks: Mapping[str, tuple[list[Any], list[Any]]] = getattr(sink, "_hooks", {})
        if any(asynchronous for _, asynchronous in hooks.values()):
            return True
    return False


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

    Args:
        model: ``"provider/model"`` or a bare name, as for :func:`ritellm.acompletion`.
        messages: OpenAI-style messages.
        stream: return a :class:`CompletionStream` once the first chunk has arrived: read
            it with ``for``, or with ``async for`` in a coroutine (the next chunks are
            awaited without blocking the event loop).
        **kwargs: every option and request parameter of :func:`ritellm.acompletion`.

    Returns:
        A :class:`ModelResponse`, or with ``stream=True`` a :class:`CompletionStream`.

    Raises:
        The errors of :func:`ritellm.acompletion`; bad arguments raise before any I/O.
        KeyboardInterrupt: Ctrl-C cancelled the call (its connection is closed).
    """
    client = default_client()
    # Validate in the caller's thread: bad arguments raise here, before any I/O.
    call = client._prepare(model, messages, stream, kwargs)
    report = client._observe(call)
    home: _ThreadLoop | _PortalThread
    if loop_running_here() or (report is not None and _spawns_tasks(report)):
        home = _PORTAL
    else:
        home = _THREAD_LOOPS.get()
    try:
        result = home.call(client._run, call, report=report)
    except BaseException as exc:
        if report is not None and not report.done and not isinstance(exc, Exception):
            report.failed(exc)  # cancelled before it began (a call reports its own end)
        raise
    if isinstance(result, ModelResponse):
        return result
    return CompletionStream(result, home)


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
