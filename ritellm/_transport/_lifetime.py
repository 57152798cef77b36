"""When a pool's idle sockets are closed without being asked: when its event loop ends, and
when the pool is garbage-collected first (a client that was dropped, not closed), soon and
on its own loop. No background task and no id()-keyed state.

I/O layer: anyio only; knows nothing of requests.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio

from ._conn import Connection

__all__ = ["Sockets", "watch"]


class Sockets:
    """The connections a pool keeps while nobody uses them: idle ones (per route, oldest
    first) and abandoned ones waiting to be closed; and the ones lent to responses, which
    only the loop's end closes. The loop-exit hook and the pool's garbage-collection
    finalizer reach them through this object, never through the Transport, so that a
    dropped client's pool can be collected."""

    __slots__ = ("finalizer", "graveyard", "hook", "idle", "lent")

    def __init__(self) -> None:
        self.idle: dict[object, list[Connection]] = {}
        self.graveyard: list[Connection | None] = []  # None: a slot to free (see _abandon)
        self.hook: AsyncGenerator[None, None] | None = None
        self.finalizer: weakref.finalize[Any, Any] | None = None
        self.lent: set[Connection] = set()

    async def close_all(self, *, lent: bool = False) -> None:
        """Close the idle and abandoned connections, and with ``lent`` the ones responses
        still hold (at the loop's end: a stream left open then can never be read again)."""
        conns = [conn for conns in self.idle.values() for conn in conns]
        self.idle.clear()
        if lent:
            conns.extend(self.lent)
            self.lent.clear()
        conns.extend(conn for conn in self.graveyard if conn is not None)
        self.graveyard.clear()
        for conn in conns:
            await conn.aclose()


async def watch(owner: object, sockets: Sockets) -> None:
    """Close ``sockets`` when the running event loop ends, or soon after ``owner`` (the
    pool) is garbage-collected, whichever comes first. Call once, from the loop.

    How, without a background task: a started async generator is registered with the
    running loop (PEP 525 hooks), and both asyncio.run() and trio.run() aclose() every live
    one at shutdown, which runs its ``finally``. When the owner is collected first, a
    finalizer hands the same generator to the loop's own async-generator finalizer, which
    acloses it on the loop, at once.
    """
    hook = _close_at_loop_exit(sockets)
    sockets.hook = hook
    await hook.asend(None)
    loop_finalizer = sys.get_asyncgen_hooks().finalizer
    if loop_finalizer is not None and sockets.hook is not None:
        # The finalizer holds the sockets and the loop's hook, never the owner.
        sockets.finalizer = weakref.finalize(owner, _collected, loop_finalizer, sockets)
        sockets.finalizer.atexit = False


async def _close_at_loop_exit(sockets: Sockets) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        # Drop every reference to this generator (it holds its event loop).
        sockets.hook = None
        finalizer, sockets.finalizer = sockets.finalizer, None
        if finalizer is not None:
            finalizer.detach()
        with anyio.CancelScope(shield=True):
            await sockets.close_all(lent=True)


def _collected(loop_finalizer: Callable[[Any], object], sockets: Sockets) -> None:
    """The owner was garbage-collected while its loop runs: let the loop aclose the hook."""
    hook = sockets.hook
    if hook is None:
        return
    with warnings.catch_warnings():
        # trio reports a collected generator with a ResourceWarning; here that is the plan.
        warnings.simplefilter("ignore", ResourceWarning)
        # An error means the loop has ended: it closed the sockets on its way out.
        with contextlib.suppress(Exception):
            loop_finalizer(hook)
