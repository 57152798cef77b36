"""Run a `Simulator` on its own event loop in a daemon thread, for blocking code (sync tests,
the README demo, the CLI). Uses anyio's portal; never imports trio or asyncio.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import anyio
from anyio.from_thread import BlockingPortal

from ._replies import RecordedRequest, Reply

if TYPE_CHECKING:
    # Types only: _server imports this module to offer Simulator.start_in_thread, and the
    # package's modules import in one direction.
    from ._server import Simulator, SimulatorStats

__all__ = ["ThreadedSimulator", "run_in_thread"]

log = logging.getLogger("ritellm.testing")
_JOIN_TIMEOUT = 10.0


class ThreadedSimulator:
    """A :class:`Simulator` running in a background thread, driven from blocking code.

    Same attributes as the async simulator; ``script``, ``default``, ``requests`` and
    ``stats`` are safe to use from the caller's thread (appends and counters are atomic
    enough for tests), and :meth:`drop_idle_connections` runs on the server's loop.
    """

    def __init__(self, simulator: Simulator, portal: BlockingPortal) -> None:
        """Made by :meth:`Simulator.start_in_thread`: ``simulator`` is the running server
        (also ``.simulator``), ``portal`` the blocking portal into its thread's loop."""
        self.simulator = simulator
        self._portal = portal

    @property
    def url(self) -> str:
        """The server root (Anthropic, Gemini and Azure clients' base URL)."""
        return self.simulator.url

    @property
    def base_url(self) -> str:
        """OpenAI base URL (``url`` + ``/v1``)."""
        return self.simulator.base_url

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.simulator.requests

    @property
    def stats(self) -> SimulatorStats:
        return self.simulator.stats

    @property
    def default(self) -> Reply:
        return self.simulator.default

    @default.setter
    def default(self, reply: Reply) -> None:
        self.simulator.default = reply

    @property
    def pending_replies(self) -> int:
        return self.simulator.pending_replies

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat requests, first in first out."""
        self.simulator.script(*replies)

    def reset_stats(self) -> None:
        """Zero the cumulative counters."""
        self._portal.call(self.simulator.reset_stats)

    def drop_idle_connections(self) -> int:
        """Close every idle keep-alive connection server-side; returns how many."""
        return self._portal.call(self.simulator.drop_idle_connections)

    def wait_until(self, predicate: Callable[[SimulatorStats], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate(sim.stats)`` holds, without polling.

        Args:
            predicate: called with the live :class:`SimulatorStats` whenever they change.
            timeout: seconds to wait at most; then ``TimeoutError``.
        """

        async def wait() -> None:
            with anyio.fail_after(timeout):
                await self.simulator.wait_until(predicate)

        self._portal.call(wait)


@contextmanager
def run_in_thread(sim: Simulator, backend: str = "asyncio") -> Iterator[ThreadedSimulator]:
    """Serve ``sim`` in a daemon thread until the block exits (a daemon, so a simulator that
    was never closed cannot keep the interpreter alive)."""
    handoff: queue.Queue[tuple[BlockingPortal, anyio.Event] | BaseException] = queue.Queue()
    started = threading.Event()

    async def serve() -> None:
        async with BlockingPortal() as portal, sim:
            stop = anyio.Event()
            started.set()
            handoff.put((portal, stop))
            await stop.wait()

    def target() -> None:
        try:
            anyio.run(serve, backend=backend)
        except BaseException as exc:
            if not started.is_set():
                handoff.put(exc)  # e.g. the port is taken: re-raised in the caller's thread
            else:
                log.exception("ritellm simulator thread crashed")

    thread = threading.Thread(target=target, name="ritellm-simulator", daemon=True)
    thread.start()
    item = handoff.get()
    if isinstance(item, BaseException):
        thread.join(_JOIN_TIMEOUT)
        raise item
    portal, stop = item
    try:
        yield ThreadedSimulator(sim, portal)
    finally:
        with suppress(RuntimeError):  # the loop already ended (it crashed and logged why)
            portal.call(stop.set)
        thread.join(_JOIN_TIMEOUT)
        if thread.is_alive():
            log.warning("ritellm simulator thread did not stop within %ss", _JOIN_TIMEOUT)
