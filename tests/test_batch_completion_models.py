"""LiteLLM's many-models batch functions over the real transport: batch_completion_models
(first success wins, the rest cancelled), batch_completion_models_all_responses (every
answer in model order), their async twins on both loops and the blocking ones from plain
threads. (tests/test_batch_completion.py has batch_completion.)"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator, ThreadedSimulator

pytestmark = pytest.mark.timeout(60)

NO_KEY = "openai: No API key for provider 'openai': pass api_key=... or set OPENAI_API_KEY"


def sim_header(**reply: Any) -> dict[str, str]:
    """Per-request simulator behaviour, chosen by header."""
    return {"x-ritellm-sim": json.dumps(reply)}


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


def test_signatures_match_their_async_twins() -> None:
    for name in (
        "batch_completion",
        "batch_completion_models",
        "batch_completion_models_all_responses",
    ):
        sync = inspect.signature(getattr(ritellm, name))
        coro = inspect.signature(getattr(ritellm, "a" + name))
        assert sync.parameters == coro.parameters, name
        assert inspect.iscoroutinefunction(getattr(ritellm, "a" + name))


# -- batch_completion_models ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_models_first_success_wins_and_the_rest_are_cancelled(
    sim: Simulator, client: ritellm.AsyncClient
) -> None:
    deployments: list[dict[str, Any]] = [
        {"model": "openai/slow", "headers": sim_header(latency=30)},
        {"model": "openai/broken", "headers": sim_header(status=500), "num_retries": 0},
        {"model": "openai/fast", "headers": sim_header(latency=0.05)},
    ]
    with anyio.fail_after(5):
        r = await ritellm.abatch_completion_models(
            deployments=deployments,
            model_list=deployments,  # LiteLLM requires it beside deployments; ignored
            messages=[{"role": "user", "content": "race"}],
            client=client,
            max_tokens=5,
        )
    assert r.model == "fast"
    with anyio.fail_after(5):
        await sim.wait_until(lambda s: s.in_flight == 0)  # the slow one was cancelled
    assert {req.json["model"] for req in sim.requests} == {"slow", "broken", "fast"}
    assert all(req.json["max_tokens"] == 5 for req in sim.requests)


@pytest.mark.anyio
async def test_models_every_one_sent(sim: Simulator, client: ritellm.AsyncClient) -> None:
    with anyio.fail_after(5):
        r = await ritellm.abatch_completion_models(
            models=["openai/a", "openai/b"],
            model="ignored/as-in-litellm",
            messages=[{"role": "user", "content": "hi"}],
            client=client,
        )
    assert r.model in ("a", "b")


@pytest.mark.anyio
async def test_models_all_failing(sim: Simulator, client: ritellm.AsyncClient) -> None:
    sim.script(Reply(status=401), Reply(status=401))
    with anyio.fail_after(5), pytest.raises(ritellm.AuthenticationError) as info:
        await ritellm.abatch_completion_models(
            models=["openai/a", "openai/b"],
            messages=[{"role": "user", "content": "hi"}],
            client=client,
        )
    group = info.value.__cause__
    assert isinstance(group, ExceptionGroup) and len(group.exceptions) == 2


@pytest.mark.anyio
async def test_models_mocked(client: ritellm.AsyncClient) -> None:
    r = await ritellm.abatch_completion_models(
        models=["openai/a", "anthropic/b"],
        messages=[{"role": "user", "content": "hi"}],
        mock_response="mocked",
        client=client,
    )
    assert r.choices[0].message.content == "mocked"


@pytest.mark.parametrize(
    ("kwargs", "cls", "message"),
    [
        (
            {},
            ritellm.ParameterError,
            "batch_completion_models needs models=[...] (a list of model strings)",
        ),
        (
            {"models": []},
            ritellm.ParameterError,
            "batch_completion_models needs at least one model",
        ),
        (
            {"models": ["openai/a"], "deployments": [{"model": "openai/b"}]},
            ritellm.ParameterError,
            "batch_completion_models takes models=[...] or deployments=[...], not both",
        ),
        (
            {"models": ["openai/a"], "stream": True},
            ritellm.ParameterError,
            "batch_completion_models does not take stream=True (a race returns one answer)",
        ),
        (
            {"models": [1]},
            ritellm.ParameterTypeError,
            "batch_completion_models: models must be a list of model strings",
        ),
        (
            {"deployments": [{"api_key": "k"}]},
            ritellm.ParameterTypeError,
            "batch_completion_models: deployments[0] must be a dict of acompletion arguments "
            "with a 'model'",
        ),
        (
            {"models": ["openai/a", "nosuch/b"]},
            ritellm.UnknownProviderError,
            "Unknown provider prefix 'nosuch' in model 'nosuch/b'. ",
        ),
    ],
)
def test_models_bad_input(
    tsim: ThreadedSimulator, kwargs: dict[str, Any], cls: type[Exception], message: str
) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(cls) as info:
        ritellm.batch_completion_models(messages=msgs, base_url=tsim.base_url, **kwargs)
    assert type(info.value) is cls
    assert str(info.value).startswith(message)
    if cls is ritellm.UnknownProviderError:  # the one model's own error, the model named
        assert info.value.__notes__ == ["batch_completion_models: for model 'nosuch/b'"]
    assert tsim.stats.requests == 0


@pytest.mark.anyio
async def test_models_one_models_missing_key_keeps_its_attributes() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    for function in (
        ritellm.abatch_completion_models,
        ritellm.abatch_completion_models_all_responses,
    ):
        with pytest.raises(ritellm.AuthenticationError) as info:
            await function(models=["openai/a", "anthropic/b"], messages=msgs, api_key=None)
        name = function.__name__[1:]
        assert str(info.value) == NO_KEY
        assert info.value.provider == "openai"
        assert info.value.__notes__ == [f"{name}: for model 'openai/a'"]


def test_blocking_models_from_a_thread(tsim: ThreadedSimulator) -> None:
    out: list[Any] = []
    thread = threading.Thread(
        target=lambda: out.append(
            ritellm.batch_completion_models(
                models=["openai/a", "openai/b"],
                messages=[{"role": "user", "content": "hi"}],
                base_url=tsim.base_url,
            )
        )
    )
    thread.start()
    thread.join(timeout=20)
    assert out[0].model in ("a", "b")


# -- batch_completion_models_all_responses -----------------------------------------------------


@pytest.mark.anyio
async def test_all_responses_in_model_order(sim: Simulator, client: ritellm.AsyncClient) -> None:
    models = ["openai/m0", "openai/m1", "openai/m2"]
    sim.script(*[Reply(latency=1.0)] * 3)  # held long enough to overlap on a loaded machine
    with anyio.fail_after(10):
        results = await ritellm.abatch_completion_models_all_responses(
            models=models, messages=[{"role": "user", "content": "hi"}], client=client
        )
    assert [r.model for r in results] == ["m0", "m1", "m2"]
    assert sim.stats.max_in_flight == 3  # every model at once


@pytest.mark.anyio
async def test_all_responses_leave_failures_out(
    sim: Simulator, client: ritellm.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    models = ["openai/m0", "openai/m1"]
    msgs = [{"role": "user", "content": "hi"}]
    sim.script(Reply(status=400, error_message="no"))
    with anyio.fail_after(5), caplog.at_level(logging.WARNING, logger="ritellm"):
        results = await ritellm.abatch_completion_models_all_responses(
            models=models, messages=msgs, client=client
        )
    assert len(results) == 1 and isinstance(results[0], ritellm.ModelResponse)
    [record] = [r for r in caplog.records if "left out" in r.getMessage()]
    assert "batch_completion_models_all_responses: openai/m" in record.getMessage()
    # return_exceptions=True keeps the list aligned with the models.
    sim.script(Reply(status=400, error_message="no"))
    with anyio.fail_after(5):
        aligned = await ritellm.abatch_completion_models_all_responses(
            models=models, messages=msgs, client=client, return_exceptions=True
        )
    kinds = [type(r) for r in aligned]
    assert sorted(k.__name__ for k in kinds) == ["BadRequestError", "ModelResponse"]
    for model, r in zip(models, aligned, strict=True):
        if isinstance(r, ritellm.ModelResponse):
            assert r.model == model.split("/")[1]


@pytest.mark.anyio
async def test_all_responses_shorthands(client: ritellm.AsyncClient) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    one = await ritellm.abatch_completion_models_all_responses(
        models="openai/solo", messages=msgs, client=client
    )
    assert [r.model for r in one] == ["solo"]
    assert await ritellm.abatch_completion_models_all_responses(models=[], messages=msgs) == []
    with pytest.raises(ritellm.ParameterError) as info:
        await ritellm.abatch_completion_models_all_responses(messages=msgs)
    assert str(info.value) == (
        "batch_completion_models_all_responses needs models=[...] (a list of model strings)"
    )


def test_blocking_all_responses_from_a_thread(tsim: ThreadedSimulator) -> None:
    out: list[Any] = []
    thread = threading.Thread(
        target=lambda: out.append(
            ritellm.batch_completion_models_all_responses(
                models=["openai/a", "anthropic/b"],
                messages=[{"role": "user", "content": "hi"}],
                mock_response="mocked",
                base_url=tsim.base_url,  # where a request would go, were one sent
            )
        )
    )
    thread.start()
    thread.join(timeout=20)
    assert [r.model for r in out[0]] == ["a", "b"]
    assert tsim.stats.requests == 0
