"""The fan-out's public functions: results in order, results as they finish, and
first-success races. Imports anyio and the client layer, never httpcore, trio or asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from types import TracebackType
from typing import Any, NoReturn

import anyio
import anyio.abc

from .._client import AsyncClient, default_client
from .._errors import ParameterError, RiteLLMError
from .._prepared import Call
from .._types import ModelResponse
from ._engine import Engine, FanoutStats, check_limits, prepare_all, unwrap

__all__ = [
    "CompletionResults",
    "completions_as_completed",
    "gather_completions",
    "race_completions",
]


async def gather_completions(
    requests: Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 16,
    return_exceptions: bool = False,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
) -> list[Any]:
    """Run many completions concurrently; results come back in input order.

    Args:
        requests: ``acompletion`` keyword dicts (``model``, ``messages``, any parameters).
            All are validated before the first request is sent.
        max_concurrency: requests in flight at once (the limit adapts downwards while the
            provider answers 429, and recovers).
        return_exceptions: False: the first failure cancels the rest and is raised itself
            (``except ritellm.RateLimitError`` works). True: its slot holds the error.
        rpm, tpm: requests / tokens per minute shared by the whole fan-out (on top of the
            limits the provider states in its rate-limit headers, which are always obeyed).
        progress: True for a progress bar (tqdm if installed, else a stderr line), or a
            callable receiving :class:`FanoutStats` after each change.
        client: the :class:`AsyncClient` to use (default: the module-level one).

    Returns:
        One :class:`ModelResponse` per request (streaming requests are read to the end and
        assembled), or a ritellm error in its slot with ``return_exceptions=True``.

    Raises:
        ParameterError / ParameterTypeError: a bad request or argument, before any I/O.
        RiteLLMError: with ``return_exceptions=False``, the first request's failure.
        Anything that is not a ritellm error (a bug, in a ``progress`` callback say) is
        never a result: it propagates as itself.
    """
    client = client or default_client()
    calls = prepare_all(client, requests)
    return await gather_calls(
        client,
        calls,
        max_concurrency=max_concurrency,
        return_exceptions=return_exceptions,
        rpm=rpm,
        tpm=tpm,
        progress=progress,
    )


async def gather_calls(
    client: AsyncClient,
    calls: list[Call],
    *,
    max_concurrency: int,
    return_exceptions: bool,
    rpm: float | None,
    tpm: float | None,
    progress: bool | Callable[[FanoutStats], Any],
) -> list[Any]:
    """:func:`gather_completions` for calls prepared already (the batch family's too)."""
    results: list[Any] = [None] * len(calls)

    async def deliver(index: int, outcome: Any) -> None:
        results[index] = outcome

    engine = Engine(
        client,
        calls,
        max_concurrency=max_concurrency,
        return_exceptions=return_exceptions,
        rpm=rpm,
        tpm=tpm,
        progress=progress,
        deliver=deliver,
    )
    await engine.run()
    return results


_HOW = (
    "completions_as_completed() must be used as `async with completions_as_completed(...) "
    "as results:` followed by `async for index, item in results:`"
)


class CompletionResults:
    """``async with completions_as_completed(...) as results: async for index, item in
    results``. Items come in completion order; for a streaming request, each chunk as it
    arrives (a :class:`ModelResponseStream`), then its assembled :class:`ModelResponse`.

    Backed by a memory object stream with a small buffer: when the consumer is slow, the
    producers wait (holding their concurrency slots), so nothing is buffered without bound.
    Leaving the block early cancels whatever is still running. Iterating or awaiting it
    without ``async with`` raises TypeError (nothing would ever run).
    """

    def __init__(self, engine_args: dict[str, Any], buffer: int) -> None:
        """Made by :func:`completions_as_completed`, not by callers.

        Args:
            engine_args: the checked fan-out, as keyword arguments of the engine.
            buffer: how many finished items may wait for the consumer.
        """
        self._engine_args = engine_args
        self._buffer = buffer
        self._group: anyio.abc.TaskGroup | None = None
        self._closed = False
        self.stats: FanoutStats | None = None

    async def __aenter__(self) -> CompletionResults:
        if self._group is not None or self._closed:
            raise RuntimeError("a completions_as_completed() result can be entered only once")
        # Created here, not before: a result that is never entered holds nothing to close.
        send, self._receive = anyio.create_memory_object_stream[tuple[int, Any]](self._buffer)

        async def deliver(index: int, item: Any) -> None:
            await send.send((index, item))

        engine = Engine(deliver=deliver, **self._engine_args)
        self.stats = engine.stats
        self._group = group = anyio.create_task_group()
        await group.__aenter__()

        async def produce() -> None:
            async with send:
                await engine.run()

        group.start_soon(produce)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        self._closed = True
        # Whatever ended the block (done, break, error, cancellation), stop the producers.
        self._group.cancel_scope.cancel()
        self._receive.close()
        try:
            return await self._group.__aexit__(exc_type, exc, tb)
        except BaseException as group_exc:
            raise unwrap(group_exc) from None

    def __aiter__(self) -> AsyncIterator[tuple[int, Any]]:
        if self._group is None:
            raise TypeError(_HOW)
        if self._closed:
            raise RuntimeError("iterate inside the `async with` block: it has ended")
        return self._receive.__aiter__()

    def __await__(self) -> Generator[Any, None, NoReturn]:
        raise TypeError(_HOW)


def completions_as_completed(
    requests: Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 16,
    return_exceptions: bool = False,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
) -> CompletionResults:
    """Like :func:`gather_completions`, but yields ``(index, item)`` as results finish.

    Use as ``async with completions_as_completed(requests) as results:`` then
    ``async for index, item in results``. Streaming requests are fanned out too: their
    chunks arrive tagged with the request's index, followed by the assembled response.

    Args:
        requests, max_concurrency, return_exceptions, rpm, tpm, progress, client: as for
            :func:`gather_completions`.

    Returns:
        A :class:`CompletionResults` to enter with ``async with``; nothing is sent before.

    Raises:
        ParameterError / ParameterTypeError: a bad request or argument, here and at once.
        TypeError: iterating or awaiting the result without ``async with``.
    """
    client = client or default_client()
    calls = prepare_all(client, requests)
    check_limits(max_concurrency, rpm, tpm)
    args: dict[str, Any] = {
        "client": client,
        "calls": calls,
        "max_concurrency": max_concurrency,
        "return_exceptions": return_exceptions,
        "rpm": rpm,
        "tpm": tpm,
        "progress": progress,
        "chunks": True,
    }
    return CompletionResults(args, buffer=max_concurrency)


async def race_completions(
    requests: Iterable[Mapping[str, Any]], *, client: AsyncClient | None = None
) -> ModelResponse:
    """Send every request at once; the first success wins and the others are cancelled.

    For racing providers or models against each other ("first success wins", as trio's
    Happy Eyeballs does for connections). Streaming requests are not supported.

    Args:
        requests: ``acompletion`` keyword dicts, validated before anything is sent.
        client: the :class:`AsyncClient` to use (default: the module-level one).

    Returns:
        The first successful :class:`ModelResponse`.

    Raises:
        ParameterError: no request, or a streaming one.
        RiteLLMError: the first request's error when every request fails, chained from an
            ExceptionGroup holding all of them. Anything else (a bug) propagates as itself.
    """
    client = client or default_client()
    calls = prepare_all(client, requests)
    if not calls:
        raise ParameterError("race_completions needs at least one request")
    if any(call.stream for call in calls):
        raise ParameterError("race_completions does not take streaming requests")
    winner: list[ModelResponse] = []
    errors: list[RiteLLMError | None] = [None] * len(calls)

    async def one(index: int, call: Call, group: anyio.abc.TaskGroup) -> None:
        try:
            result = await client._run(call)
        except RiteLLMError as exc:
            errors[index] = exc
            return
        assert isinstance(result, ModelResponse)
        if not winner:
            winner.append(result)
            group.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for index, call in enumerate(calls):
                tg.start_soon(one, index, call, tg)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
    if winner:
        return winner[0]
    failures = [e for e in errors if e is not None]
    raise failures[0] from ExceptionGroup("every raced request failed", failures)
