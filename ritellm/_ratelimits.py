"""Pure parsing of providers' rate-limit headers into one shape: OpenAI/Azure/Groq
``x-ratelimit-*`` (wire-formats §2.11) and Anthropic ``anthropic-ratelimit-*`` (§4.10).
Stdlib and attrs only: no anyio, no clock (the current Unix time is passed in).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = ["Limit", "RateLimits", "parse_go_duration", "parse_rate_limits", "parse_rfc3339"]


@attrs.frozen
class Limit:
    """One of a provider's buckets (requests or tokens) as a response states it.

    Both providers refill continuously, and ``reset`` is when the bucket is full again, so
    it refills at ``(limit - level) / reset`` per second (60 RPM, 59 left: "1s"). The level
    is only known rounded down (``remaining``) and ``reset`` only to its resolution, hence
    two bounds.

    Attributes:
        limit: the bucket's size: the most it allows at once (OpenAI: per minute).
        remaining: what is left right now.
        reset: seconds until the bucket is full again (0: it is full).
        resolution: how precise ``reset`` is, in seconds (a timestamp in whole seconds: 1).
    """

    limit: float
    remaining: float
    reset: float
    resolution: float

    def rate_floor(self, counted: bool = True) -> float | None:
        """At least this many per second: ``(limit - remaining - 1) / (reset + resolution)``
        (close once a few are used). A bucket of one is exact when the answer's request was
        ``counted`` (not refused): it is empty then. None when the headers can't tell, or
        when ``reset`` is under twice its resolution (a whole-second timestamp a second
        away)."""
        used = self.limit - self.remaining
        if self.reset < 2 * self.resolution or self.reset <= 0:
            return None
        if self.limit == 1 and used == 1 and counted:
            return 1.0 / (self.reset + self.resolution / 2)
        if used < 2:
            return None
        return (used - 1) / (self.reset + self.resolution)

    @property
    def rate_ceiling(self) -> float | None:
        """At most this many per second: ``(limit - remaining) / reset`` (``reset`` taken as
        rounded up, as providers count down to a whole unit). None when the headers can't
        tell."""
        used = self.limit - self.remaining
        if used < 1 or self.reset < 2 * self.resolution or self.reset <= 0:
            return None
        return used / self.reset


@attrs.frozen
class RateLimits:
    """The request and token buckets stated by one response.

    Attributes:
        requests: the requests bucket, None if not stated.
        tokens: the tokens bucket, None if not stated.
    """

    requests: Limit | None = None
    tokens: Limit | None = None


# Seconds per unit as (multiplier, divisor): "9ms" is exactly 9 / 1000, not 9 * 0.001.
_UNITS = {
    "ns": (1, 1e9),
    "us": (1, 1e6),
    "µs": (1, 1e6),
    "μs": (1, 1e6),
    "ms": (1, 1e3),
    "s": (1, 1),
    "m": (60, 1),
    "h": (3600, 1),
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration string (``"12ms"``, ``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``), or
    None if it is not one. A bare number is taken as seconds (some compatible servers)."""
    text = text.strip()
    if _DURATION.fullmatch(text):
        return sum(float(n) * _UNITS[u][0] / _UNITS[u][1] for n, u in _PART.findall(text))
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def parse_rfc3339(text: str) -> tuple[float, float] | None:
    """``(Unix time, resolution in seconds)`` of an RFC 3339 timestamp such as
    ``2025-10-25T12:00:00Z`` or ``2025-10-25T12:00:00.250+00:00``; None if it is not one
    (a timestamp without a zone is not one)."""
    text = text.strip()
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if when.tzinfo is None or "T" not in text.upper():
        return None
    fraction = re.search(r"\.(\d+)", text)
    resolution = 10.0 ** -len(fraction[1]) if fraction else 1.0
    return when.timestamp(), resolution


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    # Azure has been seen sending -1 / 0 placeholders (wire-formats §3.4): no information.
    return value if math.isfinite(value) and value >= 0 else None


def _limit(
    limit: float | None, remaining: float | None, reset: float | None, res: float
) -> Limit | None:
    if limit is None or remaining is None or reset is None or limit <= 0:
        return None
    return Limit(
        limit=limit, remaining=min(remaining, limit), reset=max(0.0, reset), resolution=res
    )


def _openai(headers: Mapping[str, str], kind: str) -> Limit | None:
    raw_reset = headers.get(f"x-ratelimit-reset-{kind}")
    reset = parse_go_duration(raw_reset) if raw_reset is not None else None
    return _limit(
        _number(headers, f"x-ratelimit-limit-{kind}"),
        _number(headers, f"x-ratelimit-remaining-{kind}"),
        reset,
        1e-3,
    )


def _anthropic(headers: Mapping[str, str], kind: str, now: float) -> Limit | None:
    raw_reset = headers.get(f"anthropic-ratelimit-{kind}-reset")
    parsed = parse_rfc3339(raw_reset) if raw_reset is not None else None
    if parsed is None:
        return None
    when, resolution = parsed
    return _limit(
        _number(headers, f"anthropic-ratelimit-{kind}-limit"),
        _number(headers, f"anthropic-ratelimit-{kind}-remaining"),
        when - now,
        resolution,
    )


def parse_rate_limits(headers: Mapping[str, str], now: float) -> RateLimits | None:
    """The rate limits a response states, or None when it states none.

    Args:
        headers: the response's headers, lower-case names.
        now: the current Unix time (Anthropic's resets are timestamps).

    Returns:
        The request and token buckets found (either may be None); None if neither was: a
        bucket needs its limit, remaining and reset headers, all valid.
    """
    requests = _openai(headers, "requests") or _anthropic(headers, "requests", now)
    tokens = _openai(headers, "tokens") or _anthropic(headers, "tokens", now)
    if requests is None and tokens is None:
        return None
    return RateLimits(requests=requests, tokens=tokens)
