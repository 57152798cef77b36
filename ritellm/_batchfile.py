"""The output file of ``ritellm batch``: which ids it holds (answered, failed, answered by the
bundled simulator), a torn last line cut off, and the rewrite that leaves one line per id
after a run that redid some lines (``--retry-errors``, simulated results).

File handling and the shape of its lines' ids and errors (``ritellm.ray`` shares both): no
anyio, no network. The rewrite goes through a temporary file in the same directory, fsync
and ``os.replace``, so the output is always either the old file or the new one, whole.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from typing import Any, NamedTuple

import attrs

from ._errors import APIError

__all__ = [
    "JOURNAL_SUFFIX",
    "OutputState",
    "atomic_write",
    "error_record",
    "id_key",
    "merge_journal",
    "one_line_per_id",
    "read_output",
    "recover_journal",
    "whole_lines",
]

# A run that redoes lines writes its results here (beside the output) and folds them into the
# output when it ends; after a kill -9 the next run folds in what is left.
JOURNAL_SUFFIX = ".retry"


def id_key(value: Any) -> str:
    """Ids compare by their JSON form: 3 and "3" stay distinct, and lists are hashable.
    The one rule for ``ritellm batch`` and ``ritellm.ray``, whose ids (a Dataset column)
    may be values JSON does not have, such as a date: those compare by their ``str``.

    Args:
        value: an input line's id.
    """
    return json.dumps(value, sort_keys=True, default=str)


def error_record(exc: BaseException) -> dict[str, Any]:
    """An error line's ``error`` object, for ``ritellm batch`` and ``ritellm.ray``'s error
    rows: the error's class name and message, plus the HTTP status and provider code for an
    API error.

    Args:
        exc: what ended the request.
    """
    record: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIError):
        record["status_code"] = exc.status_code
        record["code"] = exc.code
    return record


class _Result(NamedTuple):
    key: str
    answered: bool
    simulated: bool


def _result(line: bytes) -> _Result | None:
    """What one of our result lines says; None for any other line."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "id" not in record:
        return None
    simulated = record.get("simulated") is True
    if "response" in record:
        return _Result(id_key(record["id"]), True, simulated)
    if "error" in record:
        return _Result(id_key(record["id"]), False, simulated)
    return None


def _replaces(newer: _Result, held: _Result) -> bool:
    """Whether a later line of an id takes the place of its earlier one: anything replaces
    an error or a simulated result; only a real response replaces a real response."""
    return (newer.answered and not newer.simulated) or not held.answered or held.simulated


def _best(lines: list[bytes]) -> tuple[list[_Result | None], dict[str, tuple[bytes, _Result]]]:
    """Each line's result, and each id's best line (see :func:`_replaces`)."""
    results = [_result(line) for line in lines]
    best: dict[str, tuple[bytes, _Result]] = {}
    for line, result in zip(lines, results, strict=True):
        if result is not None:
            held = best.get(result.key)
            if held is None or _replaces(result, held[1]):
                best[result.key] = (line, result)
    return results, best


@attrs.frozen
class OutputState:
    """What an output file already holds: each id's best line (the one a rewrite keeps)."""

    answered: frozenset[str]
    """Ids whose line is a response."""
    failed: frozenset[str]
    """Ids whose line is an error."""
    simulated: frozenset[str] = frozenset()
    """Of those, the ids whose line the bundled simulator produced (``"simulated": true``)."""
    repaired_torn_line: bool = False


def whole_lines(data: bytes) -> tuple[list[bytes], bool]:
    """The complete lines of ``data`` (without their newlines), and whether a last line
    without its newline was left out: a write the previous run did not finish.

    Args:
        data: a whole file's bytes.
    """
    torn = bool(data) and not data.endswith(b"\n")
    lines = data.split(b"\n")
    lines.pop()  # what follows the last newline: b"" or the torn line
    return lines, torn


def read_output(path: str) -> OutputState:
    """What ``path`` holds, cutting a torn last line off the file (its request is done
    again); a missing file holds nothing.

    Args:
        path: the output file.
    """
    if not os.path.exists(path):
        return OutputState(frozenset(), frozenset())
    with open(path, "rb") as f:
        data = f.read()
    lines, torn = whole_lines(data)
    if torn:
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
    _, best = _best(lines)
    results = [result for _, result in best.values()]
    return OutputState(
        answered=frozenset(r.key for r in results if r.answered),
        failed=frozenset(r.key for r in results if not r.answered),
        simulated=frozenset(r.key for r in results if r.simulated),
        repaired_torn_line=torn,
    )


def one_line_per_id(lines: list[bytes]) -> list[bytes]:
    """Each id's best line, in the place of its first line: its last real response, else its
    last line (so a redone simulated result replaces the simulator's, even by an error).
    Lines that are not results (not JSON, no id) stay where they are.

    Args:
        lines: the output's lines followed by the newer ones, without newlines.
    """
    results, best = _best(lines)
    merged: list[bytes] = []
    placed: set[str] = set()
    for line, result in zip(lines, results, strict=True):
        if result is None:
            merged.append(line)
        elif result.key not in placed:
            placed.add(result.key)
            merged.append(best[result.key][0])
    return merged


def atomic_write(path: str, lines: list[bytes]) -> None:
    """Replace ``path`` with ``lines``: a temporary file in the same directory, fsync,
    ``os.replace``, then fsync the directory so the rename itself survives a power cut.

    Args:
        path: the file to replace.
        lines: its new lines, without newlines.
    """
    # A fresh name: a fixed one would overwrite a file of the user's and collide between
    # two runs; hidden, and removed if anything fails before the replace.
    folder, name = os.path.split(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        if os.path.exists(path):  # mkstemp's file is private (0600): keep the output's mode
            os.chmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        with open(fd, "wb") as f:
            f.writelines(line + b"\n" for line in lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def merge_journal(path: str, journal: str) -> int:
    """Fold the results of a run that redid lines into the output, one line per id (see
    :func:`one_line_per_id`), and remove the journal. Safe to repeat after a crash at any
    point: until the replace, the output is untouched and the journal is still there.

    Args:
        path: the output file.
        journal: the results written by the run (a torn last line is left out).

    Returns:
        How many results the journal held.
    """
    with open(journal, "rb") as f:
        newer, _ = whole_lines(f.read())
    older: list[bytes] = []
    if os.path.exists(path):
        with open(path, "rb") as f:
            older, _ = whole_lines(f.read())
    atomic_write(path, one_line_per_id(older + newer))
    os.remove(journal)
    return sum(_result(line) is not None for line in newer)


def recover_journal(path: str, journal: str) -> int:
    """Fold in the journal a run that redid lines left behind (killed before it could),
    if there is one.

    Args:
        path: the output file.
        journal: where that run wrote its results.

    Returns:
        How many results it held (0 without a journal).
    """
    if not os.path.exists(journal):
        return 0
    return merge_journal(path, journal)
