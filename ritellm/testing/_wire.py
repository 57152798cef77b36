"""What a provider format hands the server: a pre-encoded response `Plan`, and the `Endpoint`
protocol the route table is made of. Pure: stdlib and attrs only; no anyio, no sockets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Protocol

import attrs

from ._replies import RecordedRequest, Reply

__all__ = ["REASONS", "Endpoint", "HeaderList", "Plan", "dumps"]

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


class Endpoint(Protocol):
    """One route of one provider format (e.g. OpenAI ``/v1/chat/completions``)."""

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
    ) -> Plan:
        """An error response in this format's shape (defaults chosen per status)."""
        ...

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        """Whether the request carries ``api_key`` the way this provider expects."""
        ...

    def unauthorized(self, request: RecordedRequest) -> Plan:
        """The response for a missing or wrong key."""
        ...

    def not_found(self, request: RecordedRequest) -> Plan:
        """The response for a path no route serves (this endpoint is the fallback format)."""
        ...

    def method_not_allowed(self, request: RecordedRequest) -> Plan:
        """The response for a method this route does not serve."""
        ...

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        """Validate the request and build the answer; calls ``next_reply`` only when the request
        is valid and needs a scripted reply. ``seq`` numbers responses, ``now`` is unix time."""
        ...
