"""Reading Gemini responses: parts, tool calls, finish reasons, usage and errors as OpenAI
values (also used by gemini.py's parse_completion), and the SSE stream decoder (§5.3-§5.7).

Pure translator: standard library and ritellm's pure modules only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ContentPolicyViolationError, ErrorInfo, StreamError
from .._types import AttrDict, ModelResponseStream, decode_plain_text
from ..sse import ServerSentEvent
from ._common import call_id, chunk, dumps, parse_error_body, usage
from ._framing import SSEChunkDecoder, inband_error

__all__ = ["GeminiStreamDecoder", "Malformed"]  # the other functions serve gemini.py


class Malformed(ValueError):
    """Part of a response is not what Gemini's format promises (the caller raises it as
    APIResponseValidationError or StreamError)."""


# wire-formats §5.4 / §9.2 (LiteLLM's mapping), IMAGE_* matched by prefix. Anything else
# (FINISH_REASON_UNSPECIFIED, MALFORMED_FUNCTION_CALL, TOO_MANY_TOOL_CALLS, ...) is "stop".
_FILTERED = frozenset({"SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "SPII"})
_FILTERED |= {"PROHIBITED_CONTENT", "NO_IMAGE"}


def finish_reason(raw: str | None, has_calls: bool) -> str | None:
    """OpenAI's finish_reason for a ``finishReason`` (None stays None). Gemini has no
    tool-call reason: a candidate that called functions and ended normally says STOP."""
    if raw is None:
        return None
    if raw == "STOP":
        return "tool_calls" if has_calls else "stop"
    if raw == "MAX_TOKENS":
        return "length"
    return "content_filter" if raw in _FILTERED or raw.startswith("IMAGE_") else "stop"


def response_id(obj: Mapping[str, Any], seed: str) -> str:
    """``responseId``, else an id derived from ``seed`` (the body): deterministic, so the
    tool-call ids derived from it are too."""
    rid = obj.get("responseId")
    if isinstance(rid, str) and rid:
        return rid
    return "chatcmpl-" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:29]


def model_name(obj: Mapping[str, Any], requested: str) -> str:
    """The served model (``modelVersion`` without its ``models/`` prefix), else ``requested``."""
    version = obj.get("modelVersion")
    served = version.removeprefix("models/") if isinstance(version, str) else ""
    return served or requested


def candidates(obj: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(choice index, candidate) pairs. proto3 JSON omits a zero ``index``: a missing one is
    the candidate's position."""
    found = obj.get("candidates") or []
    if type(found) is not list:
        raise Malformed("candidates is not a list of objects")
    out = []
    for position, cand in enumerate(found):
        if not isinstance(cand, dict):
            raise Malformed("candidates is not a list of objects")
        index = cand.get("index", position)
        raw = cand.get("finishReason")
        if type(index) is not int or (raw is not None and type(raw) is not str):
            raise Malformed("a candidate has a malformed index or finishReason")
        out.append((index, cand))
    return out


def parts(cand: Mapping[str, Any]) -> list[AttrDict]:
    """A candidate's content parts (none when it ended before any content)."""
    content = cand.get("content")
    found = content.get("parts") if isinstance(content, dict) else content
    if found is None:
        return []
    if type(found) is not list:
        raise Malformed("candidate content has no list of parts")
    for part in found:
        if not isinstance(part, dict):
            raise Malformed("candidate content has no list of parts")
        if type(part.get("text", "")) is not str:
            raise Malformed("a part's text is not a string")
    return found


def tool_call(part: Mapping[str, Any], rid: str, index: int, k: int) -> AttrDict:
    """The OpenAI tool call for a ``functionCall`` part, the ``k``-th of choice ``index``.

    Arguments arrive whole, as an object. Calls without an id get a derived one (Gemini
    matches results by name and order, so any unique id serves OpenAI's tool loop); a
    ``thoughtSignature`` is kept, to be sent back on the same call in the next turn.
    """
    fc = part["functionCall"]
    if not isinstance(fc, dict) or type(fc.get("name")) is not str:
        raise Malformed("a functionCall has no name")
    name: str = fc["name"]
    args = fc.get("args")
    if args is not None and not isinstance(args, dict):
        raise Malformed("functionCall args are not an object")
    given = fc.get("id")
    out = AttrDict(
        id=given if isinstance(given, str) and given else call_id(rid, index, k, name),
        type="function",
        function=AttrDict(name=name, arguments=dumps(args) if args else "{}"),
    )
    signature = part.get("thoughtSignature")
    if isinstance(signature, str) and signature:
        out["provider_specific_fields"] = AttrDict(thought_signature=signature)
    return out


def logprobs(cand: Mapping[str, Any]) -> AttrDict | None:
    """``logprobsResult`` (sent with responseLogprobs) in OpenAI's ``{"content": [...]}``."""
    result = cand.get("logprobsResult")
    if not isinstance(result, dict) or type(result.get("chosenCandidates")) is not list:
        return None
    chosen = result["chosenCandidates"]
    tops = result.get("topCandidates") or []  # only with logprobs=N (top_logprobs)
    if type(tops) is not list or not all(isinstance(t, dict) for t in tops):
        raise Malformed("logprobsResult.topCandidates is not a list of objects")
    content = []
    for i, token in enumerate(chosen):
        top = tops[i].get("candidates", []) if i < len(tops) else []
        if type(top) is not list:
            raise Malformed("logprobsResult.topCandidates[].candidates is not a list")
        content.append(_logprob(token, [_logprob(t, None) for t in top]))
    return AttrDict(content=content)


def _logprob(token: object, top: list[AttrDict] | None) -> AttrDict:
    if not isinstance(token, dict) or type(token.get("token", "")) is not str:
        raise Malformed("a logprobs entry has no token")
    text: str = token.get("token", "")
    # proto3 JSON omits a logProbability of 0.0.
    entry = AttrDict(
        token=text, logprob=token.get("logProbability", 0.0), bytes=list(text.encode())
    )
    if top is not None:
        entry["top_logprobs"] = top
    return entry


def _count(meta: Mapping[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return value if type(value) is int else None


def usage_of(meta: object) -> AttrDict | None:
    """OpenAI usage from ``usageMetadata`` (wire-formats §5.5): tool-use prompt tokens count
    as input, thoughts as output and as reasoning tokens; ``totalTokenCount`` as given."""
    if not isinstance(meta, dict):
        return None
    thoughts = _count(meta, "thoughtsTokenCount")
    return usage(
        (_count(meta, "promptTokenCount") or 0) + (_count(meta, "toolUsePromptTokenCount") or 0),
        (_count(meta, "candidatesTokenCount") or 0) + (thoughts or 0),
        total=_count(meta, "totalTokenCount"),
        cached=_count(meta, "cachedContentTokenCount"),
        reasoning=thoughts,
    )


def prompt_block(obj: Mapping[str, Any]) -> ErrorInfo | None:
    """The content-policy error of a response without candidates whose prompt was blocked
    (an HTTP 200, wire-formats §5.3), else None."""
    feedback = obj.get("promptFeedback")
    if obj.get("candidates") or not isinstance(feedback, dict) or not feedback.get("blockReason"):
        return None
    reason = str(feedback["blockReason"])
    message = f"Gemini blocked the prompt (blockReason {reason})"
    detail = feedback.get("blockReasonMessage")
    if isinstance(detail, str) and detail:
        message += f": {detail}"
    return ErrorInfo(message, code=reason, body=feedback, kind="content_policy")


# google.protobuf.Duration in JSON: "37s", "1.5s" (seconds, up to 9 decimals).
_DURATION = re.compile(r"(\d+(?:\.\d*)?)s")


def _seconds(delay: object) -> float | None:
    if isinstance(delay, dict) and type(delay.get("nanos", 0)) is int:
        # The proto's {seconds, nanos} layout (UNCONFIRMED which one Gemini sends).
        delay = f"{delay.get('seconds', 0)}.{delay.get('nanos', 0):09d}s"
    match = _DURATION.fullmatch(delay.strip()) if isinstance(delay, str) else None
    return float(match[1]) if match else None


def error_info(body: bytes) -> ErrorInfo:
    """What a Gemini error body says. google.rpc.Status ``{"error": {"code", "message",
    "status", "details"}}`` (or its one-element list form) gives type=status,
    code=str(code) and body=the inner error; a ``RetryInfo`` detail gives ``retry_after``,
    and an ``ErrorInfo`` detail with reason API_KEY_INVALID makes the 400 an authentication
    error. Other shapes are read as OpenAI-compatible error bodies."""
    info = parse_error_body(body)  # it reads Status's code, message and status already
    details = info.body.get("details") if isinstance(info.body, dict) else None
    for detail in details if type(details) is list else ():
        kind = detail.get("@type") if isinstance(detail, dict) else None
        if not isinstance(kind, str):
            continue
        if kind.endswith("google.rpc.RetryInfo"):
            info.retry_after = _seconds(detail.get("retryDelay"))
        elif kind.endswith("google.rpc.ErrorInfo") and detail.get("reason") == "API_KEY_INVALID":
            info.kind = "authentication"
    return info


def twin_status(info: ErrorInfo) -> int:
    """The HTTP status an error sent inside a 200 stands for: its numeric code, else 500."""
    code = info.code
    return int(code) if code is not None and code.isdigit() and 400 <= int(code) <= 599 else 500


class _Choice:
    """Stream state of one candidate."""

    __slots__ = ("calls", "finish", "started")

    def __init__(self) -> None:
        self.started = False  # a chunk (the one with role="assistant") was emitted
        self.calls = 0  # function calls so far: the next tool-call index
        self.finish: str | None = None  # the last finishReason seen


class GeminiStreamDecoder(SSEChunkDecoder):
    """``streamGenerateContent?alt=sse`` events -> chunks (wire-formats §5.6).

    Each event is a whole GenerateContentResponse holding only new parts. A function call
    arrives whole: one tool-call fragment with id, name and all the arguments. There is no
    end marker (``done`` stays False): the server closes the connection after the end.

    Finish chunks are held back until :meth:`close`: older models put ``finishReason`` on
    every event (and a later event may still bring a function call that turns "stop" into
    "tool_calls"), so only the end of the body shows which parts were the last. Deltas go
    out as soon as their event is complete, and close() comes right after the last event
    since Gemini closes the connection there. Order: deltas..., a finish chunk per candidate
    that finished, then (with ``include_usage``) the usage chunk from the last
    ``usageMetadata`` (it is cumulative).
    """

    __slots__ = ("_choices", "_created", "_id", "_include_usage", "_model", "_usage")

    def __init__(
        self,
        provider: str,
        *,
        model: str,
        now: int,
        include_usage: bool,
        max_event_bytes: int = 1 << 20,
    ) -> None:
        super().__init__(provider, max_event_bytes=max_event_bytes)
        self._include_usage = include_usage
        # id and the served model come with the first event (the requested model stands in
        # while none is named).
        self._id = ""
        self._created = now
        self._model = model
        self._choices: dict[int, _Choice] = {}
        self._usage: Any = None
        # `done` stays False: the end of the stream is the connection closing.

    def _decode(self, events: list[ServerSentEvent], out: list[ModelResponseStream]) -> None:
        for event in events:
            self._event(event.data, out)

    def _end(self) -> list[ModelResponseStream]:
        finished = sorted((i, c) for i, c in self._choices.items() if c.finish is not None)
        if not finished:
            raise self._truncated("any candidate carried a finishReason")
        out = [
            self._chunk(i, c, AttrDict(), finish_reason(c.finish, c.calls > 0)) for i, c in finished
        ]
        totals = usage_of(self._usage) if self._include_usage else None
        if totals is not None:
            last = self._chunk(0, None, AttrDict())
            last["choices"] = []
            last["usage"] = totals
            out.append(last)
        return out

    def _chunk(
        self, index: int, state: _Choice | None, delta: AttrDict, finish: str | None = None
    ) -> ModelResponseStream:
        if state is not None and not state.started:
            state.started = True
            delta = AttrDict(role="assistant", **delta)
        return chunk(
            id=self._id,
            created=self._created,
            model=self._model,
            delta=delta,
            finish_reason=finish,
            index=index,
        )

    def _event(self, data: str, out: list[ModelResponseStream]) -> None:
        try:
            # Plain dicts: the event itself never reaches the caller (its chunks are built
            # from it), so AttrDict's object hook would only cost (~1.7 µs per event).
            obj = decode_plain_text(data)
        except ValueError as exc:
            raise self._malformed("malformed JSON in Gemini stream event", data) from exc
        if type(obj) is list and len(obj) == 1:
            obj = obj[0]  # the error form of the JSON-array stream, should a server use it
        if type(obj) is not dict:
            raise self._malformed("Gemini stream event is not a JSON object", data)
        if obj.get("error"):
            raise self._inband(data)
        if not self._id:
            self._id = response_id(obj, data)
            self._model = model_name(obj, self._model)
        if obj.get("usageMetadata") is not None:
            self._usage = obj["usageMetadata"]
        if self._text_only(obj, out):
            return
        try:
            self._candidates(obj, out)
        except Malformed as exc:
            raise self._malformed(f"malformed Gemini stream event ({exc})", data) from None
        block = None if obj.get("candidates") else prompt_block(obj)
        if block is not None:
            raise ContentPolicyViolationError(
                block.message or "",
                status_code=200,  # sent as the 200 stream's first event
                code=block.code,
                provider=self._provider,
                body=block.body,
            )

    def _text_only(self, obj: dict[str, Any], out: list[ModelResponseStream]) -> bool:
        """The fast path for the usual event, one candidate holding one text part (the
        general path costs ~1 µs more per chunk); False for anything else, which
        :meth:`_candidates` then handles, checks included."""
        found = obj.get("candidates")
        if type(found) is not list or len(found) != 1:
            return False
        cand = found[0]
        if type(cand) is not dict or cand.get("index", 0) != 0 or "logprobsResult" in cand:
            return False
        content = cand.get("content")
        found = content.get("parts") if type(content) is dict else None
        if type(found) is not list or len(found) != 1:
            return False
        part = found[0]
        if type(part) is not dict or len(part) != 1:  # text and nothing else
            return False
        text = part.get("text")
        finish = cand.get("finishReason")
        if type(text) is not str or not text or (finish is not None and type(finish) is not str):
            return False
        state = self._choices.get(0)
        if state is None:
            state = self._choices[0] = _Choice()
        out.append(self._chunk(0, state, AttrDict(content=text)))
        if finish is not None:
            state.finish = finish
        return True

    def _candidates(self, obj: dict[str, Any], out: list[ModelResponseStream]) -> None:
        rid = self._id
        for index, cand in candidates(obj):
            state = self._choices.get(index)
            if state is None:
                state = self._choices[index] = _Choice()
            first = len(out)
            for part in parts(cand):
                text = part.get("text")
                if text:
                    key = "content" if part.get("thought") is not True else "reasoning_content"
                    out.append(self._chunk(index, state, AttrDict({key: text})))
                elif text is None and "functionCall" in part:
                    call = tool_call(part, rid, index, state.calls)
                    delta = AttrDict(tool_calls=[AttrDict(index=state.calls, **call)])
                    state.calls += 1
                    out.append(self._chunk(index, state, delta))
            probs = logprobs(cand) if "logprobsResult" in cand else None
            if probs is not None and len(out) > first:
                out[first].choices[0].logprobs = probs  # the tokens of this event's deltas
            if cand.get("finishReason") is not None:
                state.finish = cand["finishReason"]

    def _inband(self, data: str) -> StreamError:
        info = error_info(data.encode())
        return inband_error(info, self._provider, twin_status(info))
