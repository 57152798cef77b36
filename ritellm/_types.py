"""Response values (dicts with attribute access) and the wire-ready request values.

Leaf module: imports only the standard library and attrs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from ._metadata import ResponseMetadata

__all__ = [
    "AttrDict",
    "CompletionRequest",
    "Credentials",
    "HttpRequest",
    "Media",
    "ModelResponse",
    "ModelResponseStream",
    "decode_json",
    "decode_json_text",
    "decode_plain_text",
    "retype",
]


class AttrDict(dict[str, Any]):
    """A plain ``dict`` that also allows attribute access: ``r.choices[0].message.content``.

    It *is* a dict: indexing, ``.get``, ``in``, ``json.dumps`` and ``==`` with a plain dict
    all work. A field of OpenAI's chat completion schema that is absent reads as ``None``
    through attribute access (as the OpenAI SDK's optional fields do); any other missing
    attribute raises ``AttributeError`` naming the close matches (``r.choises``: "did you
    mean 'choices'?"). Indexing a missing key raises ``KeyError``, as dicts do.
    """

    # One slot for every subclass, so that retype() can change a parsed object's class (the
    # layouts must match): ModelResponse keeps its response_metadata there, not as a key.
    __slots__ = ("_meta",)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal attribute lookup failed, so dict methods still win.
        try:
            return self[name]
        except KeyError:
            if name in _OPTIONAL_FIELDS:
                return None
            raise AttributeError(_no_attribute(self, name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    # copy and pickle keep the slot as the slot (the default would restore it through
    # __setattr__, i.e. as a key).
    def __getstate__(self) -> Any:
        try:
            return {"_meta": object.__getattribute__(self, "_meta")}
        except AttributeError:
            return None

    def __setstate__(self, state: Any) -> None:
        if state:
            object.__setattr__(self, "_meta", state["_meta"])

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *(k for k in self if isinstance(k, str))]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"

    def to_dict(self) -> dict[str, Any]:
        """A deep copy made of plain dicts and lists."""
        result: dict[str, Any] = json.loads(json.dumps(self))
        return result

    # Pydantic-style aliases that OpenAI SDK users reach for.
    model_dump = to_dict

    def model_dump_json(self) -> str:
        """This value as a compact JSON string."""
        return json.dumps(self, separators=(",", ":"), ensure_ascii=False)


# Fields of OpenAI's chat.completion and chat.completion.chunk objects (and LiteLLM's
# additions that ritellm fills) at any depth: absent, they read as None, like the SDK's
# optional fields. Any other missing attribute is a typo or a method that does not exist.
_OPTIONAL_FIELDS = frozenset(
    {
        # completion and chunk
        "id", "object", "created", "model", "choices", "usage", "system_fingerprint",
        "service_tier", "obfuscation",
        # choice
        "index", "message", "delta", "logprobs", "finish_reason",
        # message and delta
        "role", "content", "refusal", "tool_calls", "function_call", "audio", "annotations",
        "reasoning_content", "thinking_blocks", "provider_specific_fields", "name",
        # tool calls
        "type", "function", "arguments", "custom", "input",
        # logprobs
        "token", "logprob", "bytes", "top_logprobs",
        # audio, annotations
        "data", "expires_at", "transcript", "url_citation", "url", "title", "start_index",
        "end_index",
        # thinking blocks
        "thinking", "signature",
        # usage
        "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
        "completion_tokens_details", "cached_tokens", "audio_tokens", "reasoning_tokens",
        "accepted_prediction_tokens", "rejected_prediction_tokens", "text_tokens",
        "image_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
    }
)  # fmt: skip
# What people coming from other clients reach for.
_INSTEAD = {
    "json": "model_dump_json()",
    "dict": "to_dict()",
    "to_json": "model_dump_json()",
    "text": "choices[0].message.content",
}


def _no_attribute(obj: AttrDict, name: str) -> str:
    message = f"{type(obj).__name__!r} object has no attribute {name!r}"
    if name in _INSTEAD:
        return f"{message}; use {_INSTEAD[name]}"
    import difflib  # only on this error path

    keys = [key for key in obj if isinstance(key, str)]
    candidates = dict.fromkeys([*keys, *sorted(_OPTIONAL_FIELDS)])  # no duplicates, stable
    close = difflib.get_close_matches(name, candidates, n=3)
    if close:
        return f"{message}; did you mean {' or '.join(map(repr, close))}?"
    return message


class ModelResponse(AttrDict):
    """A non-streaming chat completion in OpenAI's ``chat.completion`` shape."""

    # What the call reported lives in AttrDict's slot: not a key, so equality and JSON
    # ignore it.
    __slots__ = ()

    @property
    def response_metadata(self) -> ResponseMetadata | None:
        """How this response was obtained (:class:`ritellm.ResponseMetadata`); None for one
        ritellm did not receive itself (e.g. built by ``stream_chunk_builder``)."""
        try:
            meta: ResponseMetadata = object.__getattribute__(self, "_meta")
        except AttributeError:
            return None
        return meta

    @property
    def _hidden_params(self) -> dict[str, Any]:
        """LiteLLM's ``_hidden_params`` (``response_cost``, ``additional_headers``,
        ``api_base``, ``model_id``, ``custom_llm_provider``), for migrating code."""
        from ._metadata import hidden_params

        return hidden_params(self.response_metadata)

    def _attach(self, meta: ResponseMetadata) -> None:
        object.__setattr__(self, "_meta", meta)


class ModelResponseStream(AttrDict):
    """One streamed chunk in OpenAI's ``chat.completion.chunk`` shape."""

    __slots__ = ()


_D = TypeVar("_D", bound="AttrDict")


def _fast(decoder: json.JSONDecoder) -> Callable[[str], Any]:
    """``decoder.decode`` minus its two whitespace regexes and a call level, for the common
    case of a document with no surrounding whitespace (every stream event): ~0.8 µs saved on
    a 300-byte chunk. Anything else (leading or trailing whitespace, extra data, invalid
    JSON) goes to ``decode`` itself, so results and errors are exactly ``json``'s."""
    # json's C scanner (an attribute every JSONDecoder has, undeclared in typeshed); it
    # clears its memo after every call.
    scan = decoder.scan_once  # type: ignore[attr-defined]
    decode = decoder.decode

    def fast_decode(text: str) -> Any:
        try:
            obj, end = scan(text, 0)
        except StopIteration:
            return decode(text)
        return obj if end == len(text) else decode(text)

    return fast_decode


# One decoder object, reused: the object_hook makes every nested JSON object an AttrDict
# (measured: +0.2 µs on a 300-byte chunk, against ~3 µs for the decode itself).
decode_json_text = _fast(json.JSONDecoder(object_hook=AttrDict))
"""Parse a JSON ``str`` with every object an :class:`AttrDict` (the hot path's version).

Raises:
    ValueError: invalid JSON (``json.JSONDecodeError``).
"""

decode_plain_text = _fast(json.JSONDecoder())
"""Parse a JSON ``str`` into plain dicts and lists: for provider events that are translated
into new chunks and never reach the caller themselves."""


def decode_json(text: str | bytes) -> Any:
    """Parse JSON so that every object is an :class:`AttrDict`.

    Raises:
        ValueError: invalid JSON or invalid UTF-8 (``json.JSONDecodeError`` and
            ``UnicodeDecodeError`` are both ValueErrors).
    """
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    return decode_json_text(text)


def retype(value: dict[str, Any], cls: type[_D]) -> _D:
    """Give a decoded top-level object its response class without copying it.

    Both classes are slot-less dict subclasses with the same layout, so assigning
    ``__class__`` is legal and O(1) (a copy would cost ~0.3 µs per chunk).
    """
    object.__setattr__(value, "__class__", cls)
    return value  # type: ignore[return-value]  # its class is now `cls`


@attrs.frozen(kw_only=True)
class Credentials:
    """Where and as whom to call a provider. ``repr`` never shows the key."""

    base_url: str
    # The one secret of the call (an API key or a bearer token): scrubbed from errors and
    # masked for logger_fn.
    api_key: str | None = attrs.field(default=None, repr=False)
    # Extra headers: Basic auth from the base URL's userinfo (a secret: never in a repr).
    headers: tuple[tuple[bytes, bytes], ...] = attrs.field(default=(), repr=False)
    # The base URL's query string, kept and merged into every request URL.
    query: str = ""
    # Provider-specific, non-secret settings resolved with the credentials (e.g. Azure's
    # ``api_version``, or ``auth="bearer"`` when the secret is a bearer token).
    extra: Mapping[str, str] = attrs.field(factory=dict)
    # Secret material a provider signs each request with (Bedrock's AWS credentials): read
    # only by that provider's ``sign``, never shown.
    signing: Any = attrs.field(default=None, repr=False)
    # A blocking resolver of the complete credentials (botocore's credential chain reads
    # files and may ask an instance-metadata service): the I/O layer runs it in a worker
    # thread before the first attempt, never on the event loop.
    resolve: Callable[[], Credentials] | None = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class CompletionRequest:
    """A validated chat request, before translation to a provider's wire format.

    ``params`` holds every body field in OpenAI's Chat Completions vocabulary (temperature,
    max_tokens, tools, response_format, ...) plus any provider-specific field the caller
    passed; ritellm's own options (timeouts, retries, credentials) are never in it.
    """

    model: str
    messages: list[Mapping[str, Any]]
    params: dict[str, Any]
    stream: bool = False
    # LiteLLM's drop_params: a parameter the provider cannot honour is dropped instead of
    # raising ParameterError.
    drop_params: bool = False


@attrs.frozen(kw_only=True)
class Media:
    """Bytes fetched for a URL a provider cannot take by reference (e.g. an image for
    Gemini), already base64-encoded for inline use."""

    mime_type: str
    data: str


@attrs.frozen(kw_only=True)
class HttpRequest:
    """A wire-ready request: the transport adds only Host and Content-Length. ``repr`` shows
    neither headers (they carry credentials) nor the body."""

    method: bytes
    url: str
    headers: list[tuple[bytes, bytes]] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
