"""Reporting calls to what observes them: LiteLLM-style callbacks and OpenTelemetry.

A call is observed only when something listens — a callback is registered (globally or on
the client) or an OpenTelemetry tracer or meter provider is configured. Otherwise
:func:`start` returns None after a few dictionary lookups and nothing else here runs: no
ids, no timestamps, no chunk list. The I/O layers hold the :class:`Report` and tell it what
happens; each listener is a :class:`Sink` made for that one call.

Imports only ritellm's pure modules at import time; the sinks (and OpenTelemetry) are
imported when a call is first observed.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import CallCancelled

if TYPE_CHECKING:
    from .._errors import APIError
    from .._metadata import ResponseMetadata
    from .._prepared import Call
    from .._types import HttpRequest, ModelResponse, ModelResponseStream
    from ._callbacks import CustomLogger
    from ._otel import Telemetry

__all__ = ["Report", "Sink", "aflush_callbacks", "start"]

logger = logging.getLogger("ritellm")


async def aflush_callbacks() -> None:
    """Wait until every callback reported so far has run: this event loop's async
    callbacks, then the sync ones (which run on ritellm's callback thread). Call it before
    a program or test ends if the last calls' callbacks matter."""
    from ._dispatch import aflush

    await aflush()


class Sink(Protocol):
    """One listener for one call. Every method must return quickly and never raise (a
    sink defers slow work and logs its own failures)."""

    wants_chunks: bool
    """Call :meth:`chunk` for every streamed chunk (costs a call per chunk)."""

    def attempt(self, report: Report, call: Call, attempt: int, request: HttpRequest) -> None:
        """A request is about to be sent: ``attempt`` 0 is the first for ``call`` (the
        model being tried: a fallback's Call after the first model failed)."""

    def retry(self, report: Report, call: Call, error: APIError, delay: float | None) -> None:
        """An attempt failed with ``error``; another attempt follows after ``delay``
        seconds, or (None) the next fallback model is tried."""

    def chunk(self, report: Report, chunk: ModelResponseStream) -> None:
        """A streamed chunk was decoded (only when :attr:`wants_chunks`)."""

    def succeeded(self, report: Report) -> None:
        """The whole answer is in: :attr:`Report.response` (for a stream, assembled from
        :attr:`Report.chunks` when first read: a sink that can do without it saves the
        work)."""

    def failed(self, report: Report, error: Exception) -> None:
        """The call failed (an APIError), or was stopped (a :class:`CallCancelled`, and
        :attr:`Report.cancelled` is set: a cancellation, a stream closed before its end)."""


class Report:
    """One observed call, from its start to its one outcome (success or failure)."""

    __slots__ = (
        "_assembling",
        "_response",
        "call",
        "call_id",
        "cancelled",
        "chunks",
        "current",
        "end_time",
        "sinks",
        "start_time",
        "wants_chunks",
    )

    def __init__(self, call: Call, sinks: Sequence[Sink]) -> None:
        import uuid  # only for observed calls

        self.call = call
        self.current = call  # the model being tried (the attempt loop sets each fallback)
        self.sinks = sinks
        self.call_id = str(uuid.uuid4())
        self.start_time = time.time()
        self.end_time: float | None = None
        self.cancelled = False
        self.chunks: Sequence[ModelResponseStream] | None = None  # a stream's, once it ended
        self._response: ModelResponse | None = None
        self._assembling: threading.Lock | None = None
        self.wants_chunks = any(sink.wants_chunks for sink in sinks)

    @property
    def meta(self) -> ResponseMetadata:
        """What the call reported so far (the model being tried)."""
        return self.current.meta

    @property
    def done(self) -> bool:
        return self.end_time is not None

    # -- told by the I/O layers -------------------------------------------------------

    # Each sink is called through _tell: a sink's bug is logged, never the call's failure.

    def attempt(self, call: Call, attempt: int, request: HttpRequest) -> None:
        for sink in self.sinks:
            _tell(sink.attempt, self, call, attempt, request)

    def retry(self, call: Call, error: APIError, delay: float | None) -> None:
        for sink in self.sinks:
            _tell(sink.retry, self, call, error, delay)

    def decoded(self, chunks: Sequence[ModelResponseStream]) -> None:
        for chunk in chunks:
            for sink in self.sinks:
                if sink.wants_chunks:
                    _tell(sink.chunk, self, chunk)

    @property
    def response(self) -> ModelResponse:
        """The answer, once the call succeeded: a stream's is assembled from its chunks when
        first read (from any thread: sinks may read it on theirs)."""
        response = self._response
        if response is None:
            assert self._assembling is not None, "the call has not succeeded"
            with self._assembling:
                response = self._response
                if response is None:
                    response = self._response = self._assemble()
        return response

    def _assemble(self) -> ModelResponse:
        from .._assemble import stream_chunk_builder
        from .._types import ModelResponse

        chunks = self.chunks or ()
        response = stream_chunk_builder(chunks) if chunks else None
        if response is None:
            response = ModelResponse(choices=[], model=self.current.payload.model)
        response._attach(self.meta)
        return response

    def succeeded(self, response: ModelResponse) -> None:
        if self.end_time is not None:
            return  # reported once
        self._response = response
        self._ended()

    def stream_ended(self, chunks: Sequence[ModelResponseStream]) -> None:
        """A stream ended whole: success, with the response its chunks assemble to."""
        if self.end_time is not None:
            return
        self.chunks = chunks
        self._assembling = threading.Lock()
        self._ended()

    def _ended(self) -> None:
        self.end_time = time.time()
        for sink in self.sinks:
            _tell(sink.succeeded, self)

    def failed(self, error: BaseException) -> None:
        if self.end_time is not None:
            return
        self.end_time = time.time()
        if not isinstance(error, Exception):
            # A cancellation or KeyboardInterrupt: the call did not fail, it was stopped.
            stopped = CallCancelled(f"The call was cancelled ({type(error).__name__})")
            stopped.__cause__ = error
            error = stopped
        self.cancelled = isinstance(error, CallCancelled)
        for sink in self.sinks:
            _tell(sink.failed, self, error)


def _tell(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        logger.warning("ritellm: %r failed; ignoring", method, exc_info=True)


# -- who listens ------------------------------------------------------------------------

_otel_sink_fn: Callable[[Call, Telemetry | None], Sink | None] | None = None


def _otel_sink() -> Callable[[Call, Telemetry | None], Sink | None]:
    # Kept once imported: an import statement costs ~1 µs per call even when cached.
    global _otel_sink_fn
    if _otel_sink_fn is None:
        from ._otel import otel_sink

        _otel_sink_fn = otel_sink
    return _otel_sink_fn


_namespace: dict[str, Any] | None = None


def _globals() -> dict[str, Any]:
    """The ``ritellm`` package's namespace: users assign ``ritellm.success_callback = [f]``
    (LiteLLM's idiom), which rebinds the package attribute, so it is read there at each call
    rather than imported once."""
    global _namespace
    if _namespace is None:
        _namespace = vars(sys.modules["ritellm"])
    return _namespace


def start(
    call: Call, client_callbacks: Sequence[CustomLogger], telemetry: Telemetry | None
) -> Report | None:
    """The call's Report, or None when nothing listens (the common, free case)."""
    ns = _globals()
    success, failure, loggers = ns["success_callback"], ns["failure_callback"], ns["callbacks"]
    sinks: list[Sink] = []
    if success or failure or loggers or client_callbacks:
        from ._callbacks import callback_sink

        callbacks = callback_sink(success, failure, [*loggers, *client_callbacks])
        if callbacks is not None:
            sinks.append(callbacks)
    if telemetry is not None or "opentelemetry.trace" in sys.modules:
        # The application configured OpenTelemetry (it must import it to do so), or the
        # client was given providers; otherwise opentelemetry is never imported here.
        telemetry_sink = _otel_sink()(call, telemetry)
        if telemetry_sink is not None:
            sinks.append(telemetry_sink)
    return Report(call, sinks) if sinks else None
