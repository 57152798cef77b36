"""The worker: the callable class Ray Data runs as an actor (``map_batches``). Each actor
runs one event loop (anyio's blocking portal) with one client and one admission shared by
every batch it is given, so its ``concurrency_per_worker`` slots stay busy across batches.
Imports ray, pyarrow and anyio; never asyncio or trio.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
from collections.abc import Mapping
from typing import Any

import anyio
import attrs
from anyio.from_thread import BlockingPortal

from .._client import AsyncClient
from .._errors import ParameterError, RiteLLMError
from .._fanout._engine import Engine
from ._limiter import ClusterAdmission
from ._rows import OUTPUT_COLUMNS, id_key, output_columns, request_from_row

__all__ = ["CREDENTIALS_COLUMN", "REPORT_EVERY", "CompletionWorker", "WorkerConfig"]

# With a request column: the index of the row's credential set in WorkerConfig.credentials.
CREDENTIALS_COLUMN = "credentials"

# Seconds between a worker's reports of its counters while it has work, for progress
# displays; it also reports at the end of each batch.
REPORT_EVERY = 0.5


@attrs.frozen(kw_only=True)
class WorkerConfig:
    """What every worker needs to know (pickled into each actor)."""

    model: str | None
    params: Mapping[str, Any] = attrs.field(repr=False)  # may hold an api_key
    concurrency: int
    tpm: bool
    backend: str
    client_options: Mapping[str, Any] = attrs.field(repr=False)
    request_column: str | None = None
    """A column holding each row's whole request as JSON object text (``ritellm batch
    --ray``); None: the request is read from the row's columns."""
    credentials: tuple[Mapping[str, Any], ...] = attrs.field(default=(), repr=False)
    """With ``request_column``: the credential sets (``api_key``, ...) a row names by index
    in its ``credentials`` column. Secrets travel once, here, never in the rows (Ray's
    object store, its spill files and transfers between nodes)."""


class CompletionWorker:
    """``ds.map_batches(CompletionWorker, ...)``: completes each row of a pyarrow batch and
    appends ``response``, ``content`` and ``error``.

    Args:
        config: the job's :class:`WorkerConfig`.
        limits: the shared limiter's actor handle.
        finished: ids (as :func:`id_key`) to leave out, or an ObjectRef of them, or None.
    """

    def __init__(self, config: WorkerConfig, limits: Any, finished: Any = None) -> None:
        import ray

        if isinstance(finished, ray.ObjectRef):
            finished = ray.get(finished)
        self._finished: frozenset[str] = frozenset(finished or ())
        self._config = config
        self._limits = limits
        # The actor's id survives a restart: the limiter sees the same worker, new process.
        self._name = ray.get_runtime_context().get_actor_id() or f"pid-{os.getpid()}"
        self._counts = {"done": 0, "failed": 0, "retried": 0, "skipped": 0}
        self._running: set[Engine] = set()  # one per batch being answered
        self._portal, self._loop_thread = _start_loop(config.backend)
        self._client, self._admission = self._portal.call(self._start)
        self._serving = self._portal.start_task_soon(self._admission.serve)
        self._reporting = self._portal.start_task_soon(self._report_every)
        info = {"pid": os.getpid(), "node": socket.gethostname()}
        ray.get(limits.register.remote(self._name, info))

    async def _start(self) -> tuple[AsyncClient, ClusterAdmission]:
        client = AsyncClient(**self._config.client_options)
        admission = ClusterAdmission(self._limits, self._config.concurrency, tpm=self._config.tpm)
        return client, admission

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa  # type: ignore[import-untyped]

        taken = [name for name in OUTPUT_COLUMNS if name in batch.column_names]
        if taken:
            raise ParameterError(
                f"the input already has a column named {taken[0]!r}: map_completions adds "
                f"{', '.join(OUTPUT_COLUMNS)} (rename or drop it first)"
            )
        rows = batch.to_pylist()
        keep = [i for i, row in enumerate(rows) if not self._skip(row)]
        skipped = len(rows) - len(keep)
        if skipped:
            batch = batch.take(pa.array(keep, pa.int64()))
            rows = [rows[i] for i in keep]
        outcomes = self._portal.call(self._run, rows, skipped)
        columns = list(zip(*(output_columns(o) for o in outcomes), strict=True)) or [(), (), ()]
        for name, values in zip(OUTPUT_COLUMNS, columns, strict=True):
            batch = batch.append_column(name, pa.array(list(values), pa.string()))
        self._limits.progress.remote(self._name, self._portal.call(self._snapshot))
        return batch

    async def _snapshot(self) -> dict[str, int]:
        """The counters, and the requests in flight and the concurrency limit right now."""
        in_flight = sum(engine.stats.in_flight for engine in self._running)
        return {**self._counts, "in_flight": in_flight, "limit": self._admission.limit}

    async def _report_every(self) -> None:
        reported = await self._snapshot()
        while True:
            await anyio.sleep(REPORT_EVERY)
            counts = await self._snapshot()
            if counts != reported:
                self._limits.progress.remote(self._name, counts)  # fire and forget
                reported = counts

    def _skip(self, row: Mapping[str, Any]) -> bool:
        ident = row.get("id")
        return bool(self._finished) and ident is not None and id_key(ident) in self._finished

    async def _run(self, rows: list[dict[str, Any]], skipped: int) -> list[Any]:
        # On the worker's loop, like every change to the counters.
        self._counts["skipped"] += skipped
        client, config = self._client, self._config
        outcomes: list[Any] = [None] * len(rows)
        calls = []
        where: list[int] = []
        for index, row in enumerate(rows):
            try:
                request = self._request(row)
                if "model" not in request:
                    raise ParameterError("the row has no model: pass model= or a model column")
                model, messages = request.pop("model"), request.pop("messages", None)
                calls.append(client._prepare_kwargs(model, messages, request))
            except RiteLLMError as exc:  # a bad row is an error row, not a failed job
                outcomes[index] = exc
                continue
            where.append(index)

        async def deliver(position: int, outcome: Any) -> None:
            outcomes[where[position]] = outcome
            self._counts["failed" if isinstance(outcome, BaseException) else "done"] += 1

        self._counts["failed"] += len(rows) - len(calls)  # rows that could not be sent

        engine = Engine(
            client,
            calls,
            max_concurrency=config.concurrency,
            return_exceptions=True,
            rpm=None,
            tpm=None,
            progress=False,
            deliver=deliver,
            admission=self._admission,
        )
        self._running.add(engine)
        try:
            await engine.run()
        finally:
            self._running.discard(engine)
        self._counts["retried"] += engine.stats.retried
        return outcomes

    def _request(self, row: Mapping[str, Any]) -> dict[str, Any]:
        config = self._config
        column = config.request_column
        if column is None:
            return request_from_row(row, config.model, config.params)
        try:
            own = json.loads(row[column])
        except (TypeError, ValueError):
            own = None
        if not isinstance(own, dict):
            raise ParameterError(f"the {column!r} column must hold a JSON object")
        own.pop("stream", None)  # the whole answer is kept, as ritellm batch does
        request = dict(config.params)
        if config.model is not None:
            request["model"] = config.model
        which = row.get(CREDENTIALS_COLUMN)
        secrets = config.credentials[which] if which is not None else {}
        return {**request, **own, **secrets}

    def __del__(self) -> None:
        # Ray Data drops the instance when the pool shuts down: close the client's
        # connections on its own loop, then end the loop. Not while the process exits: its
        # daemon threads, the loop's among them, no longer run, and a call into the loop
        # would wait forever (the OS closes the sockets).
        thread = getattr(self, "_loop_thread", None)
        if thread is None or not thread.is_alive() or sys.is_finalizing():
            return
        self._serving.cancel()
        self._reporting.cancel()
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal.call(self._portal.stop, True)
            thread.join(5)


def _start_loop(backend: str) -> tuple[BlockingPortal, threading.Thread]:
    """An event loop in a daemon thread, reached through a portal. Not anyio's
    start_blocking_portal: its context manager, collected while the process exits, would
    call into a loop that no longer runs and keep the worker process alive forever."""
    handoff: queue.Queue[BlockingPortal | BaseException] = queue.Queue()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            handoff.put(portal)
            await portal.sleep_until_stopped()

    def target() -> None:
        try:
            anyio.run(serve, backend=backend)
        except BaseException as exc:  # e.g. trio missing: raised in the actor's thread
            handoff.put(exc)

    thread = threading.Thread(target=target, name="ritellm-ray-worker", daemon=True)
    thread.start()
    started = handoff.get()
    if isinstance(started, BaseException):
        raise started
    return started, thread
