"""The portal thread: one long-lived daemon thread running an asyncio loop, for the blocking
calls that cannot run on their own thread's loop (a thread already running a loop: asyncio,
trio, Jupyter; a call whose async callbacks must outlive it) and for run_sync().

With _loops, the one place that touches asyncio directly; never imports trio, nor the
client.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._loops import CoroutineFunction, Started
from ._threads import block_on, task_context

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

    from ._stream import AsyncCompletionStream

__all__ = ["PORTAL", "PortalThread", "run_sync"]

T = TypeVar("T")


class PortalThread:
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
        started = Started(self.loop())

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


PORTAL = PortalThread()
atexit.register(PORTAL.stop)


def run_sync(fn: CoroutineFunction[T], *args: Any, **kwargs: Any) -> T:
    """Run ``await fn(*args, **kwargs)`` on the portal thread and block for its result.

    Works from plain scripts, from many threads at once, and from a thread that is running
    its own event loop (e.g. Jupyter). A KeyboardInterrupt while waiting cancels the call.
    """
    return PORTAL.call(fn, *args, **kwargs)
