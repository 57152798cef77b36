"""What a provider format hands the server (a pre-encoded response `Plan`) and is handed by it
(a rate-limiter `Quota`), and the `Endpoint` protocol the route table is made of.
Pure: stdlib and attrs only; no anyio, no sockets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Protocol

import attrs

from ._replies import RecordedRequest, Reply

__all__ = ["REASONS", "Endpoint", "HeaderList", "Plan", "Quota", "dumps"]

HeaderList = Sequence[tuple[bytes, bytes]]
REASONS: dict[int, bytes] = {s.value: s.phrase.encode() for s in HTTPStatus}

# Compact separators match what providers put on the wire; ensure_ascii=False keeps non-ASCII
# text as UTF-8 (as OpenAI does), so byte-split tests see multi-byte characters.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(obj: object) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    return _encoder.encode(obj).encode()


@attrs.frozen
class Plan:
    """A response ready to write: the server adds framing, keep-alive and transport faults.

    Exactly one of ``body`` (sent with a Content-Length) and ``events`` (a streamed body: each
    item is one write, chunked transfer encoding) is set.
    """

    status: int
    headers: HeaderList
    body: bytes | None = None
    events: Sequence[bytes] | None = None
    reply: Reply | None = None
    """The reply whose transport settings (latency, delay, faults) apply; None for errors the
    simulator itself decided (auth, rate limit, bad request)."""


@attrs.frozen
class Quota:
    """One pass through the rate limiter, for a format to render as headers or a 429."""

    rate: float
    """Requests per second."""
    limit: int
    """The burst size (the bucket's capacity)."""
    remaining: int
    """Whole requests left right now."""
    reset_after: float
    """Seconds until the bucket is full again."""
    wait: float
    """0 when the request was granted; else seconds until a token is available."""


class Endpoint(Protocol):
    """One route of one provider format (e.g. OpenAI ``/v1/chat/completions``).

    ``seq`` numbers the simulator's responses (ids and request ids are built from it) and
    ``now`` is unix time in seconds: a format never reads the clock itself.
    """

    methods: frozenset[str]

    def error(
        self,
        status: int,
        *,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: HeaderList = (),
        seq: int = 0,
    ) -> Plan:
        """An error response in this format's shape (defaults chosen per status)."""
        ...

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        """Whether the request carries ``api_key`` the way this provider expects."""
        ...

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        """The response for a missing or wrong key."""
        ...

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        """The response for a path no route serves (this endpoint is the fallback format)."""
        ...

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        """The response for a method this route does not serve."""
        ...

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        """Rate-limit headers for a request the rate limiter let through."""
        ...

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        """The 429 for a request the rate limiter refused."""
        ...

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        """Validate the request and build the answer; calls ``next_reply`` only when the request
        is valid and needs a scripted reply."""
        ...
