"""AWS Bedrock Runtime for the simulator: ``POST /model/{modelId}/converse`` (JSON) and
``/converse-stream`` (binary ``application/vnd.amazon.eventstream`` frames), SigV4 or API-key
auth (the simulator's ``api_key`` is the access key id), and AWS's JSON errors with
``x-amzn-ErrorType`` (wire-formats §13). Pure: stdlib, attrs and this package's pure modules.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from ._bedrock_check import Invalid, Prompt, auth_problem, check
from ._common import Answer, answer, arguments_value, pad, prelude, reply_headers
from ._common import signature as reasoning_signature
from ._eventstream import event_frame, exception_frame
from ._replies import RecordedRequest, Reply
from ._wire import HeaderList, Plan, Quota, dumps

__all__ = ["PATTERNS"]

PATH = re.compile(r"/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream)")
_JSON = b"application/json"
_EVENTS = b"application/vnd.amazon.eventstream"
_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
# status -> (exception name, message) as Bedrock Runtime answers them (§13.5).
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "Malformed input request, please reformat your input."),
    403: (
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    404: ("ResourceNotFoundException", "The requested resource could not be found."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request."),
    424: ("ModelErrorException", "The model returned an error."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
# Reply.finish_reason in OpenAI's words -> Bedrock's stopReason; other values are sent as given.
_STOP = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}
_CORRUPT = 0x5A  # XOR-ed into a frame's last byte: its message CRC no longer matches


def _request_id(seq: int) -> bytes:
    return str(uuid.UUID(int=seq + 1)).encode()


def _error_plan(
    status: int, name: str | None, message: str | None, seq: int, extra: HeaderList = ()
) -> Plan:
    default_name, default_message = _ERRORS.get(status, _ERRORS[500])
    name = name or default_name
    headers = [
        (b"content-type", _JSON),
        (b"x-amzn-requestid", _request_id(seq)),
        (b"x-amzn-errortype", (name + _TYPE_SUFFIX).encode()),
        *extra,
    ]
    return Plan(status, headers, body=dumps({"message": message or default_message}))


class Model:
    """The model actions ``converse`` and ``converse-stream``."""

    methods = frozenset({"POST"})

    def error(
        self,
        status: int,
        *,
        message: str | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: HeaderList = (),
        seq: int = 0,
    ) -> Plan:
        return _error_plan(status, type, message, seq, headers)

    def authorized(self, request: RecordedRequest, api_key: str) -> bool:
        return auth_problem(request.headers, api_key) is None

    def unauthorized(self, request: RecordedRequest, seq: int) -> Plan:
        name, message = auth_problem(request.headers, "\0") or ("", "")
        return _error_plan(403, name, message, seq)

    def not_found(self, request: RecordedRequest, seq: int) -> Plan:
        return _error_plan(404, "UnknownOperationException", "Unknown operation", seq)

    def method_not_allowed(self, request: RecordedRequest, seq: int) -> Plan:
        return _error_plan(404, "UnknownOperationException", "Unknown operation", seq)

    def quota_headers(self, quota: Quota, now: int) -> HeaderList:
        return ()  # Bedrock sends no rate-limit headers

    def rate_limited(self, request: RecordedRequest, quota: Quota, seq: int, now: int) -> Plan:
        return _error_plan(429, None, None, seq)

    def respond(
        self, request: RecordedRequest, next_reply: Callable[[], Reply], seq: int, now: int
    ) -> Plan:
        found = PATH.fullmatch(request.path)
        assert found is not None
        stream = found["action"] == "converse-stream"
        prompt = check(request.json)
        if isinstance(prompt, Invalid):
            return _error_plan(400, None, prompt.message, seq)
        reply = next_reply()
        headers = [(b"x-amzn-requestid", _request_id(seq))]
        extra = reply_headers(reply) if reply.headers else []
        early = prelude(reply, headers, extra)
        if early is not None:
            return early
        if reply.status >= 400:
            plan = _error_plan(reply.status, reply.error_type, reply.error_message, seq, extra)
            return attrs.evolve(plan, reply=reply)
        said = answer(reply, prompt.last_user, prompt.max_tokens, "tooluse_")
        response = _Response(reply, said, prompt)
        if not stream:
            body = response.whole()
            return Plan(200, [(b"content-type", _JSON), *headers, *extra], body, None, reply)
        return Plan(
            200,
            [(b"content-type", _EVENTS), *headers, *extra],
            events=response.frames(),
            reply=reply,
        )


@attrs.frozen
class _Response:
    reply: Reply
    said: Answer
    prompt: Prompt

    def _stop(self) -> str:
        reply, said = self.reply, self.said
        if reply.finish_reason is not None:
            return _STOP.get(reply.finish_reason, reply.finish_reason)
        if said.tools:
            return "tool_use"
        return "max_tokens" if said.cut else "end_turn"

    def _usage(self) -> dict[str, Any]:
        if self.reply.usage is not None:
            return self.reply.usage
        read = self.reply.cached_tokens
        write = self.reply.cache_creation_tokens
        output = self.said.output_tokens
        return {
            "inputTokens": self.prompt.words,
            "outputTokens": output,
            "totalTokens": self.prompt.words + output + read + write,
            "cacheReadInputTokens": read,
            "cacheWriteInputTokens": write,
        }

    def whole(self) -> bytes:
        reply, said = self.reply, self.said
        if reply.fault == "malformed":
            return b'{"output": {"message": {"role": "assist'
        if reply.fault == "stream_error":  # a 200 whose body is an error
            return dumps({"message": reply.error_message or _ERRORS[500][1]})
        content: list[dict[str, Any]] = []
        if said.thinking:
            text = "".join(said.thinking)
            reasoning = {"text": text, "signature": reasoning_signature(text)}
            content.append({"reasoningContent": {"reasoningText": reasoning}})
        if said.text:
            content.append({"text": said.text})
        for call_id, name, args in said.tools:
            use = {"toolUseId": call_id, "name": name, "input": arguments_value(args)}
            content.append({"toolUse": use})
        return dumps(
            {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": self._stop(),
                "usage": self._usage(),
                "metrics": {"latencyMs": 412},
            }
        )

    def frames(self) -> list[bytes]:
        reply, said = self.reply, self.said
        frames = [event_frame("messageStart", {"role": "assistant"})]
        block = 0
        if said.thinking:
            for token in said.thinking:
                frames.append(_delta(block, {"reasoningContent": {"text": token}}))
            signature = reasoning_signature("".join(said.thinking))
            frames.append(_delta(block, {"reasoningContent": {"signature": signature}}))
            frames.append(event_frame("contentBlockStop", {"contentBlockIndex": block}))
            block += 1
        if said.tokens:
            for token in said.tokens:
                frames.append(_delta(block, {"text": pad(token, reply.event_size)}))
            frames.append(event_frame("contentBlockStop", {"contentBlockIndex": block}))
            block += 1
        for (call_id, name, _), fragments in zip(said.tools, said.arguments, strict=True):
            start = {
                "contentBlockIndex": block,
                "start": {"toolUse": {"toolUseId": call_id, "name": name}},
            }
            frames.append(event_frame("contentBlockStart", start))
            frames.extend(_delta(block, {"toolUse": {"input": f}}) for f in fragments)
            frames.append(event_frame("contentBlockStop", {"contentBlockIndex": block}))
            block += 1
        stop_at = len(frames)  # the messageStop frame: a stream without it is cut short
        frames.append(event_frame("messageStop", {"stopReason": self._stop()}))
        metadata = {"usage": self._usage(), "metrics": {"latencyMs": 380}}
        frames.append(event_frame("metadata", metadata))
        return self._faults(frames, stop_at)

    def _faults(self, frames: list[bytes], stop_at: int) -> list[bytes]:
        reply = self.reply
        if reply.fault == "truncate":
            return frames[: min(reply.truncate_after, stop_at)]
        if reply.fault == "stream_error":
            name = reply.error_type or "modelStreamErrorException"
            message = reply.error_message or "The model stream failed."
            return [*frames[: min(reply.error_after, stop_at)], exception_frame(name, message)]
        if reply.fault == "malformed":
            at = min(reply.malformed_after, stop_at)
            bad = bytearray(frames[at])
            bad[-1] ^= _CORRUPT
            frames[at] = bytes(bad)
        return frames


def _delta(block: int, delta: dict[str, Any]) -> bytes:
    return event_frame("contentBlockDelta", {"contentBlockIndex": block, "delta": delta})


MODEL = Model()
PATTERNS = ((PATH, MODEL),)
