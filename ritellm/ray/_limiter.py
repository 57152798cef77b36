"""The cluster-wide limiter: one fan-out :class:`Admission` in a Ray actor that paces every
worker (rpm, tpm, the provider's stated limits, the rate learned from 429s and their
Retry-After), and each worker's side of it. Imports anyio and the fan-out; never asyncio or
trio (the shared actor runs on Ray's event loop, through anyio).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from .._fanout._admission import Admission, Ticket

__all__ = ["ClusterAdmission", "SharedLimits", "await_ref"]

# What a worker tells the shared limiter, in order (tuples: cheap to pickle).
OK, REFUSED, HEADERS, TOKENS = "ok", "429", "headers", "tokens"
# The response headers the shared limiter reads (the provider's stated limits); the rest of
# an answer's headers never leave the worker.
_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


class SharedLimits:
    """The body of the shared limiter actor: ``ray.remote`` makes it an async actor.

    One :class:`Admission` decides when each request of the whole cluster may go, so the
    cluster behaves as one fan-out does on one machine: a 429 any worker sees (its
    Retry-After, the rate learned from it) holds back every worker. It also keeps each
    worker's counters, for progress and for finding the workers.
    """

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        self._rpm = rpm
        self._tpm = tpm
        self._admission: Admission | None = None
        self._workers: dict[str, dict[str, Any]] = {}

    def _limits(self) -> Admission:
        # Created on the actor's event loop: Admission reads the loop's clock.
        if self._admission is None:
            # Concurrency is each worker's own business: this admission's limiter is unused.
            self._admission = Admission(1, self._rpm, self._tpm)
        return self._admission

    def _apply(self, events: list[tuple[Any, ...]]) -> None:
        admission = self._limits()
        for event in events:
            kind = event[0]
            if kind == OK:
                admission.succeeded(event[1])
            elif kind == REFUSED:
                admission.rate_limited(event[1], event[2])
            elif kind == HEADERS:
                admission.observer(event[1])(event[2], event[3])
            elif kind == TOKENS:
                admission.used_tokens(event[1], event[2])

    async def grant(
        self, estimates: list[float], events: list[tuple[Any, ...]]
    ) -> tuple[list[Ticket], float | None, bool]:
        """Admit the first request when its turn comes, and with it every following one
        that may go at once; returns (tickets, pace, whether token estimates are wanted)."""
        self._apply(events)
        admission = self._limits()
        tickets = [await admission.admit(estimates[0])]
        for estimate in estimates[1:]:
            ticket = admission.admit_now(estimate)
            if ticket is None:
                break
            tickets.append(ticket)
        return tickets, admission.pace, admission.wants_estimates

    async def report(self, events: list[tuple[Any, ...]]) -> None:
        """Take in what workers saw: successes, 429s, stated limits, token counts."""
        self._apply(events)

    async def register(self, worker: str, info: dict[str, Any]) -> None:
        """A worker started (again, after a restart: same name, new process)."""
        starts = self._workers.get(worker, {}).get("starts", 0) + 1
        self._workers[worker] = {**info, "starts": starts, "done": 0, "failed": 0, "retried": 0}

    async def progress(self, worker: str, counts: dict[str, int]) -> None:
        if worker in self._workers:
            self._workers[worker].update(counts)

    async def workers(self) -> dict[str, dict[str, Any]]:
        """Each worker's pid, node, counters (its current process's) and how many times
        it started (a worker Ray restarted after its process died: more than once)."""
        return {name: dict(info) for name, info in self._workers.items()}

    async def pace(self) -> float | None:
        return self._limits().pace


def _limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith(_LIMIT_PREFIXES)}


async def await_ref(ref: Any) -> Any:
    """The value of a Ray ObjectRef, awaited on any anyio backend: Ray's future calls back
    on its own thread, which wakes this task through the loop's token."""
    future = ref.future()
    done = anyio.Event()
    token = anyio.lowlevel.current_token()
    loop_thread = threading.get_ident()

    def wake(_: Any) -> None:
        if threading.get_ident() == loop_thread:
            done.set()  # called at once: the future was already done
            return
        with suppress(RuntimeError):  # the loop has ended: nobody waits any more
            anyio.from_thread.run_sync(done.set, token=token)

    future.add_done_callback(wake)
    await done.wait()
    return future.result()


class _Waiter:
    __slots__ = ("done", "estimate", "gone", "ticket")

    def __init__(self, estimate: float) -> None:
        self.estimate = estimate
        self.done = anyio.Event()
        self.ticket: Ticket | None = None
        self.gone = False


class ClusterAdmission(Admission):
    """A worker's admission: its own adaptive concurrency (``concurrency_per_worker``),
    and the shared limiter's say on when each request goes.

    Requests waiting for their turn are asked for together, one call at a time (the shared
    limiter admits the first when it may go and every following one that may go at once),
    so an unpaced cluster costs about one call per batch of requests, not one per request.
    Successes, token counts and stated limits go back in batches: with the next request
    asked for, else within ``FLUSH`` seconds of the first one (also when no request is
    waiting); a 429 goes at once, so that every worker holds back.
    """

    FLUSH = 0.05
    MOST = 256  # requests asked for in one call

    def __init__(self, limits: Any, max_concurrency: int, *, tpm: bool) -> None:
        super().__init__(max_concurrency, None, None)
        self._limits = limits
        self._queue: list[_Waiter] = []
        self._events: list[tuple[Any, ...]] = []
        self._wake = anyio.Event()
        self._shared_pace: float | None = None
        self._tpm = tpm
        self._wants = tpm
        self._failure: Exception | None = None

    @property
    def pace(self) -> float | None:
        return self._shared_pace

    @property
    def wants_estimates(self) -> bool:
        return self._wants

    @property
    def counts_tokens(self) -> bool:
        return self._tpm

    async def admit(self, estimate: float) -> Ticket:
        if self._failure is not None:
            raise RuntimeError("ritellm.ray: the shared limiter failed") from self._failure
        waiter = _Waiter(estimate)
        self._queue.append(waiter)
        self._wake.set()
        try:
            await waiter.done.wait()
        except BaseException:
            waiter.gone = True  # cancelled: a ticket granted meanwhile goes unused
            raise
        if waiter.ticket is None:
            raise RuntimeError("ritellm.ray: the shared limiter failed") from self._failure
        return waiter.ticket

    async def serve(self) -> None:
        """Ask the shared limiter for the waiting requests' turns and pass on what was seen,
        for as long as the worker lives (run it in the worker's task group). If it fails
        (the limiter actor is gone for good), every waiting and later request fails."""
        try:
            await self._serve()
        except Exception as exc:
            self._failure = exc
            for waiter in self._queue:
                waiter.done.set()
            raise

    async def _serve(self) -> None:
        while True:
            self._wake = anyio.Event()
            self._queue = [w for w in self._queue if not w.gone]
            if not self._queue:
                if not self._events:
                    await self._wake.wait()  # a request, or the first event (_note)
                    continue
                with anyio.move_on_after(self.FLUSH):  # more events, in one call
                    await self._wake.wait()
                if not self._queue and self._events:
                    self._send()
                continue
            asking = self._queue[: self.MOST]
            events, self._events = self._events, []
            ref = self._limits.grant.remote([w.estimate for w in asking], events)
            tickets, self._shared_pace, self._wants = await await_ref(ref)
            self._wants = self._wants or self._tpm
            for waiter, ticket in zip(asking, tickets, strict=False):
                waiter.ticket = ticket
                waiter.done.set()
            granted = {id(w) for w in asking[: len(tickets)]}
            self._queue = [w for w in self._queue if id(w) not in granted]

    def _send(self) -> None:
        events, self._events = self._events, []
        self._limits.report.remote(events)  # fire and forget: no reply to wait for

    def rate_limited(self, ticket: Ticket, retry_after: float | None) -> None:
        # Here as on one machine: before anything paces, halve the concurrency.
        if self.pace is None:
            self.limiter.total_tokens = max(1, self.limit // 2)
            self.successes = 0
        self._events.append((REFUSED, ticket, retry_after))
        self._send()  # at once: every worker should hold back

    def _note(self, event: tuple[Any, ...]) -> None:
        self._events.append(event)
        if len(self._events) == 1:
            self._wake.set()  # an idle _serve starts its FLUSH wait

    def succeeded(self, ticket: Ticket) -> None:
        super().succeeded(ticket)  # the concurrency limit grows back (no local pace here)
        self._note((OK, ticket))

    def observer(self, ticket: Ticket) -> Callable[[int, Mapping[str, str]], None]:
        def observe(status: int, headers: Mapping[str, str]) -> None:
            stated = _limit_headers(headers)
            if stated:
                self._note((HEADERS, ticket, status, stated))

        return observe

    def used_tokens(self, estimate: float, actual: float) -> None:
        self._note((TOKENS, estimate, actual))
