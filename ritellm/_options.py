"""Frozen configuration values: timeouts, the retry policy and the transport's limits.

Leaf module: imports only the standard library and attrs.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from ._errors import APITimeoutError, ParameterError, ParameterTypeError

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT", "RetryPolicy", "Timeouts"]

# The largest response body read whole (a JSON answer or an error), decompressed: far above
# any chat completion, far below what would hurt a process.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def _check_seconds(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterTypeError(
            f"Timeouts.{attribute.name} must be a number of seconds or None, "
            f"not {type(value).__name__}"
        )
    if not value > 0 or math.isnan(value):
        raise ParameterError(f"Timeouts.{attribute.name} must be > 0 seconds, got {value!r}")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Per-phase timeouts in seconds (None = no limit).

    ``connect``: TCP + TLS handshake. ``write``: sending the request. ``read``: waiting for
    the response headers, then for each next body read (non-streaming) or each next chunk
    (streaming). ``pool``: waiting for a free connection slot. ``total``: a deadline over the
    whole call, retries and backoff sleeps included (for a stream: until it is finished).
    """

    connect: float | None = attrs.field(default=5.0, validator=_check_seconds)
    read: float | None = attrs.field(default=600.0, validator=_check_seconds)
    write: float | None = attrs.field(default=600.0, validator=_check_seconds)
    pool: float | None = attrs.field(default=600.0, validator=_check_seconds)
    total: float | None = attrs.field(default=None, validator=_check_seconds)

    @classmethod
    def coerce(cls, value: object, *, stream: bool) -> Timeouts:
        """Turn ``timeout=`` into a Timeouts.

        Args:
            value: the ``timeout=`` argument: None (the default Timeouts), a Timeouts, or a
                number of seconds. A number bounds the whole call for a non-streaming
                request (retries included) and, for a stream, the wait for the headers and
                for each next chunk.
            stream: whether the call streams.

        Raises:
            ParameterTypeError: any other type (``ritellm.Timeout``, the exception, named).
            ParameterError: a number that is not > 0.
        """
        if value is None:
            return DEFAULT_TIMEOUT
        if isinstance(value, Timeouts):
            return value
        if value is APITimeoutError or isinstance(value, APITimeoutError):
            raise ParameterTypeError(
                "timeout=ritellm.Timeout: ritellm.Timeout is the timeout exception (as in "
                "LiteLLM); pass seconds or ritellm.Timeouts(connect=..., read=..., ...)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterTypeError(
                "timeout must be a number of seconds, a ritellm.Timeouts or None, "
                f"not {type(value).__name__}"
            )
        seconds = float(value)
        if not seconds > 0 or math.isnan(seconds):
            raise ParameterError(f"timeout must be > 0 seconds, got {value!r}")
        if stream:
            return cls(connect=seconds, read=seconds, write=seconds, pool=seconds, total=None)
        return cls(connect=seconds, read=seconds, write=seconds, pool=seconds, total=seconds)


DEFAULT_TIMEOUT = Timeouts()


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How failed attempts are retried (see ``ritellm._retry``)."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # A server hint longer than this is not slept on: the error is raised at once, with
    # ``retry_after`` set, so the caller can decide (openai-python >= 2.52 does the same).
    max_retry_after: float = 120.0
