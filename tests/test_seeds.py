"""The examples the docs were adapted from (RiteLLM's async guide and LiteLLM's streaming/async
page), run as close to verbatim as possible against the simulator.

Each test calls ``asyncio.run(main())`` the way the seeds do, from a plain ``def`` test, with
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` pointing at a simulator running in a thread. The
behavioural changes from the seeds are the ones docs/async.md explains: ``for`` over an async
stream becomes ``async for``, and a streamed delta is read with ``.get("content")`` because
the finish chunk's delta is ``{}``. LiteLLM's async-streaming example runs as written (the
blocking ``completion(..., stream=True)`` inside a coroutine, read with ``async for``, on
asyncio and on trio), and its ``delta["content"]`` is shown to fail on that finish chunk.
Beyond that: type hints, a ``return`` where a snippet's result is asserted on, and
``except Exception`` for the guide's bare ``except:``.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest
import trio

import ritellm
from ritellm import acompletion, completion
from ritellm.testing import Reply, Simulator, ThreadedSimulator

KEY = "sk-seed-test-key"
GREETING = "Hello from the ritellm simulator! You said: "


@pytest.fixture
def seed_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedSimulator]:
    """A simulator that requires KEY, found by ritellm through the environment only."""
    with Simulator.start_in_thread(api_key=KEY) as simulator:
        monkeypatch.setenv("OPENAI_BASE_URL", simulator.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        yield simulator


def said(text: str) -> str:
    """The simulator's default answer to a last user message ``text``."""
    return GREETING + text


# --------------------------------------------------------------------------------------------
# RiteLLM's async guide


def test_basic_async_usage(seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> None:
        messages = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ]

        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages)

        print(response["choices"][0]["message"]["content"])

    asyncio.run(main())

    assert capsys.readouterr().out == said("Hello!") + "\n"
    request = seed_sim.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"  # from OPENAI_API_KEY
    assert request.json["model"] == "gpt-3.5-turbo"  # the "openai/" prefix is not sent


def test_async_streaming_with_async_for(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main() -> None:
        messages = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write a short poem about Python."},
        ]

        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages, stream=True)

        # Stream the response as it arrives (the seed's `for`, as `async for`)
        async for chunk in response:
            if "choices" in chunk and len(chunk["choices"]) > 0:
                delta = chunk["choices"][0].get("delta", {})
                content = delta.get("content", "")
                if content:
                    print(content, end="", flush=True)

        print()  # New line after streaming completes

    asyncio.run(main())

    assert capsys.readouterr().out == said("Write a short poem about Python.") + "\n"
    assert seed_sim.requests[0].json["stream"] is True


def test_seed_plain_for_over_an_async_stream_raises_type_error(seed_sim: ThreadedSimulator) -> None:
    """The seed's unadapted form: a plain `for` over the awaited async stream."""

    async def main() -> None:
        messages = [{"role": "user", "content": "Write a short poem about Python."}]
        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages, stream=True)
        chunk: object
        async with response:  # closes the stream when the TypeError leaves the block
            for chunk in response:  # the seed's loop
                print(chunk)

    with pytest.raises(TypeError, match="async for"):
        asyncio.run(main())


def test_concurrent_requests_with_gather(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def ask_question(question: str) -> str:
        """Ask a single question and return the response."""
        messages = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": question},
        ]

        response = await acompletion(
            model="openai/gpt-3.5-turbo", messages=messages, max_tokens=100
        )

        content: str = response["choices"][0]["message"]["content"]
        return content

    async def main() -> None:
        # Define multiple questions
        questions = ["What is Python?", "What is Rust?", "What is async programming?"]

        # Run all questions concurrently
        tasks = [ask_question(q) for q in questions]
        answers = await asyncio.gather(*tasks)

        # Print all answers
        for question, answer in zip(questions, answers, strict=True):
            print(f"Q: {question}")
            print(f"A: {answer}\n")

    asyncio.run(main())

    out = capsys.readouterr().out
    for question in ("What is Python?", "What is Rust?", "What is async programming?"):
        assert f"Q: {question}\nA: {said(question)}\n\n" in out
    assert [r.json["max_tokens"] for r in seed_sim.requests] == [100, 100, 100]


def test_complete_chat_application(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def chat_streaming(
        messages: list[dict[str, str]], model: str = "openai/gpt-3.5-turbo"
    ) -> str:
        """Send a chat message and stream the response."""
        response = await acompletion(
            model=model, messages=messages, stream=True, temperature=0.7, max_tokens=500
        )

        print("Assistant: ", end="", flush=True)
        full_response = ""

        async for chunk in response:  # the seed's `for`, as `async for`
            if "choices" not in chunk or len(chunk["choices"]) == 0:
                continue

            choice = chunk["choices"][0]
            delta = choice.get("delta", {})
            content = delta.get("content", "")

            if content:
                print(content, end="", flush=True)
                full_response += content

            if choice.get("finish_reason") == "stop":
                break

        print("\n")
        return full_response

    async def main() -> None:
        """Simple chat loop with async streaming."""
        messages = [{"role": "system", "content": "You are a helpful assistant."}]

        # Simulate a conversation
        user_messages = [
            "Hello! What can you help me with?",
            "Tell me about async programming in Python.",
            "Thanks!",
        ]

        for user_msg in user_messages:
            print(f"User: {user_msg}\n")
            messages.append({"role": "user", "content": user_msg})

            # Get streaming response
            assistant_msg = await chat_streaming(messages)
            messages.append({"role": "assistant", "content": assistant_msg})

    asyncio.run(main())

    out = capsys.readouterr().out
    assert out == "".join(
        f"User: {msg}\n\nAssistant: {said(msg)}\n\n"
        for msg in (
            "Hello! What can you help me with?",
            "Tell me about async programming in Python.",
            "Thanks!",
        )
    )
    # The history grows by the streamed answers: 2, 4, then 6 messages.
    assert [len(r.json["messages"]) for r in seed_sim.requests] == [2, 4, 6]
    assert seed_sim.requests[2].json["messages"][2]["content"] == said(
        "Hello! What can you help me with?"
    )
    assert all(r.json["temperature"] == 0.7 for r in seed_sim.requests)


# --------------------------------------------------------------------------------------------
# RiteLLM's best practices


def test_best_practice_gather_vs_sequential(seed_sim: ThreadedSimulator) -> None:
    messages1 = [{"role": "user", "content": "one"}]
    messages2 = [{"role": "user", "content": "two"}]
    messages3 = [{"role": "user", "content": "three"}]

    async def main() -> list[Any]:
        # Good: Concurrent requests
        results = await asyncio.gather(
            acompletion(model="openai/gpt-3.5-turbo", messages=messages1),
            acompletion(model="openai/gpt-3.5-turbo", messages=messages2),
            acompletion(model="openai/gpt-3.5-turbo", messages=messages3),
        )

        # Bad: Sequential requests (slower)
        result1 = await acompletion(model="openai/gpt-3.5-turbo", messages=messages1)
        result2 = await acompletion(model="openai/gpt-3.5-turbo", messages=messages2)
        result3 = await acompletion(model="openai/gpt-3.5-turbo", messages=messages3)
        return [*results, result1, result2, result3]

    contents = [r.choices[0].message.content for r in asyncio.run(main())]
    assert contents == [said(w) for w in ("one", "two", "three")] * 2


def test_best_practice_safe_completion_as_in_the_seed(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def safe_completion(messages: list[dict[str, str]]) -> Any:
        try:
            response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages)
            return response
        except Exception as e:
            print(f"Error during completion: {e}")
            return None

    messages = [{"role": "user", "content": "Hi"}]
    assert asyncio.run(safe_completion(messages)) is not None

    seed_sim.script(Reply(status=401))  # not retried: the seed's handler sees it at once
    assert asyncio.run(safe_completion(messages)) is None
    out = capsys.readouterr().out
    assert out.startswith("Error during completion: openai/gpt-3.5-turbo: HTTP 401: ")
    assert KEY not in out


def test_best_practice_safe_completion_with_typed_errors(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/async.md's version: ritellm's typed errors instead of `except Exception`."""

    async def safe_completion(messages: list[dict[str, str]]) -> Any:
        try:
            return await acompletion(model="openai/gpt-3.5-turbo", messages=messages)
        except ritellm.ContextWindowExceededError:
            print("prompt too long: trim the history")
        except ritellm.RateLimitError as e:
            print(f"rate limited after retries; server asked for {e.retry_after}s")
        except ritellm.APIError as e:
            print(f"{type(e).__name__} (HTTP {e.status_code}, request {e.request_id}): {e}")
        return None

    messages = [{"role": "user", "content": "Hi"}]
    seed_sim.script(
        Reply(status=400, error_message="This model's maximum context length is 16385 tokens."),
        Reply(status=429, headers={"retry-after": "300"}),  # > 120 s: raised without retrying
        Reply(status=404),
    )
    assert asyncio.run(safe_completion(messages)) is None
    assert asyncio.run(safe_completion(messages)) is None
    assert asyncio.run(safe_completion(messages)) is None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prompt too long: trim the history"
    assert lines[1] == "rate limited after retries; server asked for 300.0s"
    assert lines[2].startswith("NotFoundError (HTTP 404, request req_sim")
    assert len(seed_sim.requests) == 3  # none of them was retried


def test_best_practice_streaming_vs_non_streaming(seed_sim: ThreadedSimulator) -> None:
    messages = [{"role": "user", "content": "Tell me a long story"}]

    async def main() -> tuple[str, str]:
        # Good for long responses: User sees content as it arrives
        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages, stream=True)
        assert isinstance(response, ritellm.AsyncCompletionStream)
        streamed = ""
        async with response:
            async for chunk in response:
                if chunk.choices:
                    streamed += chunk.choices[0].delta.content or ""

        # Less ideal for long responses: User waits for entire response
        response2 = await acompletion(model="openai/gpt-3.5-turbo", messages=messages, stream=False)
        assert isinstance(response2, ritellm.ModelResponse)
        whole: str = response2.choices[0].message.content
        return streamed, whole

    streamed, whole = asyncio.run(main())
    assert streamed == whole == said("Tell me a long story")


def test_best_practice_semaphore(seed_sim: ThreadedSimulator) -> None:
    seed_sim.default = Reply(latency=0.05)  # long enough for requests to overlap
    message_list = [[{"role": "user", "content": f"Question {i}"}] for i in range(12)]

    async def main() -> list[Any]:
        # Limit to 5 concurrent requests
        semaphore = asyncio.Semaphore(5)

        async def limited_completion(messages: list[dict[str, str]]) -> Any:
            async with semaphore:
                return await acompletion(model="openai/gpt-3.5-turbo", messages=messages)

        # Create many tasks but only 5 run at once
        tasks = [limited_completion(msg) for msg in message_list]
        results = await asyncio.gather(*tasks)
        return results

    results = asyncio.run(main())
    assert [r.choices[0].message.content for r in results] == [
        said(f"Question {i}") for i in range(12)
    ]
    assert 1 < seed_sim.stats.max_in_flight <= 5


# --------------------------------------------------------------------------------------------
# RiteLLM's sync vs async comparison


def test_sync_loop_of_ten(seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    # Sequential execution - slow for multiple requests
    for i in range(10):
        response = completion(
            model="openai/gpt-3.5-turbo", messages=[{"role": "user", "content": f"Question {i}"}]
        )
        print(response["choices"][0]["message"]["content"])

    assert capsys.readouterr().out.splitlines() == [said(f"Question {i}") for i in range(10)]
    assert seed_sim.stats.total_connections == 1  # one kept-alive connection for all ten


def test_async_ten_concurrent(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main() -> None:
        # Concurrent execution - fast!
        tasks = [
            acompletion(
                model="openai/gpt-3.5-turbo",
                messages=[{"role": "user", "content": f"Question {i}"}],
            )
            for i in range(10)
        ]

        results = await asyncio.gather(*tasks)
        for result in results:
            print(result["choices"][0]["message"]["content"])

    asyncio.run(main())

    assert capsys.readouterr().out.splitlines() == [said(f"Question {i}") for i in range(10)]


# --------------------------------------------------------------------------------------------
# LiteLLM's streaming + async page


def test_litellm_sync_streaming(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = [{"content": "Hello, how are you?", "role": "user"}]

    response = completion(model="gpt-3.5-turbo", messages=messages, stream=True)
    for chunk in response:
        print(chunk["choices"][0]["delta"])

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "AttrDict({'role': 'assistant', 'content': '', 'refusal': None})"
    assert lines[1] == "AttrDict({'content': 'Hello '})"
    assert lines[-1] == "AttrDict({})"  # the finish chunk: an empty delta, as OpenAI sends
    assert len(lines) == 2 + len(said("Hello, how are you?").split())


def test_litellm_get_response(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def test_get_response() -> ritellm.ModelResponse:
        user_message = "Hello, how are you?"
        messages = [{"content": user_message, "role": "user"}]
        response = await acompletion(model="gpt-3.5-turbo", messages=messages)
        return response

    response = asyncio.run(test_get_response())
    print(response)

    assert response.choices[0].message.content == said("Hello, how are you?")
    assert capsys.readouterr().out.startswith("ModelResponse({'id': 'chatcmpl-sim")


# LiteLLM's "Async Streaming" example as written: the blocking `completion(..., stream=True)`
# called inside a coroutine, its stream read with `async for`. Module-level names as in the
# seed; only type hints added, and a noqa for the bare `except:`.


def logger_fn(model_call_object: dict[str, Any]) -> None:
    print(f"LOGGER FUNCTION: {model_call_object}")


user_message = "Hello, how are you?"
messages = [{"content": user_message, "role": "user"}]


# fmt: off
# # test on ai21 completion call
async def ai21_async_completion_call() -> None:
    try:
        response = completion(
            model="j2-ultra", messages=messages, stream=True, logger_fn=logger_fn
        )
        print(f"response: {response}")
        complete_response = ""
        start_time = time.time()
        # Change for loop to async for loop
        async for chunk in response:
            chunk_time = time.time()
            print(f"time since initial request: {chunk_time - start_time:.5f}")
            print(chunk["choices"][0]["delta"])
            complete_response += chunk["choices"][0]["delta"]["content"]
        if complete_response == "":
            raise Exception("Empty response received")
    except:  # noqa: E722
        print(f"error occurred: {traceback.format_exc()}")
        pass
# fmt: on


async def ai21_async_completion_call_with_get() -> str:
    """The same, reading the delta with `.get("content") or ""` (docs/async.md's advice),
    returning the answer."""
    response = completion(model="j2-ultra", messages=messages, stream=True, logger_fn=logger_fn)
    print(f"response: {response}")
    complete_response = ""
    async for chunk in response:
        complete_response += chunk["choices"][0]["delta"].get("content") or ""
    if complete_response == "":
        raise Exception("Empty response received")
    return complete_response


RUNNERS: dict[str, Callable[[Callable[[], Awaitable[Any]]], Any]] = {
    "asyncio": lambda main: asyncio.run(main()),  # type: ignore[arg-type]
    "trio": trio.run,
}


@pytest.mark.parametrize("loop", list(RUNNERS))
def test_litellm_async_streaming_as_written(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str], loop: str
) -> None:
    """Runs as written; the seed's own `delta["content"]` then fails on the finish chunk,
    whose delta is `{}` (a KeyError its bare `except:` prints)."""
    RUNNERS[loop](ai21_async_completion_call)

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("LOGGER FUNCTION: {'event': 'pre_api_call', 'provider': 'openai'")
    assert "'Authorization': 'Bearer ***'" in lines[0]  # the key is redacted ...
    assert KEY not in out  # ... everywhere
    assert lines[1] == "response: <CompletionStream openai/j2-ultra open>"
    assert lines[2].startswith("time since initial request: ")
    deltas = [line for line in lines if line.startswith("AttrDict(")]
    assert deltas[0] == "AttrDict({'role': 'assistant', 'content': '', 'refusal': None})"
    assert deltas[1] == "AttrDict({'content': 'Hello '})"
    assert deltas[-1] == "AttrDict({})"  # every chunk was read, up to the finish chunk
    assert len(deltas) == 2 + len(said(user_message).split())
    assert "error occurred: Traceback" in out
    assert out.rstrip().endswith("KeyError: 'content'")
    assert "Empty response received" not in out
    assert seed_sim.requests[0].json["model"] == "j2-ultra"  # a bare name: OpenAI's format
    assert seed_sim.requests[0].json["stream"] is True


@pytest.mark.parametrize("loop", list(RUNNERS))
def test_litellm_async_streaming_reading_the_delta_with_get(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str], loop: str
) -> None:
    answer = RUNNERS[loop](ai21_async_completion_call_with_get)

    assert answer == said(user_message)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("LOGGER FUNCTION: ")
    assert lines[1:] == ["response: <CompletionStream openai/j2-ultra open>"]


# --------------------------------------------------------------------------------------------
# The same code under trio, and event loops one after another


def test_basic_and_streaming_examples_under_trio(
    seed_sim: ThreadedSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main() -> None:
        messages = [{"role": "user", "content": "Hello!"}]
        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages)
        print(response["choices"][0]["message"]["content"])

    async def stream_main() -> None:
        messages = [{"role": "user", "content": "Write a short poem about Python."}]
        response = await acompletion(model="openai/gpt-3.5-turbo", messages=messages, stream=True)
        async for chunk in response:
            if "choices" in chunk and len(chunk["choices"]) > 0:
                content = chunk["choices"][0].get("delta", {}).get("content", "")
                if content:
                    print(content, end="", flush=True)
        print()

    trio.run(main)
    trio.run(stream_main)

    assert capsys.readouterr().out == (
        said("Hello!") + "\n" + said("Write a short poem about Python.") + "\n"
    )


def test_concurrent_requests_with_a_trio_nursery(seed_sim: ThreadedSimulator) -> None:
    questions = ["What is Python?", "What is Rust?", "What is async programming?"]

    async def main() -> list[str]:
        answers = [""] * len(questions)

        async def ask(i: int) -> None:
            response = await acompletion(
                model="openai/gpt-3.5-turbo",
                messages=[{"role": "user", "content": questions[i]}],
            )
            answers[i] = response.choices[0].message.content

        async with trio.open_nursery() as nursery:
            for i in range(len(questions)):
                nursery.start_soon(ask, i)
        return answers

    assert trio.run(main) == [said(q) for q in questions]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_concurrent_requests_with_an_anyio_task_group(
    seed_sim: ThreadedSimulator, backend: str
) -> None:
    questions = ["What is Python?", "What is Rust?"]

    async def main() -> list[str]:
        answers = [""] * len(questions)

        async def ask(i: int) -> None:
            response = await acompletion(
                model="openai/gpt-3.5-turbo",
                messages=[{"role": "user", "content": questions[i]}],
            )
            answers[i] = response.choices[0].message.content

        async with anyio.create_task_group() as tg:
            for i in range(len(questions)):
                tg.start_soon(ask, i)
        return answers

    assert anyio.run(main, backend=backend) == [said(q) for q in questions]


def test_event_loops_one_after_another(seed_sim: ThreadedSimulator) -> None:
    """Pools belong to event loops: asyncio.run, trio.run, asyncio.run in one script."""

    async def main() -> str:
        response = await acompletion(
            model="openai/gpt-3.5-turbo", messages=[{"role": "user", "content": "again"}]
        )
        content: str = response.choices[0].message.content
        return content

    assert asyncio.run(main()) == trio.run(main) == asyncio.run(main()) == said("again")
