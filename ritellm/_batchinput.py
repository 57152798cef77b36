"""The input of ``ritellm batch``: its lines read into requests (each with its id, line
number and problem, if any), each routed to the bundled simulator or not, and the ids
checked for duplicates. No I/O beyond reading the file; no network.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._batchfile import id_key

__all__ = ["Row", "line_numbers", "parse_line", "read_requests", "simulated_lines"]


@attrs.frozen
class Row:
    """One non-blank input line."""

    ident: Any
    number: int
    request: dict[str, Any] | None
    """None when the line is not a request (its problem says why)."""
    problem: str | None
    simulated: bool = False
    """Sent to the bundled simulator in this run."""

    def tag(self) -> dict[str, Any]:
        """The fields that start its result line: id, line number, the simulator's mark."""
        if self.simulated:
            return {"id": self.ident, "line": self.number, "simulated": True}
        return {"id": self.ident, "line": self.number}


def parse_line(text: str, number: int) -> tuple[Any, str | None]:
    """(the line's JSON object or None, the problem with it)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"line {number} is not JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(obj, dict):
        return None, f"line {number} is not a JSON object"
    return obj, None


def read_requests(
    path: str,
    model: str | None,
    defaults: Mapping[str, Any],
    base_url_for: Callable[[Mapping[str, Any]], str | None] | None,
) -> tuple[list[Row], list[str]]:
    """The non-blank input lines, and the problems that stop the batch (duplicate ids)."""
    rows: list[Row] = []
    fatal: list[str] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            obj, problem = parse_line(text, number)
            implicit = obj is None or "id" not in obj
            ident = number if obj is None else obj.pop("id", number)
            # Every line's id goes through this check, a line that is not a request too:
            # its error line is tagged with its number, which an explicit id may also be.
            if id_key(ident) in seen:
                known = " (a line without an id is known by its number)" if implicit else ""
                fatal.append(f"duplicate id {ident!r} on line {number}{known}")
            seen.add(id_key(ident))
            if obj is None:
                rows.append(Row(ident, number, None, problem))
                continue
            request = {**defaults, **obj}
            if model and "model" not in obj:
                request["model"] = model
            if "model" not in request:
                rows.append(Row(ident, number, None, f"line {number} has no model (use --model)"))
                continue
            url = base_url_for(request) if base_url_for is not None else None
            if url is not None:
                request.pop("api_base", None)
                request["base_url"] = url
            rows.append(Row(ident, number, request, None, simulated=url is not None))
    return rows, fatal


def simulated_lines(
    input_path: str,
    model: str | None,
    defaults: Mapping[str, Any],
    simulates: Callable[[Mapping[str, Any]], bool],
) -> tuple[int, Counter[str]]:
    """Which input lines the bundled simulator would answer, before it is started: (the
    number of requests in the input, how many of them go to it by model, in input order).

    Args:
        input_path: the batch's input.
        model: the model of lines that name none.
        defaults: acompletion parameters for every line.
        simulates: whether a request (a line with the defaults) goes to the simulator.
    """
    rows, _ = read_requests(input_path, model, defaults, lambda r: "" if simulates(r) else None)
    requests = [(row.request, row.simulated) for row in rows if row.request is not None]
    return len(requests), Counter(str(r["model"]) for r, simulated in requests if simulated)


def line_numbers(numbers: list[int]) -> str:
    """``line 3``, ``lines 2, 5, 7``, ``lines 2, 5, 7 and 10 more``."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    shown = ", ".join(str(n) for n in numbers[:3])
    more = f" and {len(numbers) - 3} more" if len(numbers) > 3 else ""
    return f"lines {shown}{more}"
