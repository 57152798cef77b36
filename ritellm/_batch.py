"""LiteLLM's batch_completion on ritellm's fan-out: one model over many conversations, with
its async twin (``a`` prefix) and a blocking one run on the portal thread; and the runner the
batch family shares (ritellm._batch_models has the many-models pair).

Imports anyio's users only (the fan-out, the client, the blocking portal); never httpcore,
trio or asyncio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._blocking import run_sync
from ._client import AsyncClient, default_client
from ._errors import ParameterError, ParameterTypeError, RiteLLMError
from ._fanout import FanoutStats
from ._fanout._api import gather_calls
from ._fanout._engine import check_limits
from ._prepared import Call
from ._types import ModelResponse

__all__ = ["abatch_completion", "batch_completion", "run_all"]

# LiteLLM's batch_completion default (its thread pool's max_workers).
DEFAULT_MAX_WORKERS = 100

_FLAT = (
    "batch_completion: messages must be a list of conversations, one per request (a list of "
    "message lists), e.g. messages=[[{{'role': 'user', 'content': 'Hi'}}], "
    "[{{'role': 'user', 'content': 'Bye'}}]]; {got}. For one conversation call completion()"
)

# A conversation any provider accepts, to check the shared arguments apart from the real ones.
_PROBE = ({"role": "user", "content": "."},)


# -- preparing: every conversation validated before anything is sent ---------------------


def _batch_calls(
    client: AsyncClient, model: object, messages: object, kwargs: dict[str, Any]
) -> list[Call]:
    """batch_completion's requests: one per conversation, the same model and parameters."""
    if not isinstance(model, str):
        raise ParameterTypeError(
            f"batch_completion: model must be a model string, not {type(model).__name__}: "
            "batch_completion(model, messages=[conversation, ...]) sends one request per "
            "conversation (for a list of acompletion keyword dicts, use gather_completions)"
        )
    if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Sequence):
        raise ParameterTypeError(_FLAT.format(got=f"got a {type(messages).__name__}"))
    if messages and all(isinstance(m, Mapping) for m in messages):
        raise ParameterError(_FLAT.format(got="got one flat list of messages"))
    stream = kwargs.pop("stream", False)
    stream = False if stream is None else stream
    if messages:
        # What every request shares (model, parameters, key) is checked once, so that its
        # error reads as itself instead of blaming messages[0].
        client._prepare(model, _PROBE, stream, kwargs)
    calls: list[Call] = []
    for index, conversation in enumerate(messages):
        if isinstance(conversation, Mapping):
            raise ParameterError(
                _FLAT.format(got=f"messages[{index}] is a message, not a list of messages")
            )
        try:
            calls.append(client._prepare(model, conversation, stream, kwargs))
        except RiteLLMError as exc:
            # The instance itself (its class and attributes), with the conversation named.
            exc.add_note(f"batch_completion: in messages[{index}]")
            raise
    return calls


def _workers(max_workers: object) -> int:
    limit = DEFAULT_MAX_WORKERS if max_workers is None else max_workers
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ParameterTypeError("max_workers must be an integer")
    if limit < 1:
        raise ParameterError(f"max_workers must be >= 1, got {limit}")
    return limit


# -- running --------------------------------------------------------------------------------


async def run_all(
    client: AsyncClient,
    calls: list[Call],
    *,
    max_concurrency: int,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
) -> list[Any]:
    """Every call's response (a stream read and assembled) or its ritellm error, in order.

    Every call runs on the fan-out engine (admission, rate limits, 429 feedback, progress),
    mocked ones too: a mocked batch is paced as the real one would be (the engine does not
    re-send a mocked 429: nothing was refused).
    """
    return await gather_calls(
        client,
        calls,
        max_concurrency=max_concurrency,
        return_exceptions=True,
        rpm=rpm,
        tpm=tpm,
        progress=progress,
    )


# -- batch_completion -------------------------------------------------------------------------


async def abatch_completion(
    model: str,
    messages: Sequence[Sequence[Mapping[str, Any]]] = (),
    *,
    max_workers: int | None = DEFAULT_MAX_WORKERS,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> list[ModelResponse | RiteLLMError]:
    """One request per conversation, all to ``model`` with the same parameters, run on the
    fan-out (see :func:`gather_completions`); results in input order. The async twin of
    :func:`batch_completion`.

    Args:
        model: the model string, as for :func:`acompletion`.
        messages: a list of conversations, one per request: each a list of messages
            (``[[{"role": "user", "content": "Hi"}], [...]]``).
        max_workers: requests in flight at once (LiteLLM's name; default 100, LiteLLM's;
            None is the default). The fan-out lowers it while the provider answers 429.
        rpm, tpm: requests / tokens per minute for the whole batch (the provider's stated
            limits are obeyed anyway).
        progress: True for a progress bar, or a callable receiving :class:`FanoutStats`.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`acompletion` argument, the same for each request
            (``stream=True`` requests are read to the end and assembled).

    Returns:
        One item per conversation: its :class:`ModelResponse`, or the ritellm error it
        failed with (LiteLLM's behaviour: a failure never stops the batch).

    Raises:
        ParameterError / ParameterTypeError: a bad argument or conversation (a note names
            its index), before anything is sent; a flat list of messages instead of a list
            of conversations.
        AuthenticationError: no API key, as for a single call.
    """
    client = client or default_client()
    calls = _batch_calls(client, model, messages, dict(kwargs))
    limit = _workers(max_workers)
    check_limits(limit, rpm, tpm)
    return await run_all(client, calls, max_concurrency=limit, rpm=rpm, tpm=tpm, progress=progress)


def batch_completion(
    model: str,
    messages: Sequence[Sequence[Mapping[str, Any]]] = (),
    *,
    max_workers: int | None = DEFAULT_MAX_WORKERS,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> list[ModelResponse | RiteLLMError]:
    """LiteLLM's ``batch_completion``: one request per conversation, all to ``model`` with
    the same parameters; results in input order, a failed request's error in its place.
    Blocking (Ctrl-C cancels every request); runs on the fan-out like
    :func:`abatch_completion`.

    Args:
        model: the model string, as for :func:`completion`.
        messages: a list of conversations, one per request: each a list of messages.
        max_workers: requests in flight at once (default 100; None is the default).
        rpm, tpm: requests / tokens per minute for the whole batch.
        progress: True for a progress bar, or a callable receiving :class:`FanoutStats`.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`completion` argument, the same for each request.

    Returns:
        One :class:`ModelResponse` or ritellm error per conversation, in input order.

    Raises:
        ParameterError / ParameterTypeError: a bad argument or conversation, in the
            caller's thread before anything is sent.
        AuthenticationError: no API key, as for a single call.
    """
    client = client or default_client()
    calls = _batch_calls(client, model, messages, dict(kwargs))
    limit = _workers(max_workers)
    check_limits(limit, rpm, tpm)
    result: list[ModelResponse | RiteLLMError] = run_sync(
        run_all, client, calls, max_concurrency=limit, rpm=rpm, tpm=tpm, progress=progress
    )
    return result
