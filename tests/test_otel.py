"""OpenTelemetry spans and metrics end to end, on asyncio and trio over loopback: one GenAI
client span per call (every provider's; streams end with the stream; errors, cancellations,
retries, fallbacks, parenting, opt-in content) and the GenAI client metrics, recorded through
per-client SDK providers with in-memory exporters. The global-provider path and the "no
OpenTelemetry" cases run in subprocesses: the global providers can be set once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import ritellm
from ritellm._call import Defaults, prepare
from ritellm._observe import _otel_attrs as attrs
from ritellm._observe._otel import Telemetry, otel_sink
from ritellm.testing import Reply, Simulator
from tests.helpers import assert_pool_clean

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

KEY = "sk-otel-0123456789"
MSGS: Any = [{"role": "user", "content": "Hello there"}]
FAST = {"retry-after-ms": "1"}  # retry after 1 ms, not the default backoff
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# model string -> (extra arguments, gen_ai.provider.name)
FORMATS: dict[str, tuple[dict[str, Any], str]] = {
    "openai/gpt-4o-mini": ({}, "openai"),
    "azure/my-gpt": ({"api_version": "2024-10-21"}, "azure.ai.openai"),
    "anthropic/claude-sonnet-4-5": ({}, "anthropic"),
    "gemini/gemini-2.5-flash": ({}, "gcp.gemini"),
    "ollama/llama3.2": ({}, "ollama"),
    "bedrock/anthropic.claude-sonnet-4-5-v1:0": ({}, "aws.bedrock"),
}


class Otel:
    """Per-test SDK providers with in-memory exporters (never the global ones)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    def spans(self) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith("chat ")]

    def span(self) -> ReadableSpan:
        (span,) = self.spans()
        return span

    def points(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        found: list[HistogramDataPoint] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(
                            p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)
                        )
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


@pytest.fixture
async def client(otel: Otel) -> AsyncIterator[ritellm.AsyncClient]:
    async with ritellm.AsyncClient(
        api_key=KEY, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    ) as c:
        yield c
        assert_pool_clean(c)


def attributes(item: object) -> dict[str, Any]:
    """A span's, event's or data point's attributes as a plain dict."""
    return dict(getattr(item, "attributes", None) or {})


def base(sim: Simulator, model: str) -> str:
    return sim.base_url if model.startswith("openai/") else sim.url


def run_python(script: str, *, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- pure: the conventions' attributes ------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "name"),
    [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("gemini", "gcp.gemini"),
        ("azure", "azure.ai.openai"),
        ("bedrock", "aws.bedrock"),
        ("mistral", "mistral_ai"),
        ("xai", "x_ai"),
        ("ollama", "ollama"),
        ("ollama_chat", "ollama"),
        ("openrouter", "openrouter"),
    ],
)
def test_provider_names_follow_the_conventions(prefix: str, name: str) -> None:
    assert attrs.provider_name(prefix) == name


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", ("api.openai.com", 443)),
        ("http://localhost:11434", ("localhost", 11434)),
        ("http://[::1]/v1", ("::1", 80)),
        ("https://user:pw@proxy.example:8443/x?y=1", ("proxy.example", 8443)),
    ],
)
def test_server_address_and_port(url: str, expected: tuple[str, int]) -> None:
    assert dict(attrs.server_attributes(url)) == dict(
        zip(("server.address", "server.port"), expected, strict=True)
    )


def test_request_attributes() -> None:
    params = {
        "max_completion_tokens": 50,
        "temperature": 1,
        "top_p": 0.5,
        "top_k": 3,
        "frequency_penalty": 0.1,
        "presence_penalty": -0.2,
        "seed": 7,
        "stop": "END",
        "n": 2,
        "response_format": {"type": "json_schema", "json_schema": {}},
        "tools": [{"type": "function"}],
    }
    assert attrs.request_attributes(params, stream=True) == {
        "gen_ai.request.stream": True,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 1.0,
        "gen_ai.request.top_p": 0.5,
        "gen_ai.request.top_k": 3.0,
        "gen_ai.request.frequency_penalty": 0.1,
        "gen_ai.request.presence_penalty": -0.2,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.choice.count": 2,
        "gen_ai.output.type": "json",
    }
    assert attrs.request_attributes({"n": 1, "stop": ["a", "b"]}, stream=False) == {
        "gen_ai.request.stop_sequences": ["a", "b"]
    }


def test_usage_attributes() -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 12},
        "cache_creation_input_tokens": 20,
    }
    assert attrs.usage_attributes(usage) == {
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.cache_creation.input_tokens": 20,
        "gen_ai.usage.reasoning.output_tokens": 12,
    }
    assert attrs.usage_attributes(None) == {}


def test_input_messages_follow_the_schema() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rainy"},
    ]
    assert attrs.input_messages(messages) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "What is this?"},
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBOR"},
                {"type": "uri", "modality": "image", "uri": "https://x.test/cat.jpg"},
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
        },
    ]


def test_output_messages_follow_the_schema() -> None:
    response = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "reasoning_content": "hmm"},
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "not json"}}],
                },
                "finish_reason": "tool_calls",
            },
        ]
    }
    assert attrs.output_messages(response) == [
        {
            "role": "assistant",
            "parts": [{"type": "reasoning", "content": "hmm"}, {"type": "text", "content": "Hi"}],
            "finish_reason": "stop",
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c", "name": "f", "arguments": "not json"}],
            "finish_reason": "tool_call",
        },
    ]


def test_every_name_is_one_of_the_conventions() -> None:
    # The installed semantic-conventions package (not a ritellm dependency) as the oracle
    # for the spelled-out names: a typo would silently make a new attribute.
    from opentelemetry.semconv._incubating.attributes import (
        aws_attributes,
        error_attributes,
        gen_ai_attributes,
        http_attributes,
        server_attributes,
    )
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

    known = {
        value
        for module in (
            aws_attributes,
            error_attributes,
            gen_ai_attributes,
            http_attributes,
            server_attributes,
            gen_ai_metrics,
        )
        for value in vars(module).values()
        if isinstance(value, str)
    }
    names = {v for k, v in vars(attrs).items() if k.isupper() and isinstance(v, str) and "." in v}
    names.discard(attrs.SCHEMA_URL)
    params = {
        "max_tokens": 1,
        "temperature": 1,
        "top_p": 1,
        "top_k": 1,
        "frequency_penalty": 1,
        "presence_penalty": 1,
        "seed": 1,
        "stop": "x",
        "n": 2,
        "response_format": {"type": "text"},
    }
    names |= set(attrs.request_attributes(params, stream=True))
    names |= set(
        attrs.usage_attributes(
            {
                "prompt_tokens": 1,
                "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 1},
                "completion_tokens_details": {"reasoning_tokens": 1},
                "cache_creation_input_tokens": 1,
            }
        )
    )
    names |= {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "aws.request_id",
    }
    assert len(names) > 30
    assert names <= known, names - known


def test_without_configured_global_providers_no_sink_is_made() -> None:
    # This process never sets the global providers: a call costs two lookups and no span.
    call = prepare(
        "gpt-4o-mini", MSGS, False, {"api_key": KEY, "base_url": "http://h/v1"}, Defaults(), {}
    )
    assert otel_sink(call, None) is None


def test_providers_must_be_opentelemetry_providers() -> None:
    with pytest.raises(ritellm.ParameterTypeError, match="TracerProvider"):
        ritellm.AsyncClient(tracer_provider=object())
    with pytest.raises(ritellm.ParameterTypeError, match="MeterProvider"):
        Telemetry(meter_provider=object())  # type: ignore[arg-type]


# -- spans, end to end ----------------------------------------------------------------------


def check_span(span: ReadableSpan, sim: Simulator, model: str, provider: str) -> dict[str, Any]:
    model_id = model.split("/", 1)[1]
    assert span.name == f"chat {model_id}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "ritellm"
    assert span.instrumentation_scope.version == ritellm.__version__
    assert span.instrumentation_scope.schema_url == attrs.SCHEMA_URL
    a = attributes(span)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == provider
    assert a["gen_ai.request.model"] == model_id
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", sim.port)
    assert "error.type" not in a
    return a


@pytest.mark.parametrize("model", FORMATS)
async def test_every_format_makes_a_chat_span(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel, model: str
) -> None:
    extra, provider = FORMATS[model]
    r = await client.acompletion(model, MSGS, base_url=base(sim, model), **extra)
    span = otel.span()
    a = check_span(span, sim, model, provider)
    assert span.parent is None  # no span was current
    assert a["gen_ai.response.model"] == r.response_metadata.served_model
    if r.get("id"):
        assert a["gen_ai.response.id"] == r.id
    assert a["gen_ai.response.finish_reasons"] == (r.choices[0].finish_reason,)
    assert a["gen_ai.usage.input_tokens"] == r.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == r.usage.completion_tokens
    assert a["ritellm.attempts"] == 1
    assert "gen_ai.request.stream" not in a and "gen_ai.response.time_to_first_chunk" not in a
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # opt-in
    assert not span.events


async def test_request_parameters_are_recorded(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    await client.acompletion(
        "gpt-4o-mini",
        MSGS,
        base_url=sim.base_url,
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        stop=["\n\n"],
        seed=42,
        frequency_penalty=0.5,
        presence_penalty=0.25,
    )
    a = attributes(otel.span())
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.stop_sequences"] == ("\n\n",)
    assert a["gen_ai.request.seed"] == 42
    assert a["gen_ai.request.frequency_penalty"] == 0.5
    assert a["gen_ai.request.presence_penalty"] == 0.25
    assert a["ritellm.request_id"] == "req_sim000000000000000000000001"


async def test_a_streams_span_ends_with_the_stream(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(content="one two three four five", delay=0.01))
    stream = await client.acompletion(
        "gpt-4o-mini",
        MSGS,
        stream=True,
        stream_options={"include_usage": True},
        base_url=sim.base_url,
    )
    async with stream:
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            last = time.time_ns()
            if len(chunks) < 3:
                assert not otel.spans(), "the span ended before the stream did"
    span = otel.span()
    a = check_span(span, sim, "openai/gpt-4o-mini", "openai")
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time >= last
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.output_tokens"] == chunks[-1].usage.completion_tokens
    first = a["gen_ai.response.time_to_first_chunk"]
    assert isinstance(first, float)
    assert 0 < first * 1e9 < span.end_time - span.start_time


async def test_a_stream_closed_early_is_cancelled_not_failed(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(content="one two three four five six", chunk_size=4))
    stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    async with stream:
        async for _ in stream:
            break
        assert not otel.spans()
    span = otel.span()
    a = check_span(span, sim, "openai/gpt-4o-mini", "openai")
    assert a["ritellm.cancelled"] is True
    assert "gen_ai.usage.output_tokens" not in a
    assert not [e for e in span.events if e.name == "exception"]
    # Neither a success nor a failure: no duration; the first chunk did arrive.
    assert not otel.points("gen_ai.client.operation.duration")
    assert len(otel.points("gen_ai.client.operation.time_to_first_chunk")) == 1


async def test_a_cancelled_call_is_cancelled_not_failed(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(latency=5))
    with anyio.move_on_after(0.2) as scope:
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    assert scope.cancelled_caught
    span = otel.span()
    a = check_span(span, sim, "openai/gpt-4o-mini", "openai")
    assert a["ritellm.cancelled"] is True
    assert not span.events
    assert not otel.points("gen_ai.client.operation.duration")


async def test_an_error_sets_the_status_and_error_type(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(status=400, error_message="bad things"))
    with pytest.raises(ritellm.BadRequestError) as info:
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(info.value)
    a = attributes(span)
    assert a["error.type"] == "BadRequestError"
    assert a["http.response.status_code"] == 400
    (event,) = span.events
    assert event.name == "exception"
    assert attributes(event)["exception.type"].endswith("BadRequestError")
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert attributes(point)["error.type"] == "BadRequestError"
    assert not otel.points("gen_ai.client.token.usage")


async def test_a_stream_error_fails_the_span(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(content="a b c d e f", fault="stream_error", error_after=2))
    stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    with pytest.raises(ritellm.StreamError):
        async with stream:
            [c async for c in stream]
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "StreamError"


async def test_retries_are_events_on_the_one_span(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(status=503, headers=FAST), Reply(status=429, headers=FAST), Reply())
    await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET  # retried errors are not the outcome
    a = attributes(span)
    assert a["ritellm.attempts"] == 3
    assert "error.type" not in a
    assert [(e.name, attributes(e)) for e in span.events] == [
        (
            "ritellm.retry",
            {
                "ritellm.attempt": n,
                "ritellm.model": "gpt-4o-mini",
                "error.type": kind,
                "http.response.status_code": status,
                "ritellm.retry.delay": 0.001,
            },
        )
        for n, kind, status in ((1, "ServiceUnavailableError", 503), (2, "RateLimitError", 429))
    ]
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert "error.type" not in attributes(point)


async def test_a_fallback_is_visible(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    sim.script(Reply(status=404), Reply())
    await client.acompletion(
        "openai/missing",
        MSGS,
        base_url=sim.base_url,
        fallbacks=[{"model": "anthropic/claude-sonnet-4-5", "base_url": sim.url}],
    )
    span = otel.span()
    a = attributes(span)
    # The span is the call as requested; the model that answered is told apart.
    assert (a["gen_ai.provider.name"], a["gen_ai.request.model"]) == ("openai", "missing")
    assert a["gen_ai.response.model"] == "claude-sonnet-4-5"
    assert a["ritellm.fallback.model"] == "anthropic/claude-sonnet-4-5"
    assert a["ritellm.attempts"] == 2
    assert span.status.status_code is StatusCode.UNSET
    retry, fallback = span.events
    assert retry.name == "ritellm.retry"
    assert attributes(retry) == {
        "ritellm.attempt": 1,
        "ritellm.model": "openai/missing",
        "error.type": "NotFoundError",
        "http.response.status_code": 404,
    }
    assert fallback.name == "ritellm.fallback"
    assert attributes(fallback) == {
        "ritellm.model": "anthropic/claude-sonnet-4-5",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
    }
    # Metrics describe the model that answered: its tokens and latency.
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert attributes(point)["gen_ai.provider.name"] == "anthropic"
    assert attributes(point)["gen_ai.request.model"] == "claude-sonnet-4-5"


async def test_the_span_is_a_child_of_the_callers_span(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as parent:
        await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
        stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    # The stream is read after the parent ended, in another task: still the parent's child.
    async with anyio.create_task_group() as tg:

        async def read() -> None:
            async with stream:
                [c async for c in stream]

        tg.start_soon(read)
    spans = otel.spans()
    assert len(spans) == 2
    for span in spans:
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.context is not None
        assert span.context.trace_id == parent.get_span_context().trace_id


async def test_content_is_captured_only_when_asked(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [{"role": "system", "content": "Be brief"}, *MSGS]
    await client.acompletion("gpt-4o-mini", messages, base_url=sim.base_url)
    monkeypatch.setenv(CAPTURE, "True")
    r = await client.acompletion("gpt-4o-mini", messages, base_url=sim.base_url)
    off, on = (attributes(s) for s in otel.spans())
    assert "gen_ai.input.messages" not in off and "gen_ai.output.messages" not in off
    assert json.loads(on["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hello there"}]},
    ]
    assert json.loads(on["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": r.choices[0].message.content}],
            "finish_reason": "stop",
        }
    ]


async def test_a_streams_output_is_captured_whole(
    sim: Simulator, client: ritellm.AsyncClient, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE, "span_only")
    sim.script(Reply(tool_calls=[{"name": "weather", "arguments": {"city": "Paris"}}]))
    stream = await client.acompletion("gpt-4o-mini", MSGS, stream=True, base_url=sim.base_url)
    async with stream:
        [c async for c in stream]
    (message,) = json.loads((attributes(otel.span()))["gen_ai.output.messages"])
    (part,) = message["parts"]
    assert (part["type"], part["name"], part["arguments"]) == (
        "tool_call",
        "weather",
        {"city": "Paris"},
    )
    assert message["finish_reason"] == "tool_call"


async def test_metrics(sim: Simulator, client: ritellm.AsyncClient, otel: Otel) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    sim.script(Reply(usage=usage), Reply(usage=usage))
    await client.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    stream = await client.acompletion(
        "gpt-4o-mini",
        MSGS,
        stream=True,
        stream_options={"include_usage": True},
        base_url=sim.base_url,
    )
    async with stream:
        [c async for c in stream]
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": sim.port,
    }
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert attributes(duration) == common
    assert duration.count == 2 and 0 < duration.sum < 10
    assert list(duration.explicit_bounds) == [0.01 * 2**i for i in range(14)]
    tokens = {
        attributes(p)["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")
    }
    assert set(tokens) == {"input", "output"}
    assert (tokens["input"].count, tokens["input"].sum) == (2, 22)
    assert (tokens["output"].count, tokens["output"].sum) == (2, 14)
    assert attributes(tokens["input"]) == {**common, "gen_ai.token.type": "input"}
    assert list(tokens["input"].explicit_bounds)[:3] == [1, 4, 16]
    # Time to first chunk: streams only.
    (first,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and attributes(first) == common


async def test_a_sampled_out_call_still_has_metrics(sim: Simulator, otel: Otel) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    sampled_out = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    sampled_out.add_span_processor(SimpleSpanProcessor(exporter))
    async with ritellm.AsyncClient(
        api_key=KEY, tracer_provider=sampled_out, meter_provider=otel.meter_provider
    ) as c:
        sim.script(Reply(status=503, headers=FAST), Reply())
        await c.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    assert not exporter.get_finished_spans()
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.count == 1


async def test_a_failing_tracer_never_breaks_the_call(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # at construction: the client's own configuration
        ritellm.AsyncClient(tracer_provider=Broken(shutdown_on_exit=False))

    class BrokenSpans(TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            tracer = super().get_tracer(*args, **kwargs)
            tracer.start_span = None  # type: ignore[method-assign, assignment]
            return tracer

    async with ritellm.AsyncClient(
        api_key=KEY, tracer_provider=BrokenSpans(shutdown_on_exit=False)
    ) as c:
        r = await c.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url)
    assert r.choices[0].message.content
    assert "could not start the call's span" in caplog.text


# -- the global providers, the "no OpenTelemetry" cases: subprocesses ------------------------


def test_the_global_providers_are_used_when_configured() -> None:
    out = run_python(
        """
        import json
        import anyio
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import ritellm
        from ritellm.testing import Simulator

        MSGS = [{"role": "user", "content": "hi"}]

        async def main():
            async with Simulator() as sim:
                # Imported but not configured: nothing is recorded.
                await ritellm.acompletion("gpt-4o-mini", MSGS, base_url=sim.base_url, api_key="k")
                exporter = InMemorySpanExporter()
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)
                reader = InMemoryMetricReader()
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                with trace.get_tracer("app").start_as_current_span("app") as parent:
                    await ritellm.acompletion(
                        "gpt-4o-mini", MSGS, base_url=sim.base_url, api_key="k"
                    )
            spans = [
                {"name": s.name, "parent": s.parent and s.parent.span_id}
                for s in exporter.get_finished_spans()
            ]
            names = [m.name for rm in reader.get_metrics_data().resource_metrics
                     for sm in rm.scope_metrics for m in sm.metrics]
            print(json.dumps({"spans": spans, "parent": parent.get_span_context().span_id,
                              "metrics": names}))

        anyio.run(main)
        """
    )
    result = json.loads(out)
    assert result["spans"] == [
        {"name": "chat gpt-4o-mini", "parent": result["parent"]},
        {"name": "app", "parent": None},
    ]
    assert set(result["metrics"]) == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
    }


def test_the_blocking_facade_parents_under_the_callers_span() -> None:
    out = run_python(
        """
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import ritellm
        from ritellm.testing import Simulator

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        with Simulator.start_in_thread() as sim:
            with trace.get_tracer("app").start_as_current_span("app") as parent:
                ritellm.completion("gpt-4o-mini", [{"role": "user", "content": "hi"}],
                                   base_url=sim.base_url, api_key="k")
        (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
        print(json.dumps([span.parent and span.parent.span_id,
                          parent.get_span_context().span_id]))
        """
    )
    got, expected = json.loads(out)
    assert got == expected


def test_import_ritellm_does_not_import_opentelemetry() -> None:
    out = run_python(
        """
        import sys
        import anyio
        import ritellm
        from ritellm.testing import Simulator

        async def main():
            async with Simulator() as sim:
                await ritellm.acompletion("gpt-4o-mini", [{"role": "user", "content": "hi"}],
                                          base_url=sim.base_url, api_key="k")

        anyio.run(main)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert out.strip() == "[]"


def test_without_opentelemetry_installed_the_error_says_what_to_install() -> None:
    out = run_python(
        """
        import sys

        class NoOtel:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoOtel())
        import ritellm

        try:
            ritellm.AsyncClient(tracer_provider=object())
        except ritellm.ParameterError as exc:
            print(exc)
        """
    )
    assert "pip install 'ritellm[otel]'" in out
