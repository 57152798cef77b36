"""Where blocking calls run: a thread that runs no event loop runs them on a loop of its own
(no thread hop), whose connections are closed when the thread ends, at interpreter exit and
never by a forked child; a thread that runs a loop, and a call with async callbacks, use the
portal thread."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio

import ritellm
from ritellm import _blocking
from ritellm._client import default_client
from ritellm._loops import THREAD_LOOPS
from ritellm.testing import Simulator, SimulatorStats, ThreadedSimulator

from .conftest import open_fds

MSGS = [{"role": "user", "content": "Hello!"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello!"


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


def until(tsim: ThreadedSimulator, predicate: Callable[[SimulatorStats], bool]) -> None:
    async def wait() -> None:
        with anyio.fail_after(10):
            await tsim.simulator.wait_until(predicate)

    tsim._portal.call(wait)


def called_from(tsim: ThreadedSimulator, **kwargs: Any) -> str:
    """The name of the thread a blocking call ran on (its logger_fn runs there)."""
    seen: list[str] = []
    ritellm.completion(
        "gpt-4o",
        MSGS,
        base_url=tsim.base_url,
        logger_fn=lambda _: seen.append(threading.current_thread().name),
        **kwargs,
    )
    return seen[0]


def in_thread(fn: Callable[[], Any]) -> Any:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), name="caller")
    thread.start()
    thread.join(30)
    return out[0]


def test_a_thread_without_a_loop_runs_its_calls_itself(tsim: ThreadedSimulator) -> None:
    assert in_thread(lambda: called_from(tsim)) == "caller"
    assert called_from(tsim) == threading.current_thread().name


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_thread_running_a_loop_hands_its_calls_to_the_portal(
    tsim: ThreadedSimulator, backend: str
) -> None:
    async def cell() -> str:
        return called_from(tsim)

    assert anyio.run(cell, backend=backend) == "ritellm-portal"


def test_a_trio_worker_thread_runs_its_calls_itself(tsim: ThreadedSimulator) -> None:
    """Its context says trio runs (sniffio), yet no loop runs there: its own loop, on which
    anyio still finds asyncio."""

    def work() -> tuple[str, str]:
        return called_from(tsim), threading.current_thread().name

    async def main() -> tuple[str, str]:
        return await trio.to_thread.run_sync(work)

    ran_on, worker = trio.run(main)
    assert ran_on == worker != "ritellm-portal"


def test_calls_with_async_callbacks_use_the_portal(tsim: ThreadedSimulator) -> None:
    """Async callbacks run as tasks after the call returned: on the portal's loop, which
    keeps running (flush_callbacks waits for them)."""
    done: list[str] = []

    async def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        done.append(threading.current_thread().name)

    def on_sync_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        done.append("sync")

    try:
        ritellm.success_callback = [on_sync_success]
        assert in_thread(lambda: called_from(tsim)) == "caller"  # sync ones: any loop
        ritellm.success_callback = [on_success]
        assert in_thread(lambda: called_from(tsim)) == "ritellm-portal"
        assert ritellm.flush_callbacks(timeout=10)
    finally:
        ritellm.success_callback = []
    assert done == ["sync", "ritellm-portal"]


def _sync_fn(*args: Any) -> None:
    pass


async def _async_fn(*args: Any) -> None:
    pass


class _SyncLogger(ritellm.CustomLogger):
    def log_failure_event(self, kwargs: Any, response_obj: Any, start: Any, end: Any) -> None:
        pass


class _AsyncLogger(ritellm.CustomLogger):
    async def async_log_pre_api_call(self, model: str, messages: Any, kwargs: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("success", "failure", "loggers", "spawns"),
    [
        ([_sync_fn], [_sync_fn], [_SyncLogger()], False),
        ([], [_async_fn], [], True),
        ([_sync_fn], [], [_SyncLogger(), _AsyncLogger()], True),
    ],
)
def test_a_sink_spawns_tasks_when_any_callback_is_async(
    success: list[Any], failure: list[Any], loggers: list[Any], spawns: bool
) -> None:
    """What sends a blocking call to the portal (async success hooks are left out: they
    start loading the price list)."""
    from ritellm._observe._callbacks import callback_sink

    sink = callback_sink(success, failure, loggers)
    assert sink is not None
    assert sink.spawns_tasks is spawns


def test_threads_that_end_close_their_connections(tsim: ThreadedSimulator) -> None:
    fds = open_fds()

    def work() -> None:
        for _ in range(2):
            assert ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
        with ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True) as s:
            assert list(s)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert tsim.stats.total_connections == 4  # one kept-alive connection per thread
    assert THREAD_LOOPS.settled(10)  # each ended thread's loop is closed ...
    until(tsim, lambda s: s.open_connections == 0)  # (the server's ends are fds here too)
    assert open_fds() <= fds  # ... with its socket, epoll instance and self-pipe


def test_a_thread_that_ends_while_its_stream_is_open(tsim: ThreadedSimulator) -> None:
    """Its loop stays open until the stream is closed: dropping it closes both."""
    fds = open_fds()
    made: list[ritellm.CompletionStream] = []
    in_thread(
        lambda: made.append(ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True))
    )
    assert THREAD_LOOPS.settled(10)
    assert next(made[0]).choices[0].delta.role == "assistant"  # read here: still open
    made.clear()  # dropped without close(): closed by its finalizer, then its loop
    assert THREAD_LOOPS.settled(10)
    until(tsim, lambda s: s.open_connections == 0)
    assert open_fds() <= fds


def test_the_thread_loop_is_not_the_threads_asyncio_loop(tsim: ThreadedSimulator) -> None:
    """asyncio.run() in the same thread afterwards, and asyncio's current-loop slot, are
    left alone."""

    def work() -> bool:
        ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)

        async def main() -> str:
            r = await ritellm.acompletion("gpt-4o", MSGS, base_url=tsim.base_url)
            return str(r.choices[0].message.content)

        assert asyncio.run(main()) == ANSWER
        ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
        policy = asyncio.get_event_loop_policy()
        return policy._local._loop is None  # type: ignore[attr-defined]

    assert in_thread(work)


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_fork_leaves_the_parents_loop_alone() -> None:
    """The child makes its own loop and never touches the parent's (they share its epoll
    instance and sockets); a stream of the parent's says so when read in the child."""
    out = run_python(
        """
        import os
        import ritellm
        from ritellm.testing import Simulator

        msgs = [{"role": "user", "content": "Hi"}]
        with Simulator.start_in_thread() as sim:
            ritellm.completion("gpt-4o", msgs, base_url=sim.base_url)
            stream = ritellm.completion("gpt-4o", msgs, base_url=sim.base_url, stream=True)
            print(os.getpid(), flush=True)
            pid = os.fork()
            if pid == 0:
                try:
                    next(stream)
                except RuntimeError as exc:
                    print(exc, flush=True)
                r = ritellm.completion("gpt-4o", msgs, base_url=sim.base_url)
                print("child:", r.choices[0].message.content, flush=True)
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
            print("parent stream:", "".join(c.choices[0].delta.content or "" for c in stream))
            r = ritellm.completion("gpt-4o", msgs, base_url=sim.base_url)
            print("parent:", r.choices[0].message.content)
            print("connections:", sim.stats.total_connections)
        """
    )
    assert out.returncode == 0, out.stderr
    parent, *lines = out.stdout.splitlines()
    said = "Hello from the ritellm simulator! You said: Hi"
    assert lines == [
        f"This stream was opened before os.fork(), in process {parent}: read it there, or "
        "call ritellm.completion(..., stream=True) again in this process.",
        f"child: {said}",
        f"parent stream: {said}",
        f"parent: {said}",
        # The parent's one connection (its stream reused it, and so did its last call,
        # after the fork) and the child's own.
        "connections: 2",
    ]
    assert out.stderr == ""


def test_interpreter_exit_closes_the_loops_cleanly() -> None:
    """The main thread's loop, and an ended thread's, are closed at exit with their idle
    sockets (and self-pipes): none is left when the last exit handler runs."""
    out = run_python(
        """
        import atexit, os

        def sockets_left():
            names = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    names.append(os.readlink(f"/proc/self/fd/{fd}"))
                except OSError:  # the listing's own fd
                    pass
            print("sockets at exit:", sum(name.startswith("socket:") for name in names))

        atexit.register(sockets_left)  # first registered: runs after ritellm's handlers

        import threading
        import ritellm
        from ritellm.testing import Simulator

        msgs = [{"role": "user", "content": "Hi"}]
        with Simulator.start_in_thread() as sim:
            ritellm.completion("gpt-4o", msgs, base_url=sim.base_url)
            t = threading.Thread(target=ritellm.completion, args=("gpt-4o", msgs),
                                 kwargs={"base_url": sim.base_url})
            t.start()
            t.join()
            print("connections:", sim.stats.total_connections)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["connections: 2", "sockets at exit: 0"]
    assert out.stderr == ""  # no unclosed loop, socket or transport, no pending task


def test_the_portal_pool_is_separate(tsim: ThreadedSimulator) -> None:
    """The portal's connections are the portal's: closing them leaves this thread's."""
    ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    _blocking.run_sync(default_client().aclose)
    ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    assert tsim.stats.total_connections == 1
