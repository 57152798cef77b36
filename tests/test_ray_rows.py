"""ritellm.ray without a cluster: rows to requests, outcomes to output columns (exact values),
the error objects and id keys it shares with ``ritellm batch``, and that ``import ritellm``
never imports ray."""

from __future__ import annotations

import ast
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ritellm
from ritellm._fanout import FanoutStats
from ritellm.ray._requests import batch_size_for, worker_totals
from ritellm.ray._rows import (
    REQUEST_FIELDS,
    error_record,
    finished_keys,
    id_key,
    output_columns,
    request_from_row,
)

ROOT = Path(__file__).resolve().parent.parent
MSGS = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("row", "model", "params", "expected"),
    [
        # The call's model and params; the row's messages.
        ({"messages": MSGS}, "openai/m", {"temperature": 0.5}, {
            "model": "openai/m", "messages": MSGS, "temperature": 0.5}),
        # A row's fields win over the call's.
        ({"messages": MSGS, "model": "openai/r", "temperature": 0.1}, "openai/m",
         {"temperature": 0.5}, {"model": "openai/r", "messages": MSGS, "temperature": 0.1}),
        # A null field is not set: the call's value stays.
        ({"messages": MSGS, "model": None, "max_tokens": None}, "openai/m", {"max_tokens": 9},
         {"model": "openai/m", "messages": MSGS, "max_tokens": 9}),
        # Columns that are not request fields are never sent; nor is stream.
        ({"messages": MSGS, "id": 7, "label": "x", "stream": True}, None, {},
         {"messages": MSGS}),
        # Lists and objects may come as JSON text.
        ({"messages": json.dumps(MSGS), "tools": '[{"type": "function"}]'}, None, {},
         {"messages": MSGS, "tools": [{"type": "function"}]}),
        # tool_choice "auto" is text, not JSON; a broken JSON text is sent as it is.
        ({"messages": MSGS, "tool_choice": "auto", "response_format": "{nope"}, None, {},
         {"messages": MSGS, "tool_choice": "auto", "response_format": "{nope"}),
        # Arrow's struct columns give every row every field: nulls in objects are absent,
        # nulls in lists stay.
        ({"messages": [{"role": "user", "content": "Hi", "name": None}],
          "response_format": {"type": "json_schema", "json_schema": {"enum": [1, None]}}},
         None, {},
         {"messages": MSGS,
          "response_format": {"type": "json_schema", "json_schema": {"enum": [1, None]}}}),
    ],
)  # fmt: skip
def test_request_from_row(
    row: dict[str, Any], model: str | None, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert request_from_row(row, model, params) == expected


def test_request_fields_are_acompletions_keywords() -> None:
    """REQUEST_FIELDS is CompletionParams (ritellm/_call.py) minus what a row cannot hold."""
    tree = ast.parse((ROOT / "ritellm" / "_call.py").read_text(encoding="utf-8"))
    params = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "CompletionParams"
    )
    declared = {
        stmt.target.id
        for stmt in params.body
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
    }
    python_objects = {"logger_fn", "mock_response"}
    assert (declared - python_objects) | {"model", "messages"} == REQUEST_FIELDS


RESPONSE: dict[str, Any] = {
    "id": "c1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}}],
}
TOOL_CALL: dict[str, Any] = {
    "id": "c2",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": []}}],
}


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (RESPONSE, (json.dumps(RESPONSE, separators=(",", ":")), "Paris", None)),
        (TOOL_CALL, (json.dumps(TOOL_CALL, separators=(",", ":")), None, None)),
        ({"id": "c3", "choices": []}, ('{"id":"c3","choices":[]}', None, None)),
        (
            ritellm.BadRequestError("bad", status_code=400, code="x"),
            (
                None,
                None,
                '{"type": "BadRequestError", "message": "HTTP 400: bad", '
                '"status_code": 400, "code": "x"}',
            ),
        ),
        (
            ritellm.ParameterError("the row has no model"),
            (None, None, '{"type": "ParameterError", "message": "the row has no model"}'),
        ),
    ],
)
def test_output_columns(outcome: Any, expected: tuple[str | None, ...]) -> None:
    assert output_columns(outcome) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ritellm.RateLimitError("slow down", status_code=429, code="rate_limit"),
            {
                "type": "RateLimitError",
                "message": "HTTP 429: slow down",
                "status_code": 429,
                "code": "rate_limit",
            },
        ),
        (
            ritellm.APITimeoutError("timed out"),
            {"type": "APITimeoutError", "message": "timed out", "status_code": None, "code": None},
        ),
        (
            ritellm.ParameterTypeError("messages must be a list"),
            {"type": "ParameterTypeError", "message": "messages must be a list"},
        ),
        (ValueError("boom"), {"type": "ValueError", "message": "boom"}),
    ],
)
def test_error_record(exc: BaseException, expected: dict[str, Any]) -> None:
    assert error_record(exc) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        ("1", '"1"'),
        (None, "null"),
        ([1, "a"], '[1, "a"]'),
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
        (datetime.date(2026, 1, 2), '"2026-01-02"'),  # a Dataset's date column
    ],
)
def test_id_key(value: Any, expected: str) -> None:
    assert id_key(value) == expected


def test_finished_keys_and_ids() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "response": True, "error": None},
        {"id": "1", "response": False, "error": "{}"},
        {"id": None, "response": True, "error": None},
        {"response": True},
    ]
    assert id_key(1) != id_key("1")
    assert finished_keys(rows, retry_errors=True) == {id_key(1)}
    assert finished_keys(rows, retry_errors=False) == {id_key(1), id_key("1")}


@pytest.mark.parametrize(
    ("rows", "workers", "concurrency", "size"),
    [
        (1, 2, 16, 1),
        (30, 2, 16, 8),  # half a worker's concurrency: results come back 8 at a time
        (400, 2, 4, 7),  # about eight rounds of four batches on each worker
        (2_000, 2, 16, 32),
        (100_000, 2, 16, 64),  # map_completions' default, at most
        (100, 2, 1, 2),
    ],
)
def test_batch_size_for(rows: int, workers: int, concurrency: int, size: int) -> None:
    assert batch_size_for(rows, workers, concurrency) == size


def test_worker_totals() -> None:
    stats = FanoutStats(done=7, concurrency=32)
    worker_totals({}, stats)  # nobody has reported: the configured limit stays
    assert (stats.done, stats.retried, stats.in_flight, stats.concurrency) == (7, 0, 0, 32)
    workers = {
        "a": {"pid": 1, "starts": 1, "done": 3, "retried": 2, "in_flight": 5, "limit": 8},
        "b": {"pid": 2, "starts": 1, "done": 0, "failed": 0, "retried": 0},  # only registered
    }
    worker_totals(workers, stats)
    assert (stats.done, stats.retried, stats.in_flight, stats.concurrency) == (7, 2, 5, 8)


@pytest.mark.parametrize(
    "code",
    [
        "import sys, ritellm; print('ray' in sys.modules, 'pyarrow' in sys.modules)",
        # Even ritellm.ray imports ray only when one of its functions runs.
        "import sys, ritellm.ray; print('ray' in sys.modules, 'pyarrow' in sys.modules)",
    ],
)
def test_import_ritellm_does_not_import_ray(code: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "False False"
