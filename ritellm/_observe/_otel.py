"""OpenTelemetry for ritellm calls: one GenAI client span per call, from its start to its one
outcome (a stream's span ends with the stream), and the GenAI client metrics.

Imported only once the application has imported opentelemetry, or a client was given
providers (see ritellm._observe.start); imports opentelemetry-api, never the SDK. Without it
installed the module still imports, and :class:`Telemetry` says what to install.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from .._errors import APIError, ParameterError, ParameterTypeError
from .._version import __version__
from . import _otel_attrs as ga

_MISSING: ImportError | None = None
_UNSET_IS_NONE = False  # see below
try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
    from opentelemetry.metrics import _internal as _metrics_state
    from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode

    # What the global meter provider is before the application sets one. Private, but the
    # API has no public proxy class for metrics (it has one for traces).
    _ProxyMeterProvider = _metrics_state._ProxyMeterProvider
except ImportError as exc:  # the otel extra is not installed
    _MISSING = exc
else:
    # The API keeps the global providers in module globals, None until set. Reading them
    # (never writing) is the fast way to see "unconfigured": the public getters cost ~1 us
    # each (an os.environ lookup) on every call of a process that merely imported
    # opentelemetry. Not when the providers are named by environment variables (the
    # getters load those), nor if a later API renames the globals (then: the getters).
    _UNSET_IS_NONE = (
        hasattr(_trace, "_TRACER_PROVIDER")
        and hasattr(_metrics_state, "_METER_PROVIDER")
        and "OTEL_PYTHON_TRACER_PROVIDER" not in os.environ
        and "OTEL_PYTHON_METER_PROVIDER" not in os.environ
    )

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from .._metadata import ResponseMetadata
    from .._prepared import Call
    from .._types import HttpRequest, ModelResponseStream
    from . import Report, Sink

__all__ = ["Telemetry", "otel_sink"]

logger = logging.getLogger("ritellm")

# The histograms' bucket advice from the conventions (gen-ai-metrics.md).
_SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKENS = [4.0**i for i in range(14)]  # 1, 4, 16, ... 67108864
# The content-capture switch of the Python GenAI instrumentations: "true", or the
# opentelemetry-util-genai modes that put content on spans.
_CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_ON = frozenset({"true", "span_only", "span_and_event"})


class Telemetry:
    """The tracer and metric instruments calls are reported to (made once per provider
    pair: instruments are registered with their meter, not per call).

    Args:
        tracer_provider: spans go here; None: the global tracer provider (followed if the
            application sets it later).
        meter_provider: metrics go here; None: the global meter provider (likewise).

    Raises:
        ParameterError: opentelemetry-api is not installed.
        ParameterTypeError: a provider is not an OpenTelemetry provider.
    """

    __slots__ = ("duration", "first_chunk", "tokens", "tracer")

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if _MISSING is not None:
            raise ParameterError(
                "tracer_provider= and meter_provider= need OpenTelemetry: "
                "pip install 'ritellm[otel]'"
            ) from _MISSING
        if tracer_provider is None:
            tracer_provider = _trace.get_tracer_provider()
        elif not isinstance(tracer_provider, _trace.TracerProvider):
            raise ParameterTypeError(
                "tracer_provider must be an opentelemetry TracerProvider, "
                f"not {type(tracer_provider).__name__}"
            )
        if meter_provider is None:
            meter_provider = _metrics.get_meter_provider()
        elif not isinstance(meter_provider, _metrics.MeterProvider):
            raise ParameterTypeError(
                "meter_provider must be an opentelemetry MeterProvider, "
                f"not {type(meter_provider).__name__}"
            )
        self.tracer = tracer_provider.get_tracer("ritellm", __version__, schema_url=ga.SCHEMA_URL)
        meter = meter_provider.get_meter("ritellm", __version__, schema_url=ga.SCHEMA_URL)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKENS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )


# The global providers last seen and their Telemetry (None: neither is configured). One
# tuple, replaced whole, so a reader in another thread never sees half an update.
_last: tuple[object, object, Telemetry | None] = (None, None, None)


def otel_sink(call: Call, telemetry: Telemetry | None) -> Sink | None:
    """The span (and metrics) of one call, started now; None when nothing would record it.

    ``telemetry`` is the client's (its own providers); None uses the global providers, if
    the application configured either: this runs for every call in a process that merely
    imported opentelemetry, so the unconfigured case costs two attribute reads.
    """
    global _last
    try:
        if telemetry is None:
            if (
                _UNSET_IS_NONE
                and _trace._TRACER_PROVIDER is None
                and _metrics_state._METER_PROVIDER is None
            ):
                return None
            tracer_provider = _trace.get_tracer_provider()
            meter_provider = _metrics.get_meter_provider()
            last = _last
            if tracer_provider is last[0] and meter_provider is last[1]:
                telemetry = last[2]
            else:
                if isinstance(tracer_provider, ProxyTracerProvider) and isinstance(
                    meter_provider, _ProxyMeterProvider
                ):
                    telemetry = None
                else:
                    telemetry = Telemetry(tracer_provider, meter_provider)
                _last = (tracer_provider, meter_provider, telemetry)
            if telemetry is None:
                return None
        return _CallSpan(telemetry, call)
    except Exception:
        # Telemetry must never break the call it observes.
        logger.warning("OpenTelemetry: could not start the call's span", exc_info=True)
        return None


def _capture_content() -> bool:
    """Read at each recorded call (a dictionary lookup), so it can be switched at run time."""
    return os.environ.get(_CAPTURE_ENV, "").strip().lower() in _CAPTURE_ON


def _call_attributes(call: Call) -> dict[str, Any]:
    """Operation, provider, requested model and server: a span's at its start (what
    samplers see), every metric's."""
    attributes: dict[str, Any] = {
        ga.OPERATION: "chat",
        ga.PROVIDER: ga.provider_name(call.provider.spec.name),
        ga.REQUEST_MODEL: call.payload.model,
    }
    attributes.update(ga.server_attributes(call.creds.base_url))
    return attributes


def _meta(call: Call) -> ResponseMetadata | None:
    # A Call gets its metadata when the attempt loop first runs it: a call stopped before
    # (e.g. cancelled while resolving credentials) has none.
    return getattr(call, "meta", None)


class _CallSpan:
    """The Sink of one call: holds its span until the call's outcome (for a stream: its
    end, close or cancellation), then records the metrics."""

    wants_chunks = False  # the first chunk's time and the assembled response suffice

    __slots__ = (
        "_attempt",
        "_attempts",
        "_capture",
        "_current",
        "_recording",
        "_span",
        "_start",
        "_telemetry",
    )
    _span: Span

    def __init__(self, telemetry: Telemetry, call: Call) -> None:
        self._telemetry = telemetry
        self._current = call
        self._attempt = 0  # the current model's attempt number (1-based)
        self._attempts = 0  # requests sent, every model included
        self._start = time.perf_counter()
        model = call.payload.model
        # The attributes samplers may look at are given at creation (the conventions ask
        # for operation, provider, model and server there).
        attributes = _call_attributes(call)
        # No context argument: the parent is the caller's current span. The span is never
        # made current (a stream may end in another task), so no context is attached.
        span = telemetry.tracer.start_span(
            f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        self._span = span
        self._recording = span.is_recording()  # False: sampled out, or a no-op tracer
        self._capture = False
        if self._recording:
            try:
                extra = ga.request_attributes(call.payload.params, call.stream)
                if _capture_content():
                    self._capture = True
                    extra[ga.INPUT_MESSAGES] = ga.to_json(ga.input_messages(call.payload.messages))
                span.set_attributes(extra)
            except Exception:
                span.end()
                raise

    # -- Sink ----------------------------------------------------------------------------

    def attempt(self, report: Report, call: Call, attempt: int, request: HttpRequest) -> None:
        try:
            self._attempts += 1
            self._attempt = attempt + 1
            if call is not self._current:
                self._current = call
                if self._recording:
                    self._span.add_event(
                        "ritellm.fallback",
                        {
                            "ritellm.model": call.model,
                            ga.PROVIDER: ga.provider_name(call.provider.spec.name),
                            ga.REQUEST_MODEL: call.payload.model,
                        },
                    )
        except Exception:
            logger.warning("OpenTelemetry: could not record an attempt", exc_info=True)

    def retry(self, report: Report, call: Call, error: APIError, delay: float | None) -> None:
        if not self._recording:
            return
        try:
            attributes: dict[str, Any] = {
                "ritellm.attempt": self._attempt,
                "ritellm.model": call.model,
                ga.ERROR_TYPE: ga.error_type(error),
            }
            if error.status_code is not None:
                attributes[ga.HTTP_STATUS] = error.status_code
            if delay is not None:
                attributes["ritellm.retry.delay"] = delay
            self._span.add_event("ritellm.retry", attributes)
        except Exception:
            logger.warning("OpenTelemetry: could not record a retry", exc_info=True)

    def chunk(self, report: Report, chunk: ModelResponseStream) -> None:
        pass  # never called: wants_chunks is False

    def succeeded(self, report: Report) -> None:
        try:
            seconds = time.perf_counter() - self._start
            call = report.current
            meta = _meta(call)
            chunks = report.chunks
            if chunks is not None and not self._capture:
                # A stream: what the span needs is in its chunks and metadata, without
                # assembling the answer (~3 µs per chunk) on the event loop.
                summary = ga.stream_summary(chunks, meta.usage if meta is not None else None)
            else:
                summary = report.response
            usage = summary.get("usage") or (meta.usage if meta is not None else None)
            tokens = ga.usage_attributes(usage)
            served = (meta.served_model if meta is not None else None) or summary.get("model")
            if not isinstance(served, str) or not served:
                served = None
            if self._recording:
                attributes = self._outcome(report, meta)
                response_id = summary.get("id")
                if isinstance(response_id, str) and response_id:
                    attributes[ga.RESPONSE_ID] = response_id
                if served is not None:
                    attributes[ga.RESPONSE_MODEL] = served
                choices = summary.get("choices")
                reasons = [
                    reason
                    for choice in (choices if isinstance(choices, list) else ())
                    if isinstance(reason := choice.get("finish_reason"), str)
                ]
                if reasons:
                    attributes[ga.FINISH_REASONS] = reasons
                attributes.update(tokens)
                if self._capture:
                    attributes[ga.OUTPUT_MESSAGES] = ga.to_json(ga.output_messages(summary))
                self._span.set_attributes(attributes)
            self._span.end()
            self._record(call, meta, served, seconds, None, tokens)
        except Exception:
            logger.warning("OpenTelemetry: could not record a response", exc_info=True)

    def failed(self, report: Report, error: Exception) -> None:
        try:
            seconds = time.perf_counter() - self._start
            call = report.current
            meta = _meta(call)
            served = meta.served_model if meta is not None else None
            span = self._span
            if report.cancelled:
                # Stopped by the caller (a cancellation, a stream closed before its end):
                # not an error. As the HTTP conventions ask of an intentional cancellation,
                # the status stays unset and there is no error.type; ritellm.cancelled says
                # the call did not complete.
                if self._recording:
                    attributes = self._outcome(report, meta)
                    attributes["ritellm.cancelled"] = True
                    span.set_attributes(attributes)
                span.end()
                self._record(call, meta, served, None, None, {})
                return
            error_type = ga.error_type(error)
            if self._recording:
                attributes = self._outcome(report, meta)
                attributes[ga.ERROR_TYPE] = error_type
                status = getattr(error, "status_code", None)
                if isinstance(status, int):
                    attributes[ga.HTTP_STATUS] = status
                span.set_attributes(attributes)
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(error)))
            span.end()
            self._record(call, meta, served, seconds, error_type, {})
        except Exception:
            logger.warning("OpenTelemetry: could not record a failure", exc_info=True)

    # -- helpers -------------------------------------------------------------------------

    def _outcome(self, report: Report, meta: ResponseMetadata | None) -> dict[str, Any]:
        """Attributes of any outcome: attempts, ids, the fallback that answered, TTFC."""
        attributes: dict[str, Any] = {
            "ritellm.attempts": self._attempts,
            "ritellm.call_id": report.call_id,
        }
        call = report.current
        if call is not report.call:
            attributes["ritellm.fallback.model"] = call.model
        if meta is not None:
            request_id = meta.request_id
            if request_id:
                attributes["ritellm.request_id"] = request_id
                if call.provider.spec.name == "bedrock":
                    attributes["aws.request_id"] = request_id
            first = meta.latency.first_chunk
            if first is not None:
                attributes[ga.TIME_TO_FIRST_CHUNK] = first
        return attributes

    def _record(
        self,
        call: Call,
        meta: ResponseMetadata | None,
        served: str | None,
        seconds: float | None,
        error_type: str | None,
        tokens: dict[str, int],
    ) -> None:
        """The call's metrics, with the attributes of the model that answered (or was last
        tried): its tokens and latency are that model's."""
        attributes = _call_attributes(call)
        if served:
            attributes[ga.RESPONSE_MODEL] = served
        telemetry = self._telemetry
        first = meta.latency.first_chunk if meta is not None and call.stream else None
        if first is not None:
            # Whatever happened after it, the first chunk did arrive (no error.type: the
            # conventions define none for this metric).
            telemetry.first_chunk.record(first, attributes)
        if seconds is None:
            # A cancelled call is in no duration distribution: it neither succeeded nor
            # failed, and its cut-short time would skew the successful calls' latency.
            return
        if error_type is not None:
            attributes[ga.ERROR_TYPE] = error_type
        telemetry.duration.record(seconds, attributes)
        # Token counts of successful calls only (failed ones have none to report).
        for key, kind in ((ga.INPUT_TOKENS, "input"), (ga.OUTPUT_TOKENS, "output")):
            count = tokens.get(key)
            if count is not None:
                telemetry.tokens.record(count, {**attributes, ga.TOKEN_TYPE: kind})
