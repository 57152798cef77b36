"""The blocking facade: completion() and flush_callbacks(), run on a private event loop.

A thread that runs no event loop runs its calls on an asyncio loop of its own (ritellm._loops:
no thread hop; its connections kept between calls and closed when the thread ends). A thread
that already runs a loop (asyncio, trio, Jupyter), and a call whose async callbacks must
outlive it, hand the call to one long-lived portal thread instead (ritellm._portal). Never
imports asyncio or trio: those modules drive the loops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from ._call import Messages
from ._client import default_client
from ._loops import THREAD_LOOPS, ThreadLoop
from ._portal import PORTAL, PortalThread, run_sync
from ._sync_stream import CompletionStream
from ._threads import loop_running_here
from ._types import ModelResponse

if TYPE_CHECKING:
    from ._call import CompletionParams
    from ._observe import Report

__all__ = ["CompletionStream", "completion", "flush_callbacks", "run_sync"]


def _spawns_tasks(report: Report) -> bool:
    """Whether the call has async callbacks: they run as tasks on the call's loop after it
    returned, and a thread's own loop runs only during that thread's calls."""
    return any(getattr(sink, "spawns_tasks", False) for sink in report.sinks)


@overload
def completion(
    model: str,
    messages: Messages,
    *,
    stream: Literal[False] = ...,
    **kwargs: Unpack[CompletionParams],
) -> ModelResponse: ...


@overload
def completion(
    model: str, messages: Messages, *, stream: Literal[True], **kwargs: Unpack[CompletionParams]
) -> CompletionStream: ...


@overload
def completion(
    model: str, messages: Messages, *, stream: bool, **kwargs: Unpack[CompletionParams]
) -> ModelResponse | CompletionStream: ...


def completion(
    model: str, messages: Messages, *, stream: bool = False, **kwargs: Any
) -> ModelResponse | CompletionStream:
    """The blocking twin of :func:`ritellm.acompletion`: same parameters, same errors.

    Args:
        model: ``"provider/model"`` or a bare name, as for :func:`ritellm.acompletion`.
        messages: OpenAI-style messages.
        stream: return a :class:`CompletionStream` once the first chunk has arrived: read
            it with ``for``, or with ``async for`` in a coroutine (the next chunks are
            awaited without blocking the event loop).
        **kwargs: every option and request parameter of :func:`ritellm.acompletion`.

    Returns:
        A :class:`ModelResponse`, or with ``stream=True`` a :class:`CompletionStream`.

    Raises:
        The errors of :func:`ritellm.acompletion`; bad arguments raise before any I/O.
        KeyboardInterrupt: Ctrl-C cancelled the call (its connection is closed).
    """
    client = default_client()
    # Validate in the caller's thread: bad arguments raise here, before any I/O.
    call = client._prepare(model, messages, stream, kwargs)
    report = client._observe(call)
    home: ThreadLoop | PortalThread
    if loop_running_here() or (report is not None and _spawns_tasks(report)):
        home = PORTAL
    else:
        home = THREAD_LOOPS.get()
    try:
        result = home.call(client._run, call, report=report)
    except BaseException as exc:
        if report is not None and not report.done and not isinstance(exc, Exception):
            report.failed(exc)  # cancelled before it began (a call reports its own end)
        raise
    if isinstance(result, ModelResponse):
        return result
    return CompletionStream(result, home)


def flush_callbacks(timeout: float | None = None) -> bool:
    """Block until every callback reported so far has run — the sync ones (on ritellm's
    callback thread) and the async ones of blocking calls — or ``timeout`` seconds passed
    (then False). For async programs: ``await ritellm.aflush_callbacks()``. At interpreter
    exit ritellm waits up to 5 s for queued sync callbacks by itself."""
    if not PORTAL.running():
        from ._observe._dispatch import flush

        return flush(timeout)
    return run_sync(_flush_within, timeout)


async def _flush_within(timeout: float | None) -> bool:
    import anyio

    from ._observe import aflush_callbacks

    with anyio.move_on_after(timeout) as scope:
        await aflush_callbacks()
    return not scope.cancelled_caught
