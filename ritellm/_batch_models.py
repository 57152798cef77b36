"""LiteLLM's many-models batch functions on ritellm's fan-out: one conversation to every
model at once, the first answer wins (batch_completion_models, a race) or every answer is
kept (batch_completion_models_all_responses); each with its async twin (``a`` prefix) and a
blocking one run on the portal thread.

Imports anyio's users only (the fan-out, the client, the blocking portal); never httpcore,
trio or asyncio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ._batch import run_all
from ._blocking import run_sync
from ._client import AsyncClient, default_client
from ._errors import ParameterError, ParameterTypeError, RiteLLMError
from ._fanout import race_completions
from ._prepared import Call
from ._types import ModelResponse

__all__ = [
    "abatch_completion_models",
    "abatch_completion_models_all_responses",
    "batch_completion_models",
    "batch_completion_models_all_responses",
]

logger = logging.getLogger("ritellm")


# -- preparing: every request validated before anything is sent --------------------------


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
            # The instance itself (its class and attributes), with the request named.
            exc.add_note(f"{name}: for model {model!r}")
            raise
    return calls


def _successes(name: str, models: list[str], results: list[Any]) -> list[ModelResponse]:
    kept = []
    for model, result in zip(models, results, strict=True):
        if isinstance(result, RiteLLMError):
            # LiteLLM leaves failed models out of the list; say so rather than drop silently.
            logger.warning("ritellm: %s: %s failed and is left out: %s", name, model, result)
        else:
            kept.append(result)
    return kept


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
    results = await run_all(client, calls, max_concurrency=max(1, len(calls)))
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
    results: list[Any] = run_sync(run_all, client, calls, max_concurrency=max(1, len(calls)))
    if return_exceptions:
        return results
    return _successes(_ALL, [r["model"] for r in requests], results)
