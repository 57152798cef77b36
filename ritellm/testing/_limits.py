"""Token-bucket rate limiter for the simulator, and OpenAI-style rate-limit headers.
Pure: stdlib and this package's pure modules; the caller passes the time in.
"""

from __future__ import annotations

import math

from ._wire import HeaderList, Quota

__all__ = ["TokenBucket", "openai_headers", "without_quota_headers"]


class TokenBucket:
    """``rate`` requests per second in bursts of up to ``burst`` (default ``max(1, rate)``);
    time comes from the caller."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not rate > 0:
            raise ValueError(f"rate_limit must be > 0 requests per second, got {rate!r}")
        if burst is not None and not burst >= 1:
            # Below one token no request could ever pass.
            raise ValueError(f"rate_burst must be >= 1 request, got {burst!r}")
        self.rate = rate
        self.capacity = max(1.0, rate) if burst is None else float(burst)
        self.tokens = self.capacity
        self.stamp: float | None = None

    def acquire(self, now: float) -> Quota:
        """Take a token if one is available at monotonic time ``now``.

        Returns:
            The bucket's state after the attempt; ``wait`` is 0 when the token was granted.
        """
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        wait = 0.0
        if self.tokens >= 1:
            self.tokens -= 1
        else:
            wait = (1 - self.tokens) / self.rate
        return Quota(
            rate=self.rate,
            limit=math.floor(self.capacity),
            remaining=math.floor(self.tokens),
            reset_after=(self.capacity - self.tokens) / self.rate,
            wait=wait,
        )

    def take(self, now: float) -> tuple[float, HeaderList]:
        """Take a token: returns (seconds until one is available, 0 if granted; headers)."""
        quota = self.acquire(now)
        return quota.wait, openai_headers(quota)


def openai_headers(quota: Quota) -> HeaderList:
    """OpenAI's (and Azure's) ``x-ratelimit-*`` headers, plus ``retry-after`` and
    ``retry-after-ms`` when the request was refused (wire-formats §2.11, §3.4)."""
    headers = [
        (b"x-ratelimit-limit-requests", b"%d" % quota.limit),
        (b"x-ratelimit-remaining-requests", b"%d" % quota.remaining),
        (b"x-ratelimit-reset-requests", _go_duration(quota.reset_after)),
    ]
    if quota.wait:
        headers += [
            (b"retry-after", b"%d" % math.ceil(quota.wait)),
            (b"retry-after-ms", b"%d" % math.ceil(quota.wait * 1000)),
        ]
    return headers


_QUOTA_PREFIXES = (b"x-ratelimit-", b"anthropic-ratelimit-")


def without_quota_headers(headers: HeaderList) -> HeaderList:
    """``headers`` minus the rate-limit state (``x-ratelimit-*``, ``anthropic-ratelimit-*``),
    keeping ``retry-after``: a provider that states no limits, only when to come back."""
    return [(k, v) for k, v in headers if not k.lower().startswith(_QUOTA_PREFIXES)]


def _go_duration(seconds: float) -> bytes:
    # OpenAI's x-ratelimit-reset-* use Go duration strings: "12ms", "1.5s" (wire-formats §2.11).
    if seconds < 1:
        return b"%dms" % math.ceil(seconds * 1000)
    return (b"%.3f" % seconds).rstrip(b"0").rstrip(b".") + b"s"
