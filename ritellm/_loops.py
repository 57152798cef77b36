"""A thread's own event loop: the blocking calls of a thread that runs no loop run on an
asyncio loop driven by that thread (no thread hop; its connections kept between calls and
closed when the thread ends), and how a coroutine is started on such a loop for another
thread (also used by ritellm._portal).

With _portal, the one place that touches asyncio directly, to drive these private loops;
the async core on them uses anyio only. Never imports trio, nor the client.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ._threads import CANCEL_WAIT, PerThread, block_on, loop_running_here, task_context

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

    from ._stream import AsyncCompletionStream

__all__ = ["THREAD_LOOPS", "CoroutineFunction", "Started", "ThreadLoop"]

T = TypeVar("T")
CoroutineFunction = Callable[..., Coroutine[Any, Any, T]]
# The C functions behind signal.signal and signal.getsignal, whose wrappers convert handlers
# to enums (~8 µs of CPU per blocking call against ~1 µs).
_signal: Any = getattr(signal, "_signal", signal)


class Started:
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


class ThreadLoop:
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
        started = Started(self.loop)
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
            THREAD_LOOPS.reap(self)

    def orphaned(self) -> None:
        with self._count:
            self._orphaned = True
            reap = self._streams == 0 and not self.closed
        if reap:  # else its last stream's close does it
            THREAD_LOOPS.reap(self)

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


THREAD_LOOPS: PerThread[ThreadLoop] = PerThread(ThreadLoop)
