"""Pure retry policy: which failures to retry and how long to wait.

Imports only the standard library; the clock and the random source are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from ._options import RetryPolicy

__all__ = ["backoff", "parse_retry_after", "should_retry"]


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether an HTTP error status is worth another attempt.

    ``x-should-retry`` (a Stainless-SDK convention servers use) wins over the status; then
    408, 409, 429 and every 5xx are retried; other statuses are not.
    """
    hint = headers.get("x-should-retry")
    if hint == "true":
        return True
    if hint == "false":
        return False
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """The server's requested delay in seconds, or None.

    Order: ``retry-after-ms`` (milliseconds), then ``retry-after`` as seconds, then as an
    HTTP-date (``now`` is the current Unix time, used only for that form).
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            pass
        else:
            if math.isfinite(ms):
                return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        import email.utils  # rare path; keeps ~10 ms off `import ritellm`

        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        return when.timestamp() - now
    return seconds if math.isfinite(seconds) else None


def backoff(
    attempt: int,
    retry_after: float | None,
    rng: Callable[[], float],
    policy: RetryPolicy,
) -> float | None:
    """Seconds to sleep before retry number ``attempt + 1``, or None to stop retrying.

    A positive server hint up to ``policy.max_retry_after`` is honoured exactly; a longer one
    means "don't retry" (None). Otherwise exponential backoff from ``initial_delay``, doubling,
    capped at ``max_delay``, times a jitter factor in (0.75, 1] (``rng()`` is in [0, 1)).
    """
    if retry_after is not None and retry_after > 0:
        if retry_after > policy.max_retry_after:
            return None
        return retry_after
    # min(attempt, 64): 2.0**1024 overflows, and the cap is reached long before.
    nominal = min(policy.initial_delay * (2.0 ** min(attempt, 64)), policy.max_delay)
    return nominal * (1.0 - 0.25 * rng())
