"""Azure OpenAI end to end: ritellm's client over loopback against the simulator's Azure route,
on asyncio and trio — URL, api-version and auth at the server, credentials from arguments and
environment, the prompt-filter and annotation chunks kept away from ``choices[0]``, the
content filter as ContentPolicyViolationError, and secrets kept out of errors and logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import ritellm
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

KEY = "azure-CANARY-key-0123456789"
VERSION = "2024-10-21"
MODEL = "azure/my-gpt"
MSGS: Any = [{"role": "user", "content": "Hello there"}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"


@pytest.fixture
async def azure_sim() -> AsyncIterator[Simulator]:
    async with Simulator(api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
async def client(azure_sim: Simulator) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(base_url=azure_sim.url, api_key=KEY) as c:
        yield c
        assert_pool_clean(c)


async def test_request_url_auth_and_body(azure_sim: Simulator, client: ritellm.AsyncClient) -> None:
    r = await client.acompletion(MODEL, MSGS, api_version=VERSION, temperature=0.5)
    assert r.choices[0].message.content == ANSWER
    assert r.model == "my-gpt"  # the simulator reports the deployment, as documented
    req = azure_sim.requests[0]
    assert req.path == "/openai/deployments/my-gpt/chat/completions"
    assert req.query == f"api-version={VERSION}"
    assert req.headers["api-key"] == KEY
    assert "authorization" not in req.headers
    # ritellm's own options never reach the body.
    assert req.json == {"model": "my-gpt", "messages": MSGS, "temperature": 0.5}


@pytest.mark.parametrize(
    "base", ["{url}", "{url}/", "{url}/openai", "{url}/openai/deployments/other/chat/completions"]
)
async def test_every_form_of_the_endpoint_works(
    azure_sim: Simulator, client: ritellm.AsyncClient, base: str
) -> None:
    base_url = base.format(url=azure_sim.url)
    await client.acompletion(MODEL, MSGS, api_version=VERSION, base_url=base_url)
    assert azure_sim.requests[0].path == "/openai/deployments/my-gpt/chat/completions"


async def test_credentials_from_the_environment(
    azure_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure_sim.url)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    async with ritellm.AsyncClient() as c:
        r = await c.acompletion(MODEL, MSGS)
    assert r.choices[0].message.content == ANSWER
    assert azure_sim.requests[0].query == "api-version=2025-01-01-preview"
    # LiteLLM's names win over the SDK's.
    monkeypatch.setenv("AZURE_API_VERSION", VERSION)
    monkeypatch.setenv("AZURE_API_BASE", azure_sim.url)
    monkeypatch.setenv("AZURE_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "wrong")
    async with ritellm.AsyncClient() as c:
        await c.acompletion(MODEL, MSGS)
    assert azure_sim.requests[1].query == f"api-version={VERSION}"
    assert azure_sim.requests[1].headers["api-key"] == KEY


async def test_entra_id_token_is_a_bearer(azure_sim: Simulator) -> None:
    async with ritellm.AsyncClient(base_url=azure_sim.url) as c:
        await c.acompletion(MODEL, MSGS, api_version=VERSION, azure_ad_token=KEY)
    headers = azure_sim.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "api-key" not in headers


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"api_version": VERSION, "api_key": KEY}, ritellm.ParameterError, "resource endpoint"),
        ({"base_url": "http://h", "api_key": KEY}, ritellm.ParameterError, "API version"),
        (
            {"base_url": "http://h", "api_version": VERSION},
            ritellm.AuthenticationError,
            "No credentials for provider 'azure'",
        ),
        (
            {"base_url": "http://h", "api_version": 5, "api_key": KEY},
            ritellm.ParameterTypeError,
            "api_version must be a str, not int",
        ),
    ],
)
async def test_missing_settings_fail_before_any_io(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await ritellm.acompletion(MODEL, MSGS, **kwargs)


async def test_stream_never_shows_the_annotation_chunks(
    azure_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    azure_sim.script(Reply(content="a b", async_filter=True))
    async with await client.acompletion(
        MODEL, MSGS, api_version=VERSION, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = [chunk async for chunk in stream]
    # Code that reads chunk.choices[0] works on every chunk but the usage chunk, exactly as
    # with OpenAI: the prompt-filter chunk (empty choices) and the asynchronous-filter
    # chunks (a choice without delta) never arrive.
    assert [c.choices[0].delta.get("content") for c in chunks[:-1]] == ["", "a ", "b", None]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert chunks[0].prompt_filter_results[0]["prompt_index"] == 0  # kept, on the first chunk
    assert all(c.id == chunks[0].id and c.id for c in chunks)
    built = ritellm.stream_chunk_builder(chunks)
    assert built is not None
    assert built.choices[0].message.content == "a b"


async def test_content_filter_is_a_content_policy_violation(
    azure_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    azure_sim.script(Reply(blocked="violence"))
    with pytest.raises(ritellm.ContentPolicyViolationError) as info:
        await client.acompletion(MODEL, MSGS, api_version=VERSION)
    err = info.value
    assert isinstance(err, ritellm.BadRequestError)
    assert err.status_code == 400
    assert err.code == "content_filter"
    assert "content management policy" in err.message
    assert err.provider == "azure" and err.model == MODEL
    assert len(azure_sim.requests) == 1  # never retried


async def test_errors_in_azures_shapes(azure_sim: Simulator, client: ritellm.AsyncClient) -> None:
    with pytest.raises(ritellm.AuthenticationError, match="Access denied") as auth:
        await client.acompletion(MODEL, MSGS, api_version=VERSION, api_key="wrong-key-0123456789")
    assert auth.value.status_code == 401
    azure_sim.script(Reply(status=429, headers={"retry-after": "0"}), Reply(content="ok"))
    r = await client.acompletion(MODEL, MSGS, api_version=VERSION)
    assert r.choices[0].message.content == "ok"
    assert len(azure_sim.requests) == 3  # the 429 was retried


async def test_in_band_error_before_content_is_retried(
    azure_sim: Simulator, client: ritellm.AsyncClient
) -> None:
    # Azure's prompt-filter chunk is not content: an error right after it is raised at the
    # await as the InternalServerError it stands for, and retried.
    azure_sim.script(Reply(fault="stream_error", error_after=1), Reply(content="fine"))
    with anyio.fail_after(10):
        async with await client.acompletion(
            MODEL, MSGS, api_version=VERSION, stream=True
        ) as stream:
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "fine"
    assert len(azure_sim.requests) == 2


async def test_the_key_never_leaks(azure_sim: Simulator, client: ritellm.AsyncClient) -> None:
    records: list[dict[str, Any]] = []
    azure_sim.script(Reply(status=500, error_message=f"upstream rejected {KEY}"))
    with pytest.raises(ritellm.InternalServerError) as info:
        await client.acompletion(
            MODEL, MSGS, api_version=VERSION, num_retries=0, logger_fn=records.append
        )
    err = info.value
    for text in (str(err), repr(err), repr(err.body), repr(err.headers), repr(records)):
        assert KEY not in text
    assert records[0]["headers"]["api-key"] == "***"
    assert records[0]["url"].endswith(f"?api-version={VERSION}")
    assert KEY not in repr(client)
