"""``ritellm batch --ray``: the batch's unfinished lines answered on a Ray cluster.

Everything else (reading the input, what is finished, the output and its journal, the
progress line, the summary) is the local batch's: this module only provides the step that
sends the requests (``_batchjob.Send``), connects to Ray and keeps Ray quiet on stderr.
Imports ray only when a batch has something to send.

An interrupt loses more than the local batch's "requests in flight": answers reach the
command a batch at a time, so every answered row not yet handed over is lost too (the
answered rows of the batches being worked on, up to ``CALLS_PER_WORKER`` per worker, and
finished batches Ray Data still holds); the rerun sends them again (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, TextIO

import anyio
import anyio.from_thread
import anyio.lowlevel

from ._batchjob import Deliver, Report, Send
from ._cli_batch import CommandError, positive_int
from ._cli_sim import DEFAULT_MODEL, simulator_reason
from ._fanout._engine import FanoutStats

__all__ = [
    "POLL_EVERY",
    "add_ray_arguments",
    "is_local_address",
    "ray_missing",
    "ray_send",
    "ray_stderr",
]

# Seconds between looks at the workers' counters (429s re-sent, in flight) for progress.
POLL_EVERY = 0.5
RAY_MISSING = "--ray needs Ray Data: pip install 'ritellm[ray]'"
DEFAULT_WORKERS = 2


def add_ray_arguments(batch: argparse.ArgumentParser) -> None:
    """Add ``--ray [ADDRESS]`` and ``--ray-workers N`` to the ``batch`` parser."""
    batch.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help=(
            "send the requests to a Ray cluster: the one at ADDRESS (e.g. 10.0.0.5:6379, "
            "auto), else the one RAY_ADDRESS names, else a local cluster started for the run"
        ),
    )
    batch.add_argument(
        "--ray-workers",
        type=positive_int,
        metavar="N",
        help="with --ray: worker actors (default 2), each with --concurrency requests in flight",
    )


@contextmanager
def ray_stderr(stream: TextIO) -> Iterator[TextIO]:
    """The command's messages on a copy of ``stream`` (stderr), and file descriptor 2 on
    /dev/null until the block ends: Ray's core writes its log lines there as well as to
    its own log files (one error line for every Ray Data actor pool, ray-project/ray#53727,
    whatever is set), and the batch's stderr stays as it is without --ray. A stream that
    is not descriptor 2 (a test's) is left as it is.

    Args:
        stream: sys.stderr.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd != 2:
        yield stream
        return
    stream.flush()
    saved = os.dup(fd)
    copy = open(  # noqa: SIM115 - closed below
        os.dup(fd), "w", encoding=stream.encoding, errors=stream.errors, buffering=1
    )
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    try:
        yield copy
    finally:
        copy.close()
        os.dup2(saved, fd)  # back before an exception's traceback is printed
        os.close(saved)


def is_local_address(address: str) -> bool:
    """Whether a Ray address names this machine's loopback (``127.0.0.1:6379``,
    ``localhost:6379``, ``ray://127.0.0.1:10001``, ``[::1]:6379``): a cluster whose workers
    reach this machine's 127.0.0.1. ``auto`` is not: the cluster it finds may span nodes.

    Args:
        address: ``--ray``'s ADDRESS (or ``RAY_ADDRESS``).
    """
    rest = address.partition("://")[2] if "://" in address else address
    host = rest.rpartition(":")[0] if rest.count(":") == 1 or "]" in rest else rest
    host = host.strip("[]").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def ray_missing(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str | None:
    """What is wrong with the ``--ray`` options of ``ritellm batch`` (a usage error), else
    None: ``--ray-workers`` without ``--ray``, Ray Data not installed (found without
    importing it), or a cluster elsewhere with the bundled simulator answering: it runs in
    this process, on 127.0.0.1, where workers on other nodes cannot reach it.

    Args:
        args: the parsed command line.
        environ: the environment (``RAY_ADDRESS``, the API keys).
    """
    if args.ray is None:
        return "--ray-workers needs --ray" if args.ray_workers is not None else None
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None:
        return RAY_MISSING
    address = args.ray or environ.get("RAY_ADDRESS")
    if address and not is_local_address(address):
        reason = simulator_reason(
            args.model or DEFAULT_MODEL,
            requested=args.simulator,
            api_key=args.api_key,
            base_url=args.base_url,
            environ=environ,
        )
        if reason is not None:
            return (
                f"--ray {address}: the bundled simulator would answer ({reason}), but it runs "
                "on this machine's 127.0.0.1, which workers on other nodes cannot reach; "
                "pass --api-key (or set the provider's key), or use a local cluster (--ray "
                "alone, or a 127.0.0.1 address)"
            )
    return None


def ray_send(args: argparse.Namespace) -> Send:
    """The sending step of ``ritellm batch --ray``, from the parsed command line.

    Args:
        args: ``--ray``, ``--ray-workers``, ``--concurrency``, ``--rpm``, ``--tpm``,
            ``--backend``.
    """
    return partial(
        _send,
        address=args.ray or None,
        workers=args.ray_workers or DEFAULT_WORKERS,
        concurrency=args.concurrency,
        rpm=args.rpm,
        tpm=args.tpm,
        backend=args.backend,
    )


def _check_reachable(address: str) -> None:
    """Refuse a ``host:port`` nothing listens on at once: ray.init would retry for minutes.
    Other forms (``auto``, ``ray://...``) are left to Ray."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or "/" in host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise CommandError(f"cannot connect to the Ray cluster at {address}: {reason}") from None


def _connect(address: str | None) -> Callable[[], None]:
    """Connect this process to Ray; returns what disconnects it. Runs on the main thread:
    ray.init installs its SIGTERM handler there (and warns when it cannot)."""
    target = address or os.environ.get("RAY_ADDRESS")
    if target:
        _check_reachable(target)
    if "ray" not in sys.modules:  # the command's own process: nothing else uses Ray
        # Ray starts a local cluster when one of its functions runs while not connected:
        # after an interrupt, Ray Data's threads would start a second one as this one
        # stops. The command connects by itself. (Read when ray is imported.)
        os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
        import ray.data
    except ImportError as exc:  # found but broken: a missing dependency of Ray Data
        raise CommandError(f"{RAY_MISSING} ({exc})") from None
    if ray.is_initialized():  # called from Python that is connected already: use that
        _quiet_ray_data()
        return lambda: None
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        # A cluster for this run only, on this machine: it needs no network address.
        options.update(address="local", include_dashboard=False, _node_ip_address="127.0.0.1")
    else:
        options["address"] = address  # None: RAY_ADDRESS
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = target or "local"
        raise CommandError(f"cannot connect to the Ray cluster at {where}: {exc}") from None
    _quiet_ray_data()
    return ray.shutdown


def _quiet_ray_data() -> None:
    """Ray Data's progress bars and execution notes would share stderr with the batch's own
    progress line: send them only to Ray's log files."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            # Even its errors: what fails the job is raised and reported as the command's.
            handler.setLevel(logging.CRITICAL + 1)


def _failure(exc: BaseException) -> CommandError:
    """A Ray failure as one line (a remote traceback follows its first line)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return CommandError(f"the Ray job failed: {type(exc).__name__}: {lines[0] if lines else ''}")


async def _send(
    requests: list[dict[str, Any]],
    deliver: Deliver,
    report: Report,
    *,
    address: str | None,
    workers: int,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    backend: str,
) -> int | None:
    from .ray._limiter import await_ref
    from .ray._requests import RequestJob, worker_totals

    disconnect = _connect(address)
    import ray.exceptions

    try:
        job = RequestJob(
            requests,
            num_workers=workers,
            concurrency_per_worker=concurrency,
            rpm=rpm,
            tpm=tpm,
            backend=backend,
        )
        stats = FanoutStats(total=len(requests), concurrency=job.workers * concurrency)
        stop = threading.Event()
        failed: list[Exception] = []

        written = {"done": 0, "failed": 0}
        answered: dict[str, Any] = {}  # what the workers last reported

        def count() -> None:
            # Ray hands results over a batch at a time; the workers report each answer
            # within half a second: show whichever is further.
            for name in ("done", "failed"):
                told = sum(int(w.get(name, 0)) for w in answered.values())
                setattr(stats, name, max(written[name], told))

        def take(rows: list[tuple[int, Any, dict[str, Any] | None]]) -> None:
            for index, response, error in rows:  # on the event loop, like every write
                deliver(index, response, error)
                written["done" if error is None else "failed"] += 1
            count()
            report(stats)

        token = anyio.lowlevel.current_token()
        finished = anyio.Event()

        def pump() -> None:  # in a thread of its own: Ray's iterator blocks
            batches = job.batches()
            try:
                for rows in batches:
                    if stop.is_set():
                        break
                    anyio.from_thread.run_sync(take, rows, token=token)
            except Exception as exc:  # raised below, on the event loop's side
                if not stop.is_set():  # else abandoned: nobody is waiting any more
                    failed.append(exc)
            finally:
                with suppress(Exception):  # after an interrupt Ray may be gone already
                    batches.close()  # ends Ray Data's execution of the job
                with suppress(RuntimeError):  # the event loop has ended
                    anyio.from_thread.run_sync(finished.set, token=token)

        async def poll() -> None:
            while True:
                await anyio.sleep(POLL_EVERY)
                try:
                    reported = await await_ref(job.counters())
                except ray.exceptions.RayError:
                    continue  # the limiter is being restarted: only progress is late
                answered.clear()
                answered.update(reported)
                worker_totals(answered, stats)
                count()
                report(stats)

        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            # A daemon thread, left behind on Ctrl-C (it stops at its next batch, or when
            # Ray disconnects): it must not keep the process from exiting.
            thread = threading.Thread(target=pump, name="ritellm-ray-results", daemon=True)
            thread.start()
            try:
                await finished.wait()
            finally:
                stop.set()
                group.cancel_scope.cancel()
        if failed:
            raise failed[0]
        worker_totals(await await_ref(job.counters()), stats)  # the final counts
        return stats.retried
    except ray.exceptions.RayError as exc:
        raise _failure(exc) from None
    finally:
        disconnect()
