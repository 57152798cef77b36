"""Pure: a provider's request rate learned from its 429s alone (for providers that state no
rate-limit headers). Stdlib only; the caller passes the time in.
"""

from __future__ import annotations

import bisect
from collections import deque

__all__ = ["RateFromRefusals"]


class RateFromRefusals:
    """Estimates a token bucket's refill rate from the Retry-After of the requests it refused.

    A bucket refilling at R per second answers a refusal with the time its next token comes:
    ``N = now + retry_after``. Between two refusals every request it admitted took one token,
    so ``N_j - N_i = admitted_between / R`` while the bucket never ran full (more when it
    did: the overflow is lost). ``admitted / (N_j - N_i)`` is therefore the rate, or a lower
    bound of it, whatever the bucket's size.

    "Between" is judged by when requests were sent, with a margin: requests sent within a
    few milliseconds of each other may reach the provider in either order. A request sent
    between the two and not refused counts as admitted: a refusal comes back as fast as the
    later 429 did, while an answer may take seconds. Each estimate is padded by the timing
    noise (~1 ms; a Retry-After in whole seconds is only precise to a second).

    Estimates over at least ``BASELINE`` seconds are trusted and the best of the last
    ``KEEP`` seconds wins; before there is one, the best short one is used, so that the
    next refusals come soon and lengthen the baseline.
    """

    BASELINE = 0.25
    KEEP = 30.0
    POINTS = 32
    NOISE = 0.002  # seconds: when a request reaches the provider and its answer comes back

    def __init__(self) -> None:
        self._points: deque[tuple[float, float, float]] = deque()  # (sent at, next token, noise)
        self._sent: list[float] = []  # send times since the oldest point (in order)
        self._refused: list[float] = []  # sorted send times of the refused ones among them
        self._trusted: deque[tuple[float, float]] = deque()  # (when, rate)

    @property
    def settled(self) -> bool:
        """Whether an estimate over a long enough baseline exists (in the last ``KEEP``)."""
        return bool(self._trusted)

    def sent(self, when: float) -> None:
        """Record that a request was sent at ``when`` (times never decrease)."""
        points = self._points
        if points and points[0][1] < when - self.KEEP:
            self._forget(when)  # a refusal long past: what was sent since is not needed
        if points:  # only sends between two refusals count
            self._sent.append(when)

    def refused(self, sent_at: float, now: float, retry_after: float) -> float | None:
        """Record that the request sent at ``sent_at`` was refused with ``retry_after``.

        Args:
            sent_at: when the request was sent.
            now: the current time (the same monotonic clock).
            retry_after: the provider's delay in seconds (> 0).

        Returns:
            The best estimate of the provider's rate, requests per second, or None.
        """
        next_token = now + retry_after
        # A delay in whole seconds is rounded up: only precise to a second.
        noise = max(self.NOISE, 1.0 if retry_after == int(retry_after) else 0.0)
        bisect.insort(self._refused, sent_at)
        rough: float | None = None
        trusted: float | None = None
        for old_sent, old_next, old_noise in self._points:
            span = next_token - old_next
            if span <= 0:
                continue
            margin = self.NOISE
            admitted = self._admitted_between(old_sent + margin, sent_at - margin)
            if admitted < 1:
                continue
            if span >= self.BASELINE + old_noise + noise:
                trusted = max(trusted or 0.0, admitted / (span + old_noise + noise))
            elif admitted >= 2:
                rough = max(rough or 0.0, admitted / span)
        if trusted is not None:
            self._trusted.append((now, trusted))
        self._points.append((sent_at, next_token, noise))
        self._forget(now)
        if self._trusted:
            return max(rate for _, rate in self._trusted)
        if rough is not None:
            return rough
        # No second point yet: the next token comes in `retry_after`, so at most one per that.
        return 1.0 / retry_after

    def _admitted_between(self, start: float, end: float) -> int:
        if end <= start:
            return 0
        sent, refused = self._sent, self._refused
        count = bisect.bisect_left(sent, end) - bisect.bisect_right(sent, start)
        return count - (bisect.bisect_left(refused, end) - bisect.bisect_right(refused, start))

    def _forget(self, now: float) -> None:
        points = self._points
        while points and (len(points) > self.POINTS or points[0][1] < now - self.KEEP):
            points.popleft()
        while self._trusted and self._trusted[0][0] < now - self.KEEP:
            self._trusted.popleft()
        if not points:
            self._sent.clear()
            self._refused.clear()
            return
        oldest = min(sent_at for sent_at, _, _ in points)
        del self._sent[: bisect.bisect_left(self._sent, oldest)]
        del self._refused[: bisect.bisect_left(self._refused, oldest)]
