"""The blocking facade's stream in coroutines: ``async for`` over ``completion(...,
stream=True)`` waits without blocking the event loop (asyncio and trio), cancelling it closes
the connection, ``for`` and ``async for`` take turns, and a stream made in blocking code can
be read in a coroutine later."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import anyio
import anyio.to_thread
import pytest

import ritellm
from ritellm import _blocking
from ritellm._client import default_client
from ritellm._loops import THREAD_LOOPS
from ritellm.testing import Reply, Simulator, SimulatorStats, ThreadedSimulator

from .conftest import open_fds

MSGS = [{"role": "user", "content": "Hello!"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello!"


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    # In a thread: completion() blocks the caller's loop until the response headers arrive,
    # so a simulator on that loop could never answer.
    with Simulator.start_in_thread() as simulator:
        yield simulator


def until(tsim: ThreadedSimulator, predicate: Callable[[SimulatorStats], bool]) -> None:
    """Block until the server's counters satisfy ``predicate`` (at most 10 s)."""

    async def wait() -> None:
        with anyio.fail_after(10):
            await tsim.simulator.wait_until(predicate)

    tsim._portal.call(wait)


async def _pool_state() -> tuple[int, int]:
    transport = default_client().transport()
    return transport.active_connections, transport.max_connections - transport.free_slots


def portal_pool() -> tuple[int, int]:
    """(responses open, slots held) in the portal loop's pool."""
    return _blocking.run_sync(_pool_state)


def text(chunks: list[ritellm.ModelResponseStream]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.anyio
async def test_async_for_over_a_blocking_stream(tsim: ThreadedSimulator) -> None:
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    assert isinstance(stream, ritellm.CompletionStream)
    with anyio.fail_after(10):
        async with stream:
            chunks = [chunk async for chunk in stream]
    assert text(chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert repr(stream) == "<CompletionStream openai/gpt-4o closed>"
    assert portal_pool() == (0, 0)


@pytest.mark.anyio
async def test_async_for_waits_without_blocking_the_loop_and_cancelling_frees_the_connection(
    tsim: ThreadedSimulator,
) -> None:
    _blocking.run_sync(default_client().aclose)  # the portal's idle sockets: not counted
    fds = open_fds()
    # The role chunk and one word, then silence: the reader waits for a chunk that never
    # comes while this loop serves other work.
    tsim.script(Reply(content="one two three", fault="stall", stall_after=2))
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    got: list[ritellm.ModelResponseStream] = []
    waiting = anyio.Event()

    async def read() -> None:
        async for chunk in stream:
            got.append(chunk)
            if len(got) == 2:
                waiting.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg, ritellm.AsyncClient() as client:
            tg.start_soon(read)
            await waiting.wait()
            # A whole request on this loop while the reader awaits its next chunk.
            r = await client.acompletion("gpt-4o", MSGS, base_url=tsim.base_url)
            assert r.choices[0].message.content == ANSWER
            assert len(got) == 2
            tg.cancel_scope.cancel()
    assert repr(stream) == "<CompletionStream openai/gpt-4o closed>"
    await anyio.to_thread.run_sync(until, tsim, lambda s: s.in_flight == 0)  # it hung up
    assert portal_pool() == (0, 0)
    _blocking.run_sync(default_client().aclose)
    await anyio.to_thread.run_sync(until, tsim, lambda s: s.open_connections == 0)
    assert open_fds() <= fds
    # Nothing is left to read, and closing again is a no-op.
    assert [c async for c in stream] == []
    await stream.aclose()


@pytest.mark.anyio
async def test_cancelled_while_its_batch_is_running_on_the_portal(
    tsim: ThreadedSimulator,
) -> None:
    tsim.script(Reply(fault="stall", stall_after=1))  # the role chunk only
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    with anyio.move_on_after(0.2) as scope:  # the bound is the test: nothing else ends it
        async for _ in stream:
            pass
    assert scope.cancelled_caught
    await anyio.to_thread.run_sync(until, tsim, lambda s: s.in_flight == 0)
    assert portal_pool() == (0, 0)


@pytest.mark.anyio
async def test_for_and_async_for_take_turns_in_order(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(content="a b c d e f g h", delay=0.001))  # events in separate writes
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    got = [next(stream), next(stream)]
    with anyio.fail_after(10):
        async for chunk in stream:
            got.append(chunk)
            if len(got) == 5:
                break
        got.append(next(stream))
        got.extend([chunk async for chunk in stream])
    assert text(got) == "a b c d e f g h"
    assert [c.choices[0].delta.get("role") for c in got[:2]] == ["assistant", None]
    assert portal_pool() == (0, 0)


@pytest.mark.anyio
async def test_async_with_closes_a_stream_left_early(tsim: ThreadedSimulator) -> None:
    with anyio.fail_after(10):
        async with ritellm.completion(
            "gpt-4o", MSGS, base_url=tsim.base_url, stream=True
        ) as stream:
            async for chunk in stream:
                if chunk.choices[0].delta.content:
                    break
        assert portal_pool() == (0, 0)
        r = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    assert r.choices[0].message.content == ANSWER


@pytest.mark.anyio
async def test_an_error_mid_stream_is_raised_by_async_for(tsim: ThreadedSimulator) -> None:
    tsim.script(Reply(fault="truncate", truncate_after=3))
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
    with anyio.fail_after(10), pytest.raises(ritellm.StreamError, match="truncated"):
        async for _ in stream:
            pass
    assert repr(stream).endswith(" closed>")
    assert portal_pool() == (0, 0)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_stream_made_in_blocking_code_is_read_in_a_coroutine(
    tsim: ThreadedSimulator, backend: str
) -> None:
    """Its connection belongs to this thread's own loop, which a helper thread drives
    while the coroutine's loop runs here."""
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)

    async def read() -> list[ritellm.ModelResponseStream]:
        with anyio.fail_after(10):
            async with stream:
                return [chunk async for chunk in stream]

    assert text(anyio.run(read, backend=backend)) == ANSWER
    home = THREAD_LOOPS.get()
    assert home.call(_pool_state) == (0, 0)
    # This thread's loop is still its own: the next blocking call runs on it.
    r = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url)
    assert r.choices[0].message.content == ANSWER
    assert tsim.stats.total_connections == 1  # the stream's connection, reused


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_stream_made_in_blocking_code_read_with_for_inside_a_coroutine(
    tsim: ThreadedSimulator, backend: str
) -> None:
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)

    async def read() -> str:
        with stream:
            return text(list(stream))  # blocks this loop, as blocking code in a coroutine does

    assert anyio.run(read, backend=backend) == ANSWER


def test_cancelling_async_for_over_a_thread_loop_stream_closes_it(
    tsim: ThreadedSimulator,
) -> None:
    tsim.script(Reply(fault="stall", stall_after=1))
    stream = ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)

    async def read() -> bool:
        with anyio.move_on_after(0.2) as scope:
            async for _ in stream:
                pass
        return scope.cancelled_caught

    assert anyio.run(read, backend="trio")
    until(tsim, lambda s: s.in_flight == 0)
    assert THREAD_LOOPS.get().call(_pool_state) == (0, 0)


def test_a_stream_read_by_another_thread(tsim: ThreadedSimulator) -> None:
    """Made in a thread that then ends: its loop stays open until the stream is closed."""
    made: list[ritellm.CompletionStream] = []
    thread = threading.Thread(
        target=lambda: made.append(
            ritellm.completion("gpt-4o", MSGS, base_url=tsim.base_url, stream=True)
        )
    )
    thread.start()
    thread.join(10)
    (stream,) = made
    assert THREAD_LOOPS.settled(10)
    with stream:
        assert text(list(stream)) == ANSWER
    assert THREAD_LOOPS.settled(10)  # then the ended thread's loop is closed
    until(tsim, lambda s: s.open_connections == 0)
