"""The blocking facade and event-loop independence: sequential asyncio.run()s, trio.run(),
threads, a thread that already runs a loop, Ctrl-C. (Where calls run: test_blocking_threads;
blocking streams in coroutines: test_blocking_async.)"""

from __future__ import annotations

import asyncio
import inspect
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import trio

import ritellm
from ritellm import _blocking
from ritellm.testing import Reply, Simulator, ThreadedSimulator

MSGS = [{"role": "user", "content": "Hello!"}]


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


def test_signatures_match() -> None:
    """Each sync function takes exactly its async twin's parameters."""
    sync, coro = inspect.signature(ritellm.completion), inspect.signature(ritellm.acompletion)
    assert sync.parameters == coro.parameters  # return types differ: sync vs async stream
    assert list(inspect.signature(ritellm.AsyncClient.acompletion).parameters)[1:] == list(
        inspect.signature(ritellm.acompletion).parameters
    )


def test_completion(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(content="blocking works"))
    r = ritellm.completion("openai/gpt-4o-mini", MSGS, base_url=tsim.base_url, max_tokens=10)
    assert r["choices"][0]["message"]["content"] == "blocking works"
    assert r.choices[0].message.content == "blocking works"


def test_completion_errors_are_the_same_classes(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(status=401))
    with pytest.raises(ritellm.AuthenticationError) as info:
        ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    assert info.value.status_code == 401
    with pytest.raises(ritellm.UnknownProviderError):
        ritellm.completion("nosuch/x", MSGS, base_url=tsim.base_url)


def test_bad_arguments_raise_in_the_callers_thread(tsim: ThreadedSimulator) -> None:
    with pytest.raises(ritellm.ParameterError) as info:
        ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, additional_params="{x")
    frames = [f.function for f in inspect.getinnerframes(info.tb)]
    # Raised before any event loop ran (this thread's own, or the portal's).
    assert not {"run_sync", "call", "_run", "run_until_complete"} & set(frames)
    assert tsim.requests == []


def test_sync_stream_iterates_and_closes(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(content="one two three"))
    with ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True) as stream:
        assert isinstance(stream, ritellm.CompletionStream)
        assert stream.status_code == 200
        texts = [c["choices"][0]["delta"].get("content") for c in stream]
    assert texts == ["", "one ", "two ", "three", None]


def test_sync_stream_break_then_reuse(tsim: ThreadedSimulator) -> None:
    for _ in range(3):
        with ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True) as stream:
            for chunk in stream:
                if chunk.choices[0].delta.content:
                    break
    r = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    assert r.choices[0].message.content


def test_sync_stream_batches_chunks(
    tsim: ThreadedSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sync streaming runs its loop once per network read, not once per chunk."""
    batches = 0
    real = ritellm.AsyncCompletionStream._next_batch

    async def counting(self: ritellm.AsyncCompletionStream) -> Any:
        nonlocal batches
        batches += 1
        return await real(self)

    monkeypatch.setattr(ritellm.AsyncCompletionStream, "_next_batch", counting)
    # canned: the whole body in one write, so all chunks arrive in one read.
    tsim.script(Reply(content="a " * 200, canned=True))
    with ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True) as stream:
        n = sum(1 for _ in stream)
    assert n > 200
    assert batches < 20


def test_sync_stream_errors(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(fault="truncate", truncate_after=3))
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    with pytest.raises(ritellm.StreamError, match="truncated"), stream:
        list(stream)


def test_many_threads_at_once(tsim: ThreadedSimulator) -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            start.wait(timeout=10)
            for j in range(5):
                msg = [{"role": "user", "content": f"t{i}-{j}"}]
                r = ritellm.completion("gpt-4o", msg, base_url=tsim.base_url)
                results[i * 10 + j] = r.choices[0].message.content
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(results) == 40
    assert all(text.endswith(f"t{k // 10}-{k % 10}") for k, text in results.items())


def test_completion_inside_a_running_event_loop(tsim: ThreadedSimulator) -> None:
    """As in Jupyter: a blocking call from a thread whose loop is running."""

    async def notebook_cell() -> str:
        r = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
        return str(r.choices[0].message.content)

    assert asyncio.run(notebook_cell()).startswith("Hello from the ritellm simulator")


def test_sequential_asyncio_runs_and_trio_run(tsim: ThreadedSimulator) -> None:
    """The seed examples call asyncio.run() several times: no 'attached to a different loop',
    no 'Event loop is closed', and each loop's idle sockets are closed when it ends."""

    async def ask() -> str:
        r = await ritellm.acompletion("gpt-4o", MSGS, base_url=tsim.base_url)
        return str(r.choices[0].message.content)

    for _ in range(3):
        assert asyncio.run(ask())
    assert trio.run(ask)
    assert anyio.run(ask, backend="trio")
    # Every loop above has ended: its pool's keep-alive connection was closed with it
    # (the portal thread's pool is separate and may still hold one).
    for _ in range(200):
        if tsim.stats.open_connections <= 1:
            break
        threading.Event().wait(0.01)
    assert tsim.stats.open_connections <= 1


def test_one_client_in_several_threads_loops(tsim: ThreadedSimulator) -> None:
    client = ritellm.AsyncClient(base_url=tsim.base_url)
    out: list[str] = []

    async def use() -> None:
        async with client:
            r = await client.acompletion("gpt-4o", MSGS)
            out.append(r.choices[0].message.content)

    threads = [threading.Thread(target=asyncio.run, args=(use(),)) for _ in range(3)]
    threads.append(threading.Thread(target=trio.run, args=(use,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(out) == 4


def test_blocking_call_from_the_portal_thread_is_refused(tsim: ThreadedSimulator) -> None:
    async def inside() -> None:
        ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)

    with pytest.raises(RuntimeError, match="own event-loop thread"):
        _blocking.run_sync(inside)


_CTRL_C_CHILD = r"""
import sys, threading, time
import ritellm
from ritellm.testing import Reply, Simulator

with Simulator.start_in_thread() as sim:
    if sys.argv[1] == "call":
        sim.script(Reply(latency=60))
    else:  # a stream whose third event never comes
        sim.script(Reply(content="one two", fault="stall", stall_after=2))
    def announce():  # tell the parent once the request is being answered (an event)
        sim._portal.call(sim.simulator.wait_until, lambda s: s.in_flight == 1)
        print("in flight", flush=True)
    threading.Thread(target=announce, daemon=True).start()
    msgs = [{"role": "user", "content": "Hello!"}]
    try:
        if sys.argv[1] == "call":
            ritellm.completion("openai/gpt-4o", msgs, base_url=sim.base_url, timeout=120)
        else:
            with ritellm.completion("openai/gpt-4o", msgs, base_url=sim.base_url,
                                    stream=True, timeout=120) as stream:
                for chunk in stream:
                    pass
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    sim._portal.call(sim.simulator.wait_until, lambda s: s.in_flight == 0)
    r = ritellm.completion("openai/gpt-4o", msgs, base_url=sim.base_url)
    print("next:", r.choices[0].message.content, flush=True)
"""


@pytest.mark.parametrize("what", ["call", "stream"])
def test_ctrl_c_interrupts_a_blocking_call_and_the_next_call_works(what: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_CHILD, what], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "in flight\n"
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.stdout.readline() == "interrupted\n"
            assert time.monotonic() - sent < 2  # promptly, not after the 60 s answer
            # Cancelled on the main thread's own loop: the server saw the client leave
            # (in_flight back to 0), and the next call on that loop works.
            assert proc.stdout.readline().startswith("next: Hello from the ritellm simulator")
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
