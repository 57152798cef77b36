"""LiteLLM's batch family on ritellm's fan-out: one model over many conversations
(batch_completion), many models over one conversation, first answer wins
(batch_completion_models) or every answer (batch_completion_models_all_responses); each with
its async twin (``a`` prefix) and a blocking one run on the portal thread.

Imports anyio's users only (the fan-out, the client, the blocking portal); never httpcore,
trio or asyncio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._assemble import stream_chunk_builder
from ._blocking import run_sync
from ._call import Call
from ._client import AsyncClient, default_client
from ._errors import ParameterError, ParameterTypeError, RiteLLMError
from ._fanout import FanoutStats, race_completions
from ._fanout._engine import Engine, check_limits
from ._stream import AsyncCompletionStream
from ._types import ModelResponse

__all__ = [
    "abatch_completion",
    "abatch_completion_models",
    "abatch_completion_models_all_responses",
    "batch_completion",
    "batch_completion_models",
    "batch_completion_models_all_responses",
]

logger = logging.getLogger("ritellm")

# LiteLLM's batch_completion default (its thread pool's max_workers).
DEFAULT_MAX_WORKERS = 100

_FLAT = (
    "batch_completion: messages must be a list of conversations, one per request (a list of "
    "message lists), e.g. messages=[[{{'role': 'user', 'content': 'Hi'}}], "
    "[{{'role': 'user', 'content': 'Bye'}}]]; {got}. For one conversation call completion()"
)


# -- preparing: every request validated before anything is sent --------------------------


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
    calls: list[Call] = []
    for index, conversation in enumerate(messages):
        if isinstance(conversation, Mapping):
            raise ParameterError(
                _FLAT.format(got=f"messages[{index}] is a message, not a list of messages")
            )
        try:
            calls.append(client._prepare(model, conversation, stream, kwargs))
        except RiteLLMError as exc:
            raise type(exc)(f"batch_completion: messages[{index}]: {exc}") from exc
    return calls


def _model_list(name: str, models: object) -> list[str]:
    if isinstance(models, str):
        return [models]  # LiteLLM's one-model shorthand
    if not isinstance(models, Sequence) or not all(isinstance(m, str) for m in models):
        raise ParameterTypeError(f"{name}: models must be a list of model strings")
    return list(models)


def _model_requests(
    name: str, models: object, messages: object, kwargs: dict[str, Any]
) -> list[dict[str, Any]]:
    """One acompletion keyword dict per model (``model=`` is ignored, as LiteLLM does)."""
    kwargs.pop("model", None)
    if models is None:
        raise ParameterError(f"{name} needs models=[...] (a list of model strings)")
    return [{**kwargs, "model": m, "messages": messages} for m in _model_list(name, models)]


def _deployment_requests(
    deployments: object, messages: object, kwargs: dict[str, Any]
) -> list[dict[str, Any]]:
    """LiteLLM's ``deployments=``: dicts of acompletion arguments, each with its ``model``;
    the call's other arguments fill in what a deployment does not set."""
    kwargs.pop("model", None)
    kwargs.pop("model_list", None)  # LiteLLM requires it beside deployments, and ignores it
    if isinstance(deployments, Mapping | str) or not isinstance(deployments, Sequence):
        raise ParameterTypeError("batch_completion_models: deployments must be a list of dicts")
    requests = []
    for index, deployment in enumerate(deployments):
        if not isinstance(deployment, Mapping) or not isinstance(deployment.get("model"), str):
            raise ParameterTypeError(
                f"batch_completion_models: deployments[{index}] must be a dict of acompletion "
                "arguments with a 'model'"
            )
        request = {**kwargs, **deployment}
        if messages is not None and "messages" not in deployment:
            request["messages"] = messages
        requests.append(request)
    return requests


def _prepare_each(name: str, client: AsyncClient, requests: list[dict[str, Any]]) -> list[Call]:
    calls: list[Call] = []
    for request in requests:
        kwargs = dict(request)
        model, messages = kwargs.pop("model"), kwargs.pop("messages", None)
        if messages is None:
            raise ParameterError(f"{name} needs messages=[...]")
        try:
            calls.append(client._prepare_kwargs(model, messages, kwargs))
        except RiteLLMError as exc:
            raise type(exc)(f"{name}: {model!r}: {exc}") from exc
    return calls


def _workers(max_workers: object) -> int:
    limit = DEFAULT_MAX_WORKERS if max_workers is None else max_workers
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ParameterTypeError("max_workers must be an integer")
    if limit < 1:
        raise ParameterError(f"max_workers must be >= 1, got {limit}")
    return limit


# -- running --------------------------------------------------------------------------------


async def _run_all(
    client: AsyncClient,
    calls: list[Call],
    *,
    max_concurrency: int,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Callable[[FanoutStats], Any] = False,
) -> list[Any]:
    """Every call's response (a stream read and assembled) or its ritellm error, in order.

    Real calls run on the fan-out engine (admission, rate limits, 429 feedback). Mocked
    ones are answered directly: they send nothing, and the engine would re-send a mocked
    429 as if a provider had refused it.
    """
    results: list[Any] = [None] * len(calls)
    real = [index for index, call in enumerate(calls) if call.mock is None]
    for index, call in enumerate(calls):
        if call.mock is not None:
            try:
                results[index] = await _whole(client, call)
            except RiteLLMError as exc:
                results[index] = exc
    if real:

        async def deliver(position: int, outcome: Any) -> None:
            results[real[position]] = outcome

        engine = Engine(
            client,
            [calls[index] for index in real],
            max_concurrency=max_concurrency,
            return_exceptions=True,
            rpm=rpm,
            tpm=tpm,
            progress=progress,
            deliver=deliver,
        )
        await engine.run()
    return results


async def _whole(client: AsyncClient, call: Call) -> ModelResponse:
    result = await client._run(call)
    if isinstance(result, AsyncCompletionStream):
        assembled = stream_chunk_builder(await result.collect())
        assert assembled is not None  # a mock always streams at least a finish chunk
        return assembled
    return result


def _successes(name: str, models: list[str], results: list[Any]) -> list[ModelResponse]:
    kept = []
    for model, result in zip(models, results, strict=True):
        if isinstance(result, RiteLLMError):
            # LiteLLM leaves failed models out of the list; say so rather than drop silently.
            logger.warning("ritellm: %s: %s failed and is left out: %s", name, model, result)
        else:
            kept.append(result)
    return kept


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
        ParameterError / ParameterTypeError: a bad argument or conversation (named by its
            index), before anything is sent; a flat list of messages instead of a list of
            conversations.
    """
    client = client or default_client()
    calls = _batch_calls(client, model, messages, dict(kwargs))
    limit = _workers(max_workers)
    check_limits(limit, rpm, tpm)
    return await _run_all(client, calls, max_concurrency=limit, rpm=rpm, tpm=tpm, progress=progress)


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
    """
    client = client or default_client()
    calls = _batch_calls(client, model, messages, dict(kwargs))
    limit = _workers(max_workers)
    check_limits(limit, rpm, tpm)
    result: list[ModelResponse | RiteLLMError] = run_sync(
        _run_all, client, calls, max_concurrency=limit, rpm=rpm, tpm=tpm, progress=progress
    )
    return result


# -- batch_completion_models: first answer wins -----------------------------------------------


def _race_requests(
    models: object, messages: object, deployments: object, kwargs: dict[str, Any]
) -> list[dict[str, Any]]:
    name = "batch_completion_models"
    if models is not None and deployments is not None:
        raise ParameterError(f"{name} takes models=[...] or deployments=[...], not both")
    if deployments is not None:
        requests = _deployment_requests(deployments, messages, kwargs)
    else:
        requests = _model_requests(name, models, messages, kwargs)
    if not requests:
        raise ParameterError(f"{name} needs at least one model")
    if any(request.get("stream") for request in requests):
        raise ParameterError(f"{name} does not take stream=True (a race returns one answer)")
    return requests


async def abatch_completion_models(
    *,
    models: Sequence[str] | str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    deployments: Sequence[Mapping[str, Any]] | None = None,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> ModelResponse:
    """Send one conversation to every model at once: the first successful answer wins and
    the other requests are cancelled (:func:`race_completions`). The async twin of
    :func:`batch_completion_models`.

    Args:
        models: the model strings to race (a str is one model).
        messages: the conversation every model is sent.
        deployments: instead of ``models``, LiteLLM's deployments: dicts of
            :func:`acompletion` arguments, each with its ``model`` (and e.g. ``base_url``,
            ``api_key``); the other arguments fill in what a deployment does not set.
            ``model_list``, which LiteLLM requires beside it, is accepted and ignored.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`acompletion` argument, sent to each model (``model``
            is ignored, as in LiteLLM; ``stream=True`` is refused).

    Returns:
        The first successful :class:`ModelResponse`.

    Raises:
        ParameterError / ParameterTypeError: no model, both ``models`` and ``deployments``,
            ``stream=True``, or a bad argument — before anything is sent.
        RiteLLMError: every model failed: the first model's error, chained from an
            ExceptionGroup holding all of them.
    """
    client = client or default_client()
    requests = _race_requests(models, messages, deployments, dict(kwargs))
    _prepare_each("batch_completion_models", client, requests)
    return await race_completions(requests, client=client)


def batch_completion_models(
    *,
    models: Sequence[str] | str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    deployments: Sequence[Mapping[str, Any]] | None = None,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> ModelResponse:
    """LiteLLM's ``batch_completion_models``: one conversation to every model at once; the
    first successful answer wins and the others are cancelled. Blocking (Ctrl-C cancels
    every request).

    Args:
        models: the model strings to race (a str is one model).
        messages: the conversation every model is sent.
        deployments: instead of ``models``, dicts of :func:`completion` arguments, each with
            its ``model``; ``model_list`` is accepted and ignored.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`completion` argument, sent to each model.

    Returns:
        The first successful :class:`ModelResponse`.

    Raises:
        ParameterError / ParameterTypeError: a bad argument, in the caller's thread.
        RiteLLMError: every model failed (the first model's error, chained from an
            ExceptionGroup of all).
    """
    client = client or default_client()
    requests = _race_requests(models, messages, deployments, dict(kwargs))
    _prepare_each("batch_completion_models", client, requests)
    result: ModelResponse = run_sync(race_completions, requests, client=client)
    return result


# -- batch_completion_models_all_responses ----------------------------------------------------

_ALL = "batch_completion_models_all_responses"


async def abatch_completion_models_all_responses(
    *,
    models: Sequence[str] | str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    return_exceptions: bool = False,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Send one conversation to every model at once and wait for every answer, returned in
    model order. The async twin of :func:`batch_completion_models_all_responses`.

    Args:
        models: the model strings (a str is one model).
        messages: the conversation every model is sent.
        return_exceptions: False (LiteLLM's behaviour): a failed model is left out of the
            list (and logged as a warning on the ``ritellm`` logger). True: its error stays
            in its place, so the list lines up with ``models``.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`acompletion` argument, sent to each model (``model``
            is ignored, as in LiteLLM; ``stream=True`` answers are read and assembled).

    Returns:
        The models' :class:`ModelResponse` objects in model order (with
        ``return_exceptions=True``, a ritellm error in a failed model's place).

    Raises:
        ParameterError / ParameterTypeError: a bad argument, before anything is sent.
    """
    client = client or default_client()
    requests = _model_requests(_ALL, models, messages, dict(kwargs))
    calls = _prepare_each(_ALL, client, requests)
    results = await _run_all(client, calls, max_concurrency=max(1, len(calls)))
    if return_exceptions:
        return results
    return _successes(_ALL, [r["model"] for r in requests], results)


def batch_completion_models_all_responses(
    *,
    models: Sequence[str] | str | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    return_exceptions: bool = False,
    client: AsyncClient | None = None,
    **kwargs: Any,
) -> list[Any]:
    """LiteLLM's ``batch_completion_models_all_responses``: one conversation to every model
    at once, every answer returned in model order. Blocking (Ctrl-C cancels every request).

    Args:
        models: the model strings (a str is one model).
        messages: the conversation every model is sent.
        return_exceptions: False: failed models are left out (LiteLLM's behaviour, logged as
            a warning); True: a failed model's error stays in its place.
        client: the :class:`AsyncClient` to use (default: the module-level one).
        **kwargs: every other :func:`completion` argument, sent to each model.

    Returns:
        The models' :class:`ModelResponse` objects in model order.

    Raises:
        ParameterError / ParameterTypeError: a bad argument, in the caller's thread.
    """
    client = client or default_client()
    requests = _model_requests(_ALL, models, messages, dict(kwargs))
    calls = _prepare_each(_ALL, client, requests)
    results: list[Any] = run_sync(_run_all, client, calls, max_concurrency=max(1, len(calls)))
    if return_exceptions:
        return results
    return _successes(_ALL, [r["model"] for r in requests], results)
