"""What the blocking facade needs of threads: whether one runs an event loop, an interruptible
wait for another thread's result, and objects kept per thread that are closed when their
thread ends (by a reaper thread), at interpreter exit, and never by a forked child.

Imports nothing of ritellm's, and never asyncio or trio (a running loop is found through
``sys.modules``: an event loop library that was never imported runs no loop).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import queue
    from concurrent.futures import Future

__all__ = ["PerThread", "block_on", "loop_running_here", "task_context"]

T = TypeVar("T")
logger = logging.getLogger("ritellm")

# Seconds between checks for Ctrl-C while a blocking call waits (Windows needs them).
INTERRUPT_CHECK = 0.2
# How long a blocking caller interrupted by Ctrl-C waits for its call to stop.
CANCEL_WAIT = 2.0


def loop_running_here() -> bool:
    """Whether this thread runs an event loop (asyncio, uvloop or trio)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        return True
    trio = sys.modules.get("trio")
    return trio is not None and bool(trio.lowlevel.in_trio_run())


def task_context() -> contextvars.Context | None:
    """The context for a task started on an asyncio loop for this caller: None (a copy of
    the current one, as asyncio makes) unless the caller's context says that trio runs
    (sniffio's variable: a trio task's context, or a trio worker thread's copy of it), which
    would make anyio take the asyncio loop for trio's."""
    sniffio = sys.modules.get("sniffio")
    if sniffio is None or sniffio.current_async_library_cvar.get() is None:
        return None
    context = contextvars.copy_context()
    context.run(sniffio.current_async_library_cvar.set, None)
    return context


def block_on(future: Future[T], cancel: Callable[[], None]) -> T:
    """Wait for ``future``. Ctrl-C (any exception while waiting) cancels the call and gives
    it a moment to stop, so that what it held is released before the exception goes on."""
    try:
        # A wait with a timeout, repeated: an untimed lock wait cannot be interrupted by
        # Ctrl-C on Windows, a timed one can (and POSIX delivers the signal either way).
        while True:
            try:
                return future.result(timeout=INTERRUPT_CHECK)
            except TimeoutError:
                continue
    except BaseException:
        cancel()  # a no-op when it already finished
        with contextlib.suppress(BaseException):  # a second Ctrl-C stops this wait
            future.exception(timeout=CANCEL_WAIT)
        raise


class Resource(Protocol):
    """What :class:`PerThread` keeps for each thread."""

    pid: int  # the process that made it
    closed: bool

    def orphaned(self) -> None:
        """Its thread has ended. Called during that thread's teardown, where little may
        run: hand any real work to :meth:`PerThread.reap`."""
        ...

    def finish(self, *, wait: bool) -> None:
        """Close it (``wait=False``: give up if it is in use)."""
        ...


R = TypeVar("R", bound=Resource)


class PerThread(Generic[R]):
    """One ``factory()`` object per thread, made on first use.

    A thread's end is seen in its own teardown (its thread-local state is freed), where
    running an event loop is unsafe (asyncio and thread-locals would recreate the dying
    thread's state): the object is told (:meth:`Resource.orphaned`) and hands itself to
    :meth:`reap`, whose daemon thread finishes it. At interpreter exit every object not in
    use is finished. A forked child keeps its parent's objects untouched, forever: they
    share open files (sockets, an epoll instance) with the parent.
    """

    def __init__(self, factory: Callable[[], R]) -> None:
        self._factory = factory
        self._local = _Local()
        self._live: set[R] = set()
        self._forked: list[R] = []
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[R | threading.Event] | None = None
        self._pid = 0
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)
        atexit.register(self._at_exit)

    def get(self) -> R:
        """This thread's object."""
        item: R | None = self._local.item
        if item is None or item.closed:
            item = self._factory()
            self._start_reaper()
            self._live.add(item)
            self._local.item, self._local.owner = item, _Owner(item)
        return item

    def reap(self, item: R) -> None:
        """Finish ``item`` on the reaper thread (safe in finalizers: SimpleQueue.put is)."""
        if self._queue is not None and self._pid == os.getpid():
            self._queue.put(item)

    def settled(self, timeout: float | None = None) -> bool:
        """Wait until every object handed to :meth:`reap` so far is finished (False:
        ``timeout`` passed)."""
        if self._queue is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _start_reaper(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    import queue

                    self._queue = queue.SimpleQueue()
                    threading.Thread(
                        target=self._reap, args=(self._queue,), name="ritellm-reaper", daemon=True
                    ).start()
                    self._pid = os.getpid()

    def _reap(self, jobs: queue.SimpleQueue[R | threading.Event]) -> None:
        while True:
            item = jobs.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                item.finish(wait=True)
            except Exception:  # this thread must go on finishing the others
                logger.warning("ritellm: could not close a thread's event loop", exc_info=True)
            self._live.discard(item)

    def _after_fork(self) -> None:
        self._forked.extend(self._live)
        self._live.clear()
        self._local.__dict__.clear()  # this thread's next get() makes a new one

    def _at_exit(self) -> None:
        for item in list(self._live):
            with contextlib.suppress(Exception):
                item.finish(wait=False)  # a daemon thread may be in a call: left as it is


class _Owner:
    """Kept in its thread's thread-local state, and so freed when the thread ends."""

    __slots__ = ("item",)

    def __init__(self, item: Resource) -> None:
        self.item = item

    def __del__(self) -> None:
        if self.item.pid == os.getpid():  # a forked child never touches its parent's
            self.item.orphaned()


class _Local(threading.local):
    item: Any = None
    owner: _Owner | None = None
