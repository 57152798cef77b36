"""Token-bucket rate limiter and OpenAI-style rate-limit headers for the simulator.
Pure: stdlib and this package's pure modules; the caller passes the time in.
"""

from __future__ import annotations

import math

from ._wire import HeaderList

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` requests per second, bursts of ``max(1, rate)``; time comes from the caller."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate_limit must be > 0 requests per second, got {rate!r}")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp: float | None = None

    def take(self, now: float) -> tuple[float, HeaderList]:
        """Take a token: returns (seconds until one is available, 0 if granted; headers)."""
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        wait = 0.0
        if self.tokens >= 1:
            self.tokens -= 1
        else:
            wait = (1 - self.tokens) / self.rate
        full_in = (self.capacity - self.tokens) / self.rate
        headers = [
            (b"x-ratelimit-limit-requests", b"%d" % math.floor(self.capacity)),
            (b"x-ratelimit-remaining-requests", b"%d" % math.floor(self.tokens)),
            (b"x-ratelimit-reset-requests", _go_duration(full_in)),
        ]
        if wait:
            headers += [
                (b"retry-after", b"%d" % math.ceil(wait)),
                (b"retry-after-ms", b"%d" % math.ceil(wait * 1000)),
            ]
        return wait, headers


def _go_duration(seconds: float) -> bytes:
    # OpenAI's x-ratelimit-reset-* use Go duration strings: "12ms", "1.5s" (wire-formats §2.11).
    if seconds < 1:
        return b"%dms" % math.ceil(seconds * 1000)
    return (b"%.3f" % seconds).rstrip(b"0").rstrip(b".") + b"s"
