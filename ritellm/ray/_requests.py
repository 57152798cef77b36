"""A list of requests answered on a Ray cluster, handed back batch by batch as they finish:
how ``ritellm batch --ray`` sends the lines it has not finished. The requests go to
:func:`map_completions` whole (one JSON column), so a line is sent exactly as the local
batch would send it; only their credentials are taken out of the rows and handed to each
worker once, in its configuration. Imports ray when a job is made.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator, Mapping
from typing import Any

from .._fanout._engine import FanoutStats
from ._actor import CREDENTIALS_COLUMN
from ._job import CALLS_PER_WORKER, map_completions, shared_limits

__all__ = [
    "CREDENTIALS",
    "REQUEST_COLUMN",
    "RequestJob",
    "batch_size_for",
    "split_credentials",
    "worker_totals",
]

REQUEST_COLUMN = "request"
BATCH_SIZE = 64  # map_completions' default
# acompletion's options that are secrets: never put in a row (see split_credentials).
CREDENTIALS = (
    "api_key",
    "azure_ad_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
)


def split_credentials(
    requests: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[int | None], tuple[dict[str, Any], ...]]:
    """The requests without their credentials, each one's index into the distinct
    credential sets (None: it has none), and those sets. The sets go to every worker once,
    in its configuration; rows travel through Ray's object store, its spill files and
    between nodes, so a secret must not be in them.

    Args:
        requests: acompletion keyword dicts (not changed).
    """
    sets: dict[str, int] = {}
    stripped: list[dict[str, Any]] = []
    which: list[int | None] = []
    for request in requests:
        secrets = {k: request[k] for k in CREDENTIALS if request.get(k) is not None}
        stripped.append({k: v for k, v in request.items() if k not in CREDENTIALS})
        if not secrets:
            which.append(None)
            continue
        which.append(sets.setdefault(json.dumps(secrets, sort_keys=True), len(sets)))
    return stripped, which, tuple(json.loads(text) for text in sets)


def batch_size_for(rows: int, workers: int, concurrency: int) -> int:
    """Rows per batch. A batch's results come back together, so small batches keep them
    flowing to the output (and an interrupt loses less); each costs Ray Data some work, so
    a large job gets map_completions' 64. In between: enough for about eight rounds of
    batches per worker (each runs ``CALLS_PER_WORKER`` at once), and at least half a
    worker's concurrency.

    Args:
        rows: requests in the job.
        workers: worker actors.
        concurrency: requests in flight per worker.
    """
    rounds = math.ceil(rows / (workers * CALLS_PER_WORKER * 8))
    return max(1, min(rows, BATCH_SIZE, max(math.ceil(concurrency / 2), rounds)))


def worker_totals(workers: Mapping[str, Mapping[str, Any]], stats: FanoutStats) -> None:
    """Sum what the workers last reported to the shared limiter into ``stats``: requests
    re-sent after a 429, in flight now, and the concurrency limits (left as they are until
    a worker has reported one).

    Args:
        workers: the shared limiter's ``workers()``.
        stats: updated in place.
    """
    stats.retried = sum(int(w.get("retried", 0)) for w in workers.values())
    stats.in_flight = sum(int(w.get("in_flight", 0)) for w in workers.values())
    limits = [int(w["limit"]) for w in workers.values() if "limit" in w]
    if limits:
        stats.concurrency = sum(limits)


class RequestJob:
    """``requests`` (acompletion keyword dicts, each sent as it is) answered by
    ``num_workers`` Ray actors, lazily: nothing runs until :meth:`batches` is iterated.

    Args:
        requests: the requests; a result names its request by its index.
        num_workers: worker actors.
        concurrency_per_worker: requests in flight per worker.
        rpm, tpm: limits for the whole job, all workers together.
        backend: each worker's event loop, "asyncio" or "trio".
    """

    def __init__(
        self,
        requests: list[dict[str, Any]],
        *,
        num_workers: int,
        concurrency_per_worker: int,
        rpm: float | None,
        tpm: float | None,
        backend: str,
    ) -> None:
        import ray.data

        self.limits = shared_limits(rpm, tpm)
        stripped, which, credentials = split_credentials(requests)
        rows = [
            {"id": i, REQUEST_COLUMN: json.dumps(r), CREDENTIALS_COLUMN: w}
            for i, (r, w) in enumerate(zip(stripped, which, strict=True))
        ]
        size = batch_size_for(len(rows), num_workers, concurrency_per_worker)
        # One block per batch; no more workers than batches (an idle worker is started,
        # and Ray Data warns about it, for nothing).
        blocks = math.ceil(len(rows) / size)
        self.workers = min(num_workers, blocks)
        self.input = ray.data.from_items(rows, override_num_blocks=blocks)
        answers = map_completions(
            self.input,
            num_workers=self.workers,
            concurrency_per_worker=concurrency_per_worker,
            rpm=rpm,
            tpm=tpm,
            backend=backend,
            batch_size=size,
            _limits=self.limits,
            _request_column=REQUEST_COLUMN,
            _credentials=credentials,
        )
        # The request column stays on the workers: the driver needs only the results.
        self._answers = answers.select_columns(["id", "response", "error"])

    def batches(self) -> Generator[list[tuple[int, Any, dict[str, Any] | None]], None, None]:
        """Run the job; yields each batch of results as Ray hands it over: (index, the
        response as a dict, None) or (index, None, the error record). Closing it ends Ray
        Data's execution of the job."""
        batches: Iterator[Any] = iter(
            self._answers.iter_batches(batch_format="pyarrow", batch_size=None)
        )
        try:
            for batch in batches:  # a pyarrow Table
                yield [
                    (
                        int(row["id"]),
                        None if row["response"] is None else json.loads(row["response"]),
                        None if row["error"] is None else json.loads(row["error"]),
                    )
                    for row in batch.to_pylist()
                ]
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def counters(self) -> Any:
        """An ObjectRef of each worker's counters (see ``SharedLimits.workers``)."""
        return self.limits.workers.remote()
