"""``map_completions``: the Ray Data transform (arguments checked before any I/O, the shared
limiter started, the worker pool described). Imports ray lazily, at call time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._client import AsyncClient
from .._errors import AuthenticationError, ParameterError, ParameterTypeError, RiteLLMError
from .._fanout._engine import check_limits
from ._actor import CompletionWorker, WorkerConfig
from ._limiter import SharedLimits
from ._rows import OUTPUT_COLUMNS

if TYPE_CHECKING:
    import ray.data

__all__ = ["check_completions", "map_completions", "shared_limits"]

# Batches one worker runs at once (threads of the actor, all on its one event loop): the
# next batch starts while the last rows of the previous one are still being answered.
CALLS_PER_WORKER = 4
DEFAULT_NUM_CPUS = 0.25  # a worker mostly waits on the network


def _workers(num_workers: object) -> tuple[int, int]:
    if isinstance(num_workers, tuple) and len(num_workers) == 2:
        low, high = num_workers
    else:
        low = high = num_workers
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterTypeError("num_workers must be an int or a (min, max) pair of ints")
    if not 1 <= low <= high:
        raise ParameterError(f"num_workers must be >= 1 (and min <= max), got {num_workers!r}")
    return low, high


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"{name} must be an int")
    if value < 1:
        raise ParameterError(f"{name} must be >= 1, got {value}")
    return value


def _check_params(model: object, params: Mapping[str, Any], client: AsyncClient) -> None:
    """The call's own parameters, checked now (ParameterError before anything runs)."""
    if model is not None and not isinstance(model, str):
        raise ParameterTypeError(f"model must be a str, not {type(model).__name__}")
    if params.get("stream"):
        raise ParameterError("map_completions does not stream: leave out stream=")
    if model is None:
        return
    rest = {k: v for k, v in params.items() if k != "stream"}
    try:
        client._prepare_kwargs(model, [{"role": "user", "content": "check"}], rest)
    except AuthenticationError:
        pass  # keys are the workers' (their environment): not known here
    except RiteLLMError as exc:
        if isinstance(exc, ParameterError | ParameterTypeError):
            raise
        # Anything else (an unknown provider, ...) is a bad argument too.
        raise ParameterError(str(exc)) from exc


def _check_schema(ds: ray.data.Dataset, request_column: str | None) -> None:
    schema = ds.schema(fetch_if_missing=False)  # only when known without running anything
    if schema is None:
        return
    names = set(schema.names)
    needed = request_column or "messages"
    taken = [name for name in OUTPUT_COLUMNS if name in names]
    if taken:
        raise ParameterError(
            f"the input already has a column named {taken[0]!r}: map_completions adds "
            f"{', '.join(OUTPUT_COLUMNS)} (rename or drop it first)"
        )
    if needed not in names:
        raise ParameterError(
            f"the input has no {needed!r} column (its columns: {', '.join(sorted(names))})"
        )


def shared_limits(rpm: float | None, tpm: float | None) -> Any:
    """Start the job's shared limiter actor (restarted by Ray if its process dies: it then
    starts afresh, as a new fan-out would)."""
    import ray

    actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(SharedLimits)
    return actor.remote(rpm, tpm)


def check_completions(
    ds: ray.data.Dataset,
    *,
    model: str | None = None,
    num_workers: int | tuple[int, int] = 2,
    concurrency_per_worker: int = 16,
    rpm: float | None = None,
    tpm: float | None = None,
    batch_size: int = 64,
    backend: str = "asyncio",
    client_options: Mapping[str, Any] | None = None,
    ray_remote_args: Mapping[str, Any] | None = None,
    _request_column: str | None = None,
    _credentials: tuple[Mapping[str, Any], ...] = (),
    **params: Any,
) -> tuple[WorkerConfig, tuple[int, int]]:
    """:func:`map_completions`' arguments checked, without starting anything: the workers'
    configuration and the pool's (min, max) size.

    Args:
        ds, model, num_workers, concurrency_per_worker, rpm, tpm, batch_size, backend,
            client_options, ray_remote_args, _request_column, _credentials, params: as for
            :func:`map_completions`.

    Raises:
        ParameterError / ParameterTypeError: as :func:`map_completions`.
    """
    import ray.data

    if not isinstance(ds, ray.data.Dataset):
        raise ParameterTypeError(f"ds must be a ray.data.Dataset, not {type(ds).__name__}")
    low, high = _workers(num_workers)
    _positive_int("concurrency_per_worker", concurrency_per_worker)
    _positive_int("batch_size", batch_size)
    check_limits(concurrency_per_worker, rpm, tpm)
    if backend not in ("asyncio", "trio"):
        raise ParameterError(f"backend must be 'asyncio' or 'trio', got {backend!r}")
    if ray_remote_args is not None and not isinstance(ray_remote_args, Mapping):
        raise ParameterTypeError("ray_remote_args must be a mapping")
    options = dict(client_options or {})
    _check_params(model, params, AsyncClient(**options))
    _check_schema(ds, _request_column)
    config = WorkerConfig(
        model=model,
        params={k: v for k, v in params.items() if k != "stream"},
        concurrency=concurrency_per_worker,
        tpm=tpm is not None,
        backend=backend,
        client_options=options,
        request_column=_request_column,
        credentials=tuple(dict(c) for c in _credentials),
    )
    return config, (low, high)


def map_completions(
    ds: ray.data.Dataset,
    *,
    model: str | None = None,
    num_workers: int | tuple[int, int] = 2,
    concurrency_per_worker: int = 16,
    rpm: float | None = None,
    tpm: float | None = None,
    batch_size: int = 64,
    backend: str = "asyncio",
    client_options: Mapping[str, Any] | None = None,
    ray_remote_args: Mapping[str, Any] | None = None,
    _finished: Any = None,
    _limits: Any = None,
    _request_column: str | None = None,
    _credentials: tuple[Mapping[str, Any], ...] = (),
    **params: Any,
) -> ray.data.Dataset:
    """Complete every row of a Ray Dataset on a pool of Ray actors (lazily, like any Ray
    Data transform: nothing runs until the result is consumed or written).

    Each row carries ``messages`` (a list of message dicts, or that list as a JSON string)
    and optionally ``id``, ``model`` and any ``acompletion`` request field (``max_tokens``,
    ``tools``, ``response_format``, ...), which win over ``params``; a null field is not set.
    Other columns are kept and never sent. Streaming is not used.

    Args:
        ds: the input Dataset.
        model: the model for rows without a ``model`` column value.
        num_workers: worker actors, or ``(min, max)`` for an autoscaling pool.
        concurrency_per_worker: requests in flight per worker (adaptive, as in
            ``gather_completions``).
        rpm, tpm: requests / tokens per minute for the whole job, all workers together.
        batch_size: rows per batch handed to a worker.
        backend: each worker's event loop, "asyncio" or "trio".
        client_options: keyword arguments of each worker's ``AsyncClient``.
        ray_remote_args: more arguments for ``map_batches`` (``num_cpus`` defaults to 0.25,
            ``runtime_env``, ``max_restarts``, ...).
        _finished: private: ids (an ObjectRef of :func:`id_key` strings) to leave out.
        _limits: private: the shared limiter actor to use (made here by default).
        _request_column: private: a column holding each row's whole request as JSON object
            text (``ritellm batch --ray``), used instead of the row's columns.
        _credentials: private: credential sets (``api_key``, ...) that the rows of
            ``_request_column`` name by index (their ``credentials`` column): secrets go to
            each worker once, in its configuration, never in a row.
        params: ``acompletion`` keyword arguments for every row.

    Returns:
        A Dataset of the input rows (those not left out) with ``response`` (the
        ``chat.completion`` as a JSON string, or null), ``content`` (the first choice's
        text, or null) and ``error`` (a JSON object string ``{"type", "message"[,
        "status_code", "code"]}``, or null).

    Raises:
        ParameterError / ParameterTypeError: a bad argument, or an input schema (when known
            without running anything) that has no ``messages`` or already has an output
            column; before any request.
    """
    import ray
    import ray.data

    config, (low, high) = check_completions(
        ds,
        model=model,
        num_workers=num_workers,
        concurrency_per_worker=concurrency_per_worker,
        rpm=rpm,
        tpm=tpm,
        batch_size=batch_size,
        backend=backend,
        client_options=client_options,
        ray_remote_args=ray_remote_args,
        _request_column=_request_column,
        _credentials=_credentials,
        **params,
    )
    limits = _limits if _limits is not None else shared_limits(rpm, tpm)
    remote_args: dict[str, Any] = {"num_cpus": DEFAULT_NUM_CPUS, **(ray_remote_args or {})}
    return ds.map_batches(
        CompletionWorker,
        fn_constructor_kwargs={"config": config, "limits": limits, "finished": _finished},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(
            min_size=low,
            max_size=high,
            max_concurrent_calls_per_actor=CALLS_PER_WORKER,
            enable_true_multi_threading=True,
        ),
        **remote_args,
    )
