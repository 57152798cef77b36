"""Pure: a Dataset row to an ``acompletion`` keyword dict, and an outcome to the output
columns (``response``, ``content``, ``error``). No ray, anyio or I/O; ids and error objects
follow ``ritellm batch``'s own rules (``_batchfile``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .._batchfile import error_record, id_key

__all__ = [
    "OUTPUT_COLUMNS",
    "REQUEST_FIELDS",
    "error_record",
    "finished_keys",
    "id_key",
    "output_columns",
    "request_from_row",
]

OUTPUT_COLUMNS = ("response", "content", "error")

# The columns a row may carry that are sent: acompletion's keywords (CompletionParams in
# ritellm/_call.py; a test keeps the two lists equal) minus `stream` (never used here) and
# the ones that take Python objects (logger_fn, mock_response, a response_format class).
# Any other column is carried through to the output, never sent: an unknown keyword would
# reach the provider's body.
REQUEST_FIELDS = frozenset(
    {
        "model",
        "messages",
        "base_url",
        "api_base",
        "api_key",
        "additional_params",
        "timeout",
        "num_retries",
        "max_retries",
        "extra_headers",
        "headers",
        "fallbacks",
        "drop_params",
        "api_version",
        "azure_ad_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "aws_profile_name",
        "proxy",
        "metadata",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "stream_options",
        "service_tier",
        "store",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
        "top_k",
        "thinking",
        "safety_settings",
    }
)
# Fields whose value is a list or an object: a string there is that value as JSON (Parquet
# and Arrow hold such values best as text, see docs/scaling.md).
_JSON_FIELDS = frozenset(
    {
        "messages",
        "tools",
        "tool_choice",
        "response_format",
        "extra_headers",
        "headers",
        "fallbacks",
        "metadata",
        "logit_bias",
        "stream_options",
        "audio",
        "prediction",
        "web_search_options",
        "thinking",
        "safety_settings",
        "additional_params",
    }
)


def _without_nulls(value: Any) -> Any:
    """Arrow gives every row of a struct column every field, null where the row had none:
    a null in an object means "absent" (lists keep their nulls)."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_nulls(v) for v in value]
    return value


def _decoded(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value  # sent as it is: ritellm's own check names the field
    return _without_nulls(value)


def request_from_row(
    row: Mapping[str, Any], model: str | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``acompletion`` keywords for one row: the call's ``params`` and ``model``, with
    the row's own request fields winning; a null field is not set.

    Args:
        row: one input row (``messages``, optional ``model`` and request fields, anything
            else is not sent).
        model: the call's model, for rows without one.
        params: the call's ``acompletion`` keywords.

    Returns:
        The keywords; ``model`` or ``messages`` may be missing (the caller reports it).
    """
    request: dict[str, Any] = dict(params)
    if model is not None:
        request["model"] = model
    for name, value in row.items():
        if value is not None and name in REQUEST_FIELDS:
            request[name] = _decoded(name, value)
    return request


def _first_content(response: Mapping[str, Any]) -> str | None:
    choices = response.get("choices")
    if not choices or not isinstance(choices[0], Mapping):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    if content is None or isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)  # e.g. a list of parts


def output_columns(outcome: Any) -> tuple[str | None, str | None, str | None]:
    """``(response, content, error)`` for one outcome: a response (a mapping in OpenAI's
    ``chat.completion`` shape) or the exception that ended the row."""
    if isinstance(outcome, BaseException):
        return None, None, json.dumps(error_record(outcome), ensure_ascii=False)
    text = json.dumps(outcome, separators=(",", ":"), ensure_ascii=False)
    return text, _first_content(outcome), None


def finished_keys(rows: Iterable[Mapping[str, Any]], *, retry_errors: bool) -> set[str]:
    """Ids an earlier run finished: those with a response (or an error, unless
    ``retry_errors``)."""
    done: set[str] = set()
    for row in rows:
        if "id" not in row or row["id"] is None:
            continue
        if row.get("response") or (row.get("error") is not None and not retry_errors):
            done.add(id_key(row["id"]))
    return done
