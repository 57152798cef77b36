"""LiteLLM's callback interfaces: ``ritellm.success_callback`` / ``failure_callback``
(functions), ``ritellm.callbacks`` and ``AsyncClient(callbacks=)`` (CustomLogger objects).

Sync callbacks run in order on one worker thread and async ones as detached tasks on the
caller's loop (see _dispatch): the call never waits for them. Each event's ``kwargs`` (the
shape of LiteLLM's ``model_call_details``) is built there too — on the callback thread, or
in the detached task — from what the call was when the event happened. It carries the
cost, whose first lookup imports the price list: that import happens on the callback
thread, and async callbacks wait for it (off the loop) rather than doing it on the loop.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from .._errors import ParameterError, ParameterTypeError
from . import _dispatch

if TYPE_CHECKING:
    from .._errors import APIError
    from .._metadata import ResponseMetadata
    from .._prepared import Call
    from .._types import HttpRequest, ModelResponseStream
    from . import Report

__all__ = ["CustomLogger", "callback_sink", "check_loggers"]


class CustomLogger:
    """Subclass and override what you need (LiteLLM's ``CustomLogger`` interface); register
    an instance in ``ritellm.callbacks`` or ``AsyncClient(callbacks=[...])``.

    ``kwargs`` is a dict describing the call (``model``, ``messages``, ``stream``,
    ``litellm_call_id``, ``metadata``, ``response_cost``, ``response_metadata``, ``exception``
    on failure, ``complete_streaming_response`` when a stream ends, ...); ``start_time`` and
    ``end_time`` are ``datetime`` objects. Only overridden methods are called, so an unused
    hook costs nothing; in particular the per-chunk ``log_stream_event`` runs only if
    overridden. Sync methods run on ritellm's callback thread, async ones as tasks on the
    caller's event loop; neither delays the call. Exceptions are logged and ignored.
    """

    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        """Before each attempt is sent, retries included.

        Args:
            model: the model id, without the provider prefix.
            messages: the call's messages, as passed.
            kwargs: the call's details; ``kwargs["additional_args"]`` is the request as
                sent, credentials masked.
        """

    def log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """Every streamed chunk (called only if overridden).

        Args:
            kwargs: the call's details.
            response_obj: the chunk.
            start_time: when the call started.
            end_time: when the chunk arrived.
        """

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """The call succeeded; a stream once it ended.

        Args:
            kwargs: the call's details (``response_cost``, ``response_metadata``, and a
                stream's ``complete_streaming_response``).
            response_obj: the response; for a stream, the assembled response.
            start_time: when the call started.
            end_time: when its answer ended.
        """

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """The call failed, or was cancelled.

        Args:
            kwargs: the call's details: ``kwargs["exception"]`` is the error raised to the
                caller, or a :class:`ritellm.CallCancelled` with ``kwargs["cancelled"]``.
            response_obj: None (LiteLLM's signature).
            start_time: when the call started.
            end_time: when it failed.
        """

    async def async_log_pre_api_call(
        self, model: str, messages: Any, kwargs: dict[str, Any]
    ) -> None:
        """The async twin of :meth:`log_pre_api_call`, with the same arguments
        (model, messages, kwargs)."""

    async def async_log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """The async twin of :meth:`log_stream_event`, with the same arguments
        (kwargs, response_obj, start_time, end_time)."""

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """The async twin of :meth:`log_success_event`, with the same arguments
        (kwargs, response_obj, start_time, end_time)."""

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime, end_time: datetime
    ) -> None:
        """The async twin of :meth:`log_failure_event`, with the same arguments
        (kwargs, response_obj, start_time, end_time)."""


_EVENTS = ("pre_api_call", "stream_event", "success_event", "failure_event")
_Hooks = dict[str, tuple[list[Callable[..., Any]], list[Callable[..., Any]]]]


_CLASS_HOOKS: dict[type, tuple[tuple[str, bool, str], ...]] = {}


def _class_hooks(cls: type) -> tuple[tuple[str, bool, str], ...]:
    """(event, is async, method name) for each hook a logger class overrides (any method
    of the interface, for a duck-typed class that does not subclass CustomLogger): worked
    out once per class, not per call."""
    known = _CLASS_HOOKS.get(cls)
    if known is not None:
        return known
    found = []
    for event in _EVENTS:
        for is_async, prefix in ((False, ""), (True, "async_")):
            name = f"{prefix}log_{event}"
            method = getattr(cls, name, None)
            if callable(method) and method is not getattr(CustomLogger, name):
                found.append((event, is_async, name))
    known = _CLASS_HOOKS[cls] = tuple(found)
    return known


def _is_async(fn: object) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or (
        not inspect.isroutine(fn) and inspect.iscoroutinefunction(type(fn).__call__)
    )


def check_loggers(loggers: object, where: str) -> list[Any]:
    """CustomLogger objects, checked before any I/O."""
    what = "CustomLogger objects (with log_success_event, ...)"
    return _checked(loggers, where, what, lambda logger: bool(_class_hooks(type(logger))))


def _checked(items: object, where: str, what: str, ok: Callable[[Any], bool]) -> list[Any]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ParameterTypeError(f"{where} must be a list of {what}")
    for item in items:
        if isinstance(item, str):  # LiteLLM's named integrations ("langfuse", ...)
            raise ParameterError(
                f"{where} contains {item!r}: ritellm has no built-in logging integrations; "
                "register a function or a ritellm.CustomLogger, or export OpenTelemetry spans"
            )
        if not ok(item):
            raise ParameterTypeError(f"{where} must hold {what}, not {type(item).__name__}")
    return list(items)


def callback_sink(
    success: object, failure: object, loggers: Sequence[object]
) -> CallbackSink | None:
    """This call's callbacks, sorted by event into (sync, async) lists; None if none
    applies."""
    hooks: _Hooks = {event: ([], []) for event in _EVENTS}
    for event, functions in (
        (
            "success_event",
            _checked(success or [], "ritellm.success_callback", "functions", callable),
        ),
        (
            "failure_event",
            _checked(failure or [], "ritellm.failure_callback", "functions", callable),
        ),
    ):
        for fn in functions:
            hooks[event][_is_async(fn)].append(fn)
    for logger in check_loggers(loggers, "ritellm.callbacks"):
        for event, is_async, name in _class_hooks(type(logger)):
            hooks[event][is_async].append(getattr(logger, name))
    if not any(sync or asynchronous for sync, asynchronous in hooks.values()):
        return None
    global _prices_loading
    if not _prices_loading and (hooks["success_event"][1] or hooks["stream_event"][1]):
        # Async callbacks build their kwargs (the cost among them) on the event loop: the
        # price list's first import (~185 ms) happens on the callback thread instead.
        _prices_loading = True
        _dispatch.run_in_thread(_load_prices)
    return CallbackSink(hooks)


_prices_loading = False
_prices_loaded = threading.Event()


def _load_prices() -> None:
    try:
        from .._prices import load

        load()
    finally:
        _prices_loaded.set()


class CallbackSink:
    """A call's callbacks (see ritellm._observe.Sink).

    Attributes:
        wants_chunks: a stream event hook is registered.
        spawns_tasks: an async hook is registered: async callbacks run as tasks on the
            call's event loop after the call returned, so that loop must keep running.
    """

    __slots__ = ("_hooks", "spawns_tasks", "wants_chunks")

    def __init__(self, hooks: _Hooks) -> None:
        self._hooks = hooks
        sync, asynchronous = hooks["stream_event"]
        self.wants_chunks = bool(sync or asynchronous)
        self.spawns_tasks = any(asynchronous for _, asynchronous in hooks.values())

    def _emit(self, event: str, build: Callable[[], tuple[Any, ...]]) -> None:
        """Run the event's callbacks on the arguments ``build`` makes: on the callback
        thread for the sync ones, in a detached task for the async ones."""
        sync, asynchronous = self._hooks[event]
        if sync:

            def job() -> None:
                args = build()
                for fn in sync:
                    _dispatch.call_logged(fn, *args)

            _dispatch.run_in_thread(job)
        if asynchronous:

            async def task() -> None:
                if event == "success_event" and not _prices_loaded.is_set():
                    # The first cost read imports the price list (~185 ms): not on the loop.
                    await anyio.to_thread.run_sync(_prices_loaded.wait, abandon_on_cancel=True)
                args = build()
                for fn in asynchronous:
                    _dispatch.spawn(fn, *args)

            _dispatch.spawn(task)

    def attempt(self, report: Report, call: Call, attempt: int, request: HttpRequest) -> None:
        if not any(self._hooks["pre_api_call"]):
            return
        meta = call.meta

        def build() -> tuple[Any, ...]:
            record = call.request_record(attempt, request)
            # LiteLLM's name for the body as sent.
            record["complete_input_dict"] = record["body"]
            details = _details(report, call, meta)
            details["additional_args"] = record
            details["attempt"] = attempt
            return call.payload.model, call.payload.messages, details

        self._emit("pre_api_call", build)

    def retry(self, report: Report, call: Call, error: APIError, delay: float | None) -> None:
        pass

    def chunk(self, report: Report, chunk: ModelResponseStream) -> None:
        now = datetime.now()
        call = report.current
        meta = call.meta
        self._emit(
            "stream_event", lambda: (_details(report, call, meta), chunk, _start(report), now)
        )

    def succeeded(self, report: Report) -> None:
        call = report.current  # as it is now: a fan-out may run the call again
        meta = call.meta

        def build() -> tuple[Any, ...]:
            response = report.response  # a stream's is assembled here, off the call's path
            details = _details(report, call, meta)
            details["response_cost"] = meta.cost
            if call.stream:
                details["complete_streaming_response"] = response
            return details, response, _start(report), _end(report)

        self._emit("success_event", build)

    def failed(self, report: Report, error: Exception) -> None:
        call = report.current
        meta = call.meta
        cancelled = report.cancelled

        def build() -> tuple[Any, ...]:
            import traceback

            details = _details(report, call, meta)
            details["exception"] = error
            details["traceback_exception"] = "".join(traceback.format_exception(error))
            details["cancelled"] = cancelled
            return details, None, _start(report), _end(report)

        self._emit("failure_event", build)


def _start(report: Report) -> datetime:
    return datetime.fromtimestamp(report.start_time)


def _end(report: Report) -> datetime:
    return datetime.fromtimestamp(report.end_time or report.start_time)


def _details(report: Report, call: Call, meta: ResponseMetadata) -> dict[str, Any]:
    """LiteLLM's ``model_call_details`` keys that logging code reads. Never a credential:
    the body parameters carry none and the base URL is redacted."""
    metadata = call.user_metadata
    return {
        "model": call.payload.model,
        "messages": call.payload.messages,
        "optional_params": dict(call.payload.params),
        "stream": call.stream,
        "call_type": "acompletion",
        "litellm_call_id": report.call_id,
        "metadata": metadata,
        "litellm_params": {
            "metadata": metadata,
            "api_base": meta.api_base,
            "custom_llm_provider": meta.provider,
            "litellm_call_id": report.call_id,
        },
        "custom_llm_provider": meta.provider,
        "api_base": meta.api_base,
        "start_time": _start(report),
        "response_cost": None,
        "response_metadata": meta,
        "cancelled": False,
    }
