"""Admission control for a fan-out: when the next request may go, given the caller's rpm/tpm,
the provider's rate-limit headers, the rate learned from its 429s and their Retry-After, and
an adaptive concurrency limit. Imports anyio and the fan-out's pure modules only.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping

import anyio
import attrs

from .._ratelimits import Limit, parse_rate_limits
from ._learn import RateFromRefusals

__all__ = ["Admission", "Ticket"]

# Names whose presence means a response states its limits (checked before parsing anything).
_STATED = (
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-tokens-remaining",
)


class _Bucket:
    """A token bucket refilled continuously at ``rate``; the time is passed in. Its stamp
    may lie in the future: nothing accrues, and nothing is available, before then."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (a request larger than the bucket waits for
        a full bucket, so that a huge prompt can never wait forever)."""
        self._refill(now)
        missing = min(amount, self.capacity) - self.tokens
        # Rounding leaves dust (1e-15 of a token): a wait shorter than the clock's
        # resolution would wake at once and spin.
        wait = missing / self.rate if missing > 1e-9 else 0.0
        return wait + max(0.0, self.stamp - now)

    def take(self, amount: float, now: float) -> None:
        # All of it: a request larger than the bucket drives the balance below zero, and
        # the next one waits for that to be paid back.
        self._refill(now)
        self.tokens -= amount

    def set(self, tokens: float, when: float) -> None:
        """There are ``tokens`` at time ``when`` (and none accrue before)."""
        self.stamp = when
        self.tokens = min(self.capacity, tokens)

    def adjust(self, delta: float, now: float) -> None:
        """Correct an estimate after the fact (positive: more was used)."""
        self._refill(now)
        self.tokens -= delta

    def retune(self, rate: float, capacity: float, now: float) -> None:
        self._refill(now)  # what accrued so far accrued at the old rate
        self.rate, self.capacity = rate, capacity
        self.tokens = min(capacity, self.tokens)


@attrs.frozen
class Ticket:
    """One admitted request: its number in sending order, when it went, and the running
    total of estimated tokens sent up to and including it."""

    seq: int
    sent_at: float
    tokens_sent: float


class _Stated:
    """A provider's bucket (requests or tokens) as its rate-limit headers state it: paced at
    the stated rate, never beyond what is stated as remaining."""

    KEEP = 10.0  # seconds a rate estimate counts
    # At most a second's worth at once: providers reject a minute's quota sent in one go
    # even when the headers say it remains.
    BURST = 1.0
    # The provider counted the request a little after it was sent: its refill since then is
    # counted from this much later, so that the next request never arrives early.
    TRANSIT = 0.01
    MARGIN = 0.99

    def __init__(self) -> None:
        self.bucket: _Bucket | None = None
        self.floors: deque[tuple[float, float]] = deque()  # (when, rate at least)
        self.ceilings: deque[tuple[float, float]] = deque()  # (when, rate at most)
        self.freshest = -1  # the newest request whose answer set the bucket

    def _keep(self, bounds: deque[tuple[float, float]], rate: float | None, now: float) -> None:
        if rate is not None:
            bounds.append((now, rate))
        while bounds and bounds[0][0] < now - self.KEEP:
            bounds.popleft()

    def observe(
        self, limit: Limit, now: float, elapsed: float, unseen: float, seq: int, counted: bool
    ) -> None:
        """Take in an answer's headers: ``elapsed`` since its request was sent, ``unseen``
        what was sent after it (which the provider had not counted yet), ``counted``
        whether the provider counted the request itself (it was not refused)."""
        self._keep(self.floors, limit.rate_floor(counted), now)
        self._keep(self.ceilings, limit.rate_ceiling, now)
        if not self.floors and not self.ceilings:
            return  # no trustworthy rate: nothing to pace with
        # The least upper bound is the rate whenever an answer came just as a token was due
        # (the usual case under pacing); the greatest lower bound wins when above it. Paced
        # 1% below, so that jitter in the requests' travel never makes one arrive early.
        highest = min((rate for _, rate in self.ceilings), default=math.inf)
        lowest = max((rate for _, rate in self.floors), default=0.0)
        best = max(lowest, highest if highest < math.inf else 0.0) * self.MARGIN
        capacity = max(1.0, min(limit.limit, best * self.BURST))
        bucket = self.bucket
        if bucket is None:
            bucket = self.bucket = _Bucket(best, capacity, now)
        else:
            bucket.retune(best, capacity, now)
        if seq < self.freshest or elapsed > limit.limit / best:
            # An older request's answer knows less than the one already applied; one that
            # took longer than the provider needs to refill its whole bucket tells nothing
            # about its level now (our own pacing does; a 429, answered at once, corrects).
            return
        self.freshest = seq
        # Its level when it answered: `remaining` is rounded down, and `reset` says how far
        # below full it was (at the highest rate, at least that much is left).
        level = limit.limit - highest * limit.reset if highest < math.inf else 0.0
        level = min(limit.remaining + 1.0, max(limit.remaining, level))
        # What it has now: that, plus its refill since, minus what it had not seen yet;
        # capped only at the end (refill is lost to a full bucket only while nothing is
        # sent, and then the cap is the truth; if not, a 429 answered at once corrects it).
        since = max(0.0, elapsed - self.TRANSIT)
        bucket.set(level + best * since - unseen, now)


class Admission:
    """Admission for a fan-out, adapting to the provider.

    - The caller's ``rpm``/``tpm`` as token buckets (a second's worth at once).
    - The provider's rate-limit headers, from every answer: requests and tokens are paced
      at the stated rate (``(limit - remaining) / reset``), never beyond ``remaining``.
    - A 429's Retry-After: nothing is sent before it has passed.
    - Without headers, the rate learned from the 429s (see :class:`RateFromRefusals`),
      raised 5% per second without a 429 to find out whether more is allowed (10% until the
      429s have pinned it down), and back to the last pace without one when a 429 says no.
    - An adaptive concurrency limit, halved by the first 429 (before anything paces) and
      grown after each full window of successes: by one, or doubled once something paces.

    Requests are admitted one at a time in arrival order (a FIFO lock), so a waiting request
    is never overtaken and only the head of the queue sleeps; news from the provider wakes
    it early.
    """

    WINDOW = 1.0  # seconds of successes: the measured rate when a 429 has no Retry-After
    # The learned pace is raised after each second without a 429 (a quiet window): by 5%,
    # or 10% while the 429s have not pinned the rate down yet (the pace may be far off).
    PROBE = 1.05
    PROBE_UNSETTLED = 1.10
    MAX_HOLD = 120.0

    def __init__(self, max_concurrency: int, rpm: float | None, tpm: float | None) -> None:
        now = anyio.current_time()
        self.max = max_concurrency
        self.limiter = anyio.CapacityLimiter(max_concurrency)
        self.lock = anyio.Lock()
        self.news: anyio.Event | None = None  # set when the head of the queue may go sooner
        self.hold = -math.inf  # nothing is sent before this (a 429's Retry-After)
        self.sent = 0
        self.tokens_sent = 0.0
        self.successes = 0
        self.recent: deque[float] = deque()
        self.last_429 = -math.inf
        self.learner = RateFromRefusals()
        self.learned: _Bucket | None = None
        self.quiet: float | None = None  # the learned pace of the last window without a 429
        self.synced = -1  # the newest refused request the learned pace was aligned to
        self.requests = _Stated()
        self.tokens = _Stated()
        self.rpm = _Bucket(rpm / 60.0, max(1.0, rpm / 60.0), now) if rpm else None
        self.tpm = _Bucket(tpm / 60.0, max(1.0, tpm / 60.0), now) if tpm else None

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return int(self.limiter.total_tokens)

    @property
    def pace(self) -> float | None:
        """Requests per second admitted at most (None: nothing paces)."""
        rates = [bucket.rate for bucket in (self._requests(), self.rpm) if bucket is not None]
        return min(rates) if rates else None

    @property
    def counts_tokens(self) -> bool:
        """Whether answers' ``usage`` should correct the estimates (``tpm`` is set)."""
        return self.tpm is not None

    @property
    def wants_estimates(self) -> bool:
        """Whether requests' token estimates are needed (``tpm``, or a stated token limit)."""
        return self.tpm is not None or self.tokens.bucket is not None

    # -- admission -------------------------------------------------------------------------

    def _requests(self) -> _Bucket | None:
        # The learned pace stands in for stated limits: it only applies without them.
        stated = self.requests.bucket
        return self.learned if stated is None else stated

    def _buckets(self, estimate: float) -> list[tuple[_Bucket, float]]:
        found = (
            (self._requests(), 1.0),
            (self.rpm, 1.0),
            (self.tokens.bucket, estimate),
            (self.tpm, estimate),
        )
        return [(bucket, amount) for bucket, amount in found if bucket is not None]

    def _wait(self, now: float, estimate: float) -> float:
        wait = self.hold - now
        for bucket, amount in self._buckets(estimate):
            wait = max(wait, bucket.wait(amount, now))
        return wait

    def _take(self, now: float, estimate: float) -> Ticket:
        for bucket, amount in self._buckets(estimate):
            bucket.take(amount, now)
        self.sent += 1
        self.tokens_sent += estimate
        self.learner.sent(now)
        return Ticket(self.sent, now, self.tokens_sent)

    def admit_now(self, estimate: float) -> Ticket | None:
        """Admit at once if nobody is queued and nothing says wait, else None (for a
        limiter that admits several requests in one go: ritellm.ray's shared one)."""
        now = anyio.current_time()
        if not self.lock.locked() and self._wait(now, estimate) <= 0:
            return self._take(now, estimate)
        return None

    async def admit(self, estimate: float) -> Ticket:
        """Wait for this request's turn (the concurrency slot is taken separately, before
        the task starts)."""
        now = anyio.current_time()
        if not self.lock.locked() and self._wait(now, estimate) <= 0:
            return self._take(now, estimate)  # nobody queued and nothing to wait for
        async with self.lock:
            while True:
                # Re-read every time: a 429 or an answer's headers may have moved the goal.
                now = anyio.current_time()
                wait = self._wait(now, estimate)
                if wait <= 0:
                    return self._take(now, estimate)
                news = self.news = anyio.Event()
                with anyio.move_on_after(wait):
                    await news.wait()

    def _notify(self) -> None:
        news, self.news = self.news, None
        if news is not None:
            news.set()

    # -- what the provider said ------------------------------------------------------------

    def observer(self, ticket: Ticket) -> Callable[[int, Mapping[str, str]], None]:
        """The callback that sees every answer to the request ``ticket`` admitted."""

        def observe(status: int, headers: Mapping[str, str]) -> None:
            if any(name in headers for name in _STATED):
                self._stated(ticket, status != 429, headers)

        return observe

    def _stated(self, ticket: Ticket, counted: bool, headers: Mapping[str, str]) -> None:
        limits = parse_rate_limits(headers, time.time())
        if limits is None:
            return
        now = anyio.current_time()
        elapsed = now - ticket.sent_at
        if limits.requests is not None:
            since = float(self.sent - ticket.seq)
            self.requests.observe(limits.requests, now, elapsed, since, ticket.seq, counted)
        if limits.tokens is not None:
            since = self.tokens_sent - ticket.tokens_sent
            self.tokens.observe(limits.tokens, now, elapsed, since, ticket.seq, counted)
        self._notify()

    def rate_limited(self, ticket: Ticket, retry_after: float | None) -> None:
        """A 429 for the request ``ticket`` admitted, with the provider's Retry-After."""
        now = anyio.current_time()
        pause = retry_after if retry_after is not None and retry_after > 0 else None
        self.hold = max(self.hold, now + min(pause or self.WINDOW, self.MAX_HOLD))
        if self.pace is None:
            # Before anything paces, back off in concurrency as well (once: the other
            # answers of the same burst describe the same overload).
            self.limiter.total_tokens = max(1, self.limit // 2)
            self.successes = 0
        self.last_429 = now
        if pause is None:
            # Nothing says when: pace at the success rate just observed.
            while self.recent and self.recent[0] < now - self.WINDOW:
                self.recent.popleft()
            allowed = len(self.recent) / self.WINDOW
            if allowed >= 1.0 and (self.learned is None or allowed < self.learned.rate):
                self._learn(allowed, now)
            return
        rate = self.learner.refused(ticket.sent_at, now, pause)
        if rate is not None:
            if self.quiet is not None:
                # Probing up found the limit: back to the last pace that drew no 429, if
                # the estimate is lower (it is a lower bound, and may be a poor one).
                rate, self.quiet = max(rate, self.quiet), None
            self._learn(rate, now)
        if self.learned is not None and ticket.seq > self.synced:
            # The provider's next token comes at now + pause (the freshest refusal knows).
            self.synced = ticket.seq
            self.learned.set(1.0, now + pause)
        self._notify()

    def _learn(self, rate: float, now: float) -> None:
        # A little room beyond one request absorbs the event loop's timer lateness, which
        # would otherwise be lost from every interval (~1 ms of 5 at 200/s).
        capacity = 1.0 + min(1.0, rate * 0.005)
        if self.learned is None:
            self.learned = _Bucket(rate, capacity, now)
            self.learned.set(0.0, now)
        else:
            self.learned.retune(rate, capacity, now)

    def succeeded(self, ticket: Ticket) -> None:
        """The request ``ticket`` admitted was answered."""
        now = anyio.current_time()
        self.recent.append(now)
        while self.recent and self.recent[0] < now - self.WINDOW:
            self.recent.popleft()
        # After a full window of successes at the current limit: +1 (additive increase), or
        # double once a pace holds the rate down (it is what keeps the 429s away then, and
        # a provider's latency times its rate may need every slot).
        self.successes += 1
        if self.successes >= self.limit and self.limit < self.max:
            self.successes = 0
            grown = self.limit * 2 if self.pace is not None else self.limit + 1
            self.limiter.total_tokens = min(self.max, grown)
        learned = self.learned
        if learned is not None and now - self.last_429 >= self.WINDOW:
            self.last_429 = now  # one probe step per quiet window
            self.quiet = learned.rate
            step = self.PROBE if self.learner.settled else self.PROBE_UNSETTLED
            learned.retune(learned.rate * step, learned.capacity, now)
            self._notify()

    def used_tokens(self, estimate: float, actual: float) -> None:
        """Correct ``tpm`` after the fact from a response's ``usage``."""
        if self.tpm is not None:
            self.tpm.adjust(actual - estimate, anyio.current_time())
