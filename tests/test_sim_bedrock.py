"""The simulator's AWS Bedrock Converse routes with boto3's bedrock-runtime client as the
oracle: botocore signs (SigV4) and parses (JSON, the binary event stream, AWS's errors and
in-stream exceptions) exactly as it does against AWS, so what it accepts here is the format."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from ritellm.testing import Reply, Simulator, ThreadedSimulator
from ritellm.testing._common import signature
from tests.sim_helpers import raw_sync

boto3 = pytest.importorskip("boto3")
import botocore  # type: ignore[import-untyped]  # noqa: E402
import botocore.config  # type: ignore[import-untyped]  # noqa: E402
import botocore.eventstream  # type: ignore[import-untyped]  # noqa: E402
import botocore.exceptions  # type: ignore[import-untyped]  # noqa: E402

pytestmark = pytest.mark.timeout(30)

ACCESS_KEY_ID = "AKIDSIMULATOR00000001"
SECRET = "sim-secret-0123456789abcdefghijklmn"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
HELLO: list[Any] = [{"role": "user", "content": [{"text": "Hello there"}]}]
ANSWER = "Hello from the ritellm simulator! You said: Hello there"
TOKENS = ["Hello ", "from ", "the ", "ritellm ", "simulator! ", "You ", "said: ", "Hello ", "there"]
USAGE = {
    "inputTokens": 2,
    "outputTokens": 9,
    "totalTokens": 11,
    "cacheReadInputTokens": 0,
    "cacheWriteInputTokens": 0,
}
TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
]
TOOL_CONFIG = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Current weather",
                "inputSchema": {
                    "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                },
            }
        }
    ]
}


def request_id(seq: int) -> str:
    return f"00000000-0000-0000-0000-{seq + 1:012x}"


@pytest.fixture(autouse=True)
def aws_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore sees no AWS variable, no ~/.aws and no instance role."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO_")):
            monkeypatch.delenv(name)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread(api_key=ACCESS_KEY_ID) as threaded:
        yield threaded


def make_client(url: str, key: str = ACCESS_KEY_ID, **kwargs: Any) -> Any:
    # One attempt, no retries: an error is raised as the simulator sent it.
    config = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=SECRET,
        config=config,
        **kwargs,
    )


@pytest.fixture
def client(sim: ThreadedSimulator) -> Iterator[Any]:
    c = make_client(sim.url)
    yield c
    c.close()


def stream_events(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    response = client.converse_stream(modelId=MODEL, **{"messages": HELLO, **kwargs})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    with closing(response["stream"]) as stream:
        return list(stream)


def names(events: list[dict[str, Any]]) -> list[str]:
    return [name for event in events for name in event]


# --- Converse -----------------------------------------------------------------------------------


def test_converse_text(sim: ThreadedSimulator, client: Any) -> None:
    r = client.converse(modelId=MODEL, messages=HELLO, inferenceConfig={"maxTokens": 100})
    assert r["output"] == {"message": {"role": "assistant", "content": [{"text": ANSWER}]}}
    assert r["stopReason"] == "end_turn"
    assert r["usage"] == USAGE
    assert r["metrics"] == {"latencyMs": 412}
    assert r["ResponseMetadata"]["RequestId"] == request_id(1)
    [rec] = sim.requests
    assert (rec.method, rec.path) == (
        "POST",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
    )
    assert rec.json == {"messages": HELLO, "inferenceConfig": {"maxTokens": 100}}
    # botocore's own signature, accepted by the simulator's check.
    assert rec.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request, SignedHeaders=" in rec.headers["authorization"]


def test_converse_with_an_inference_profile_arn(sim: ThreadedSimulator, client: Any) -> None:
    r = client.converse(modelId=ARN, messages=HELLO)
    assert r["output"]["message"]["content"] == [{"text": ANSWER}]
    # botocore encodes the ARN as one path segment, as ritellm does.
    assert sim.requests[0].path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
        "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    )


def test_converse_max_tokens_cuts_the_answer(client: Any) -> None:
    r = client.converse(modelId=MODEL, messages=HELLO, inferenceConfig={"maxTokens": 3})
    assert r["output"]["message"]["content"] == [{"text": "Hello from the "}]
    assert r["stopReason"] == "max_tokens"
    assert r["usage"]["outputTokens"] == 3


def test_converse_tool_use_and_reasoning(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=TOOLS, reasoning="Two tools.", content="Checking."))
    r = client.converse(modelId=MODEL, messages=HELLO, toolConfig=TOOL_CONFIG)
    content = r["output"]["message"]["content"]
    assert content[0] == {
        "reasoningContent": {
            "reasoningText": {"text": "Two tools.", "signature": signature("Two tools.")}
        }
    }
    assert content[1] == {"text": "Checking."}
    uses = [block["toolUse"] for block in content[2:]]
    assert [(u["name"], u["input"]) for u in uses] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "Europe/Paris"}),
    ]
    assert all(u["toolUseId"].startswith("tooluse_") for u in uses)
    assert uses[0]["toolUseId"] != uses[1]["toolUseId"]
    assert r["stopReason"] == "tool_use"


def test_converse_image_bytes(sim: ThreadedSimulator, client: Any) -> None:
    png = b"\x89PNG\r\n\x1a\n"
    messages = [
        {
            "role": "user",
            "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": png}}},
            ],
        }
    ]
    r = client.converse(modelId=MODEL, messages=messages)
    assert r["output"]["message"]["content"] == [
        {"text": "Hello from the ritellm simulator! You said: What is this?"}
    ]
    # Bytes travel base64-encoded in JSON, as ritellm sends them.
    image = sim.requests[0].json["messages"][0]["content"][1]
    assert image == {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}


def test_a_tool_round_trip_is_validated(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=TOOLS[:1]), Reply(content="It is sunny."))
    first = client.converse(modelId=MODEL, messages=HELLO, toolConfig=TOOL_CONFIG)
    assistant = first["output"]["message"]
    use = assistant["content"][0]["toolUse"]
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp": 21}}]}}
    messages = [*HELLO, assistant, {"role": "user", "content": [result]}]
    final = client.converse(modelId=MODEL, messages=messages, toolConfig=TOOL_CONFIG)
    assert final["output"]["message"]["content"] == [{"text": "It is sunny."}]
    assert sim.requests[1].json["messages"][2]["content"][0] == {
        "toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temp": 21}}]}
    }
    # Without the tools, or answering a call never made: ValidationException.
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(modelId=MODEL, messages=messages)
    assert info.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "The toolConfig field must be defined when using toolUse and toolResult "
        "content blocks.",
    }
    result["toolResult"]["toolUseId"] = "tooluse_other"
    with pytest.raises(client.exceptions.ValidationException):
        client.converse(modelId=MODEL, messages=messages, toolConfig=TOOL_CONFIG)


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "content_filtered"),
        ("guardrail_intervened", "guardrail_intervened"),
        ("stop_sequence", "stop_sequence"),
    ],
)
def test_finish_reasons_are_bedrock_stop_reasons(
    sim: ThreadedSimulator, client: Any, finish: str, stop: str
) -> None:
    sim.script(Reply(finish_reason=finish), Reply(finish_reason=finish))
    assert client.converse(modelId=MODEL, messages=HELLO)["stopReason"] == stop
    assert stream_events(client)[-2] == {"messageStop": {"stopReason": stop}}


def test_converse_usage_with_the_cache(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(content="ok", cached_tokens=30, cache_creation_tokens=5))
    r = client.converse(modelId=MODEL, messages=HELLO)
    assert r["usage"] == {
        "inputTokens": 2,
        "outputTokens": 1,
        "totalTokens": 38,
        "cacheReadInputTokens": 30,
        "cacheWriteInputTokens": 5,
    }


# --- ConverseStream ------------------------------------------------------------------------------


def test_converse_stream_text(sim: ThreadedSimulator, client: Any) -> None:
    events = stream_events(client)
    assert names(events) == [
        "messageStart",
        *["contentBlockDelta"] * len(TOKENS),
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    deltas = [e["contentBlockDelta"] for e in events[1:-3]]
    assert {d["contentBlockIndex"] for d in deltas} == {0}
    assert [d["delta"]["text"] for d in deltas] == TOKENS
    assert "".join(d["delta"]["text"] for d in deltas) == ANSWER
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1] == {"metadata": {"usage": USAGE, "metrics": {"latencyMs": 380}}}
    [rec] = sim.requests
    assert rec.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"


def test_converse_stream_tools_and_reasoning(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(tool_calls=TOOLS, reasoning="Two tools.", content="On it.", chunk_size=6))
    events = stream_events(client, toolConfig=TOOL_CONFIG)
    # 6 characters a delta: "Two to" "ols." + the signature; "On it."; '{"city": "Paris"}'
    # in 3 fragments and '{"tz": "Europe/Paris"}' in 4.
    assert names(events) == [
        "messageStart",
        *["contentBlockDelta"] * 3,
        "contentBlockStop",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        *["contentBlockDelta"] * 3,
        "contentBlockStop",
        "contentBlockStart",
        *["contentBlockDelta"] * 4,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            blocks[start["contentBlockIndex"]] = {"start": start["start"], "input": ""}
        elif "contentBlockDelta" in event:
            d = event["contentBlockDelta"]
            block = blocks.setdefault(d["contentBlockIndex"], {"input": "", "text": "", "r": ""})
            delta = d["delta"]
            if "toolUse" in delta:
                block["input"] += delta["toolUse"]["input"]
            elif "text" in delta:
                block["text"] = block.get("text", "") + delta["text"]
            else:
                reasoning = delta["reasoningContent"]
                if "text" in reasoning:
                    block["r"] += reasoning["text"]
                else:
                    block["signature"] = reasoning["signature"]
    assert blocks[0]["r"] == "Two tools."
    assert blocks[0]["signature"] == signature("Two tools.")
    assert blocks[1]["text"] == "On it."
    assert blocks[2]["start"]["toolUse"]["name"] == "get_weather"
    assert json.loads(blocks[2]["input"]) == {"city": "Paris"}
    assert blocks[3]["start"]["toolUse"]["name"] == "get_time"
    assert json.loads(blocks[3]["input"]) == {"tz": "Europe/Paris"}
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "ValidationException", "Malformed input request, please reformat your input."),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        (404, "ResourceNotFoundException", "The requested resource could not be found."),
        (408, "ModelTimeoutException", "Model has timed out in processing the request."),
        (424, "ModelErrorException", "The model returned an error."),
        (429, "ThrottlingException", "Too many requests, please wait before trying again."),
        (500, "InternalServerException", "The server encountered an internal error."),
        (503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_http_errors(
    sim: ThreadedSimulator, client: Any, status: int, code: str, message: str, stream: bool
) -> None:
    sim.script(Reply(status=status))
    operation = client.converse_stream if stream else client.converse
    with pytest.raises(botocore.exceptions.ClientError) as info:
        operation(modelId=MODEL, messages=HELLO)
    # botocore maps the x-amzn-ErrorType to the service's modeled exception.
    assert type(info.value) is getattr(client.exceptions, code)
    response = info.value.response
    assert response["Error"] == {"Code": code, "Message": message}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["ResponseMetadata"]["RequestId"] == request_id(1)
    assert len(sim.requests) == 1


def test_a_validation_message_of_the_callers_choice(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(status=400, error_message="Input is too long for requested model."))
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.converse(modelId=MODEL, messages=HELLO)
    assert info.value.response["Error"]["Message"] == "Input is too long for requested model."


def test_the_simulators_own_validation(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.converse(modelId=MODEL, messages=[{"role": "assistant", "content": [{"text": "x"}]}])
    assert info.value.response["Error"]["Message"] == (
        "A conversation must alternate between user and assistant roles. Make sure the "
        "conversation alternates between user and assistant roles and try again."
    )


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [{"role": "user", "content": [{"image": "not an object"}]}],
            "Invalid image block in messages.0",
        ),
        (
            [{"role": "user", "content": [{"image": {"format": "bmp", "source": {"bytes": ""}}}]}],
            "Invalid image block in messages.0",
        ),
        (
            [{"role": "user", "content": [{"text": "  "}]}],
            "The text field in the ContentBlock object at messages.0 is blank.",
        ),
        (
            [{"role": "user", "content": []}],
            "The content field in the Message object at messages.0 is empty.",
        ),
    ],
)
def test_malformed_bodies_are_validation_errors(
    sim: ThreadedSimulator, messages: list[Any], message: str
) -> None:
    # Sent raw (boto3 checks its parameters itself), with the API key as a bearer token.
    response = raw_sync(
        sim,
        f"/model/{MODEL}/converse",
        {"messages": messages},
        headers={"authorization": f"Bearer {ACCESS_KEY_ID}"},
    )
    assert response.status == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException:")
    assert response.json() == {"message": message}


@pytest.mark.parametrize(
    "exception",
    [
        "throttlingException",
        "validationException",
        "modelStreamErrorException",
        "internalServerException",
        "serviceUnavailableException",
    ],
)
def test_an_exception_frame_mid_stream(sim: ThreadedSimulator, client: Any, exception: str) -> None:
    sim.script(
        Reply(fault="stream_error", error_type=exception, error_message="Stopped.", error_after=2)
    )
    response = client.converse_stream(modelId=MODEL, messages=HELLO)
    got: list[dict[str, Any]] = []
    with closing(response["stream"]), pytest.raises(botocore.exceptions.EventStreamError) as info:
        for event in response["stream"]:
            got.append(event)
    assert got == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hello "}, "contentBlockIndex": 0}},
    ]
    assert info.value.response["Error"] == {"Code": exception, "Message": "Stopped."}


def test_a_corrupted_checksum(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(fault="malformed", malformed_after=2))
    response = client.converse_stream(modelId=MODEL, messages=HELLO)
    got: list[dict[str, Any]] = []
    with closing(response["stream"]), pytest.raises(botocore.eventstream.ChecksumMismatch):
        for event in response["stream"]:
            got.append(event)
    assert names(got) == ["messageStart", "contentBlockDelta"]


def test_a_truncated_stream_has_no_message_stop(sim: ThreadedSimulator, client: Any) -> None:
    sim.script(Reply(fault="truncate", truncate_after=3))
    events = stream_events(client)  # botocore itself does not notice; ritellm does
    assert names(events) == ["messageStart", "contentBlockDelta", "contentBlockDelta"]


def test_a_wrong_key_is_refused(sim: ThreadedSimulator) -> None:
    client = make_client(sim.url, key="AKIDWRONG00000000000")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(modelId=MODEL, messages=HELLO)
    client.close()
    assert info.value.response["Error"] == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unsigned_request_is_refused(sim: ThreadedSimulator) -> None:
    config = botocore.config.Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        signature_version=botocore.UNSIGNED,
    )
    client = boto3.client(
        "bedrock-runtime", endpoint_url=sim.url, region_name="us-east-1", config=config
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(modelId=MODEL, messages=HELLO)
    client.close()
    assert info.value.response["Error"] == {
        "Code": "MissingAuthenticationTokenException",
        "Message": "Missing Authentication Token",
    }
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
