"""`ritellm batch` as a user meets it: the default model and the simulator fallback shared with
`chat`, the exit status, what a rerun says about failed lines, `--retry-errors` replacing
error lines in place (also when interrupted or killed), and clear errors for bad input.
Runs the real command in-process through `main(argv)` and as `python -m ritellm`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ritellm._batchfile import atomic_write, one_line_per_id, whole_lines
from ritellm._batchjob import BatchSummary
from ritellm._cli import main
from ritellm._cli_batch import failure_hint
from ritellm.testing import Reply, Simulator, ThreadedSimulator

from .batch_helpers import batch, normal, read_output, wait_for_lines, write_input

NO_KEY = (
    "ritellm: no API key found for openai (set OPENAI_API_KEY, or pass --api-key or "
    "--base-url); answering from the bundled simulator at http://127.0.0.1:PORT/v1"
)
NO_ANTHROPIC_KEY = (
    "error: AuthenticationError: anthropic: No API key for provider 'anthropic': pass "
    "api_key=... or set ANTHROPIC_API_KEY ({lines} of {src} need it); nothing was sent"
)
HINT = "ritellm: pass --api-key, or add --simulator to try the bundled simulator"
REQUESTED = "ritellm: --simulator given; answering from the bundled simulator at {url}"
SLOW = {"x-ritellm-sim": json.dumps({"latency": 0.05})}
FAIL = {"x-ritellm-sim": json.dumps({"status": 400, "error_message": "nope"})}


def message(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"question {i}"}]


def ids(path: Path) -> list[str]:
    return [r["id"] for r in read_output(path)]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "in.jsonl", tmp_path / "out.jsonl"


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_default_model_and_simulator_fallback_are_chats(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], backend: str
) -> None:
    src, out = files
    write_input(src, 5)
    status, err = batch(capsys, str(src), "-o", str(out), "--backend", backend)
    assert status == 0
    assert err == [
        NO_KEY,
        "ritellm batch: 5 lines: 5 done, 0 failed, 0 already finished, 0 retried after 429, in Ts",
    ]
    records = read_output(out)
    assert [r["response"]["model"] for r in records] == ["gpt-4o-mini"] * 5
    # The same notice, word for word, as chat's.
    assert main(["chat", "hi"]) == 0
    assert normal(capsys.readouterr().err) == [NO_KEY]


def test_fallback_as_a_subprocess(files: tuple[Path, Path]) -> None:
    src, out = files
    write_input(src, 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "ritellm", "batch", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (proc.returncode, proc.stdout) == (0, "")
    assert normal(proc.stderr) == [
        NO_KEY,  # stderr is a pipe: no progress line, just the summary
        "ritellm batch: 3 lines: 3 done, 0 failed, 0 already finished, 0 retried after 429, in Ts",
    ]
    assert ids(out) == ["r0", "r1", "r2"]


def test_the_fallback_is_decided_per_line(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tsim: ThreadedSimulator
) -> None:
    src, out = files
    claude = {"id": "claude", "model": "anthropic/claude-sonnet-4-5", "messages": message(1)}
    src.write_text(json.dumps({"id": "openai", "messages": message(0)}) + "\n")
    with src.open("a") as f:
        f.write(json.dumps(claude) + "\n")
    status, err = batch(capsys, str(src), "-o", str(out))
    # Another provider's model is never answered by the simulator behind the user's back.
    assert (status, err) == (
        1,
        [
            NO_KEY,
            "ritellm batch: the simulator answers 1 of 2 lines (openai/gpt-4o-mini); the others "
            "go to their providers",
            NO_ANTHROPIC_KEY.format(lines="line 2", src=src).replace("need it", "needs it"),
            HINT,
        ],
    )
    assert not out.exists()
    # A line with its own key and base URL goes there; the other one still falls back.
    with src.open("w") as f:
        f.write(json.dumps({"id": "openai", "messages": message(0)}) + "\n")
        f.write(json.dumps({**claude, "api_key": "k", "base_url": tsim.url}) + "\n")
    status, err = batch(capsys, str(src), "-o", str(out))
    assert status == 0
    assert err[0] == NO_KEY
    records = {r["id"]: r for r in read_output(out)}
    assert records["openai"]["simulated"] is True
    assert "simulated" not in records["claude"]
    assert records["claude"]["response"]["model"] == "claude-sonnet-4-5"
    assert len(tsim.requests) == 1
    # --simulator answers every line, each in its own format.
    out.unlink()
    status, err = batch(capsys, str(src), "-o", str(out), "--simulator")
    assert status == 0
    assert err[0] == REQUESTED.format(url="http://127.0.0.1:PORT/v1")
    assert [r["response"]["model"] for r in read_output(out)] == [
        "gpt-4o-mini",
        "claude-sonnet-4-5",
    ]


def test_failed_lines_make_the_exit_status_1_and_a_rerun_says_how_to_retry(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    src, out = files
    write_input(src, 4)
    with src.open("a") as f:
        f.write(json.dumps({"id": "x", "messages": message(9), "extra_headers": FAIL}) + "\n")
    argv = [str(src), "-o", str(out), "--simulator"]
    status, err = batch(capsys, *argv)
    assert status == 1
    assert err[1:] == [
        "ritellm batch: 5 lines: 4 done, 1 failed, 0 already finished, 0 retried after 429, in Ts",
        "ritellm batch: 1 line failed; rerun with --retry-errors to retry it",
    ]
    status, err = batch(capsys, *argv)
    assert status == 1
    assert err[1:] == [
        "ritellm batch: 5 lines: 0 done, 0 failed, 5 already finished, 0 retried after 429, in Ts",
        "ritellm batch: 1 line failed earlier; rerun with --retry-errors to retry it",
    ]
    assert sorted(ids(out)) == ["r0", "r1", "r2", "r3", "x"]  # the rerun wrote nothing


def test_retry_errors_replaces_each_error_line_in_place(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tsim: ThreadedSimulator
) -> None:
    src, out = files
    write_input(src, 10)
    tsim.script(*[Reply(status=400, error_message="nope")] * 3)  # the first three requests
    argv = [str(src), "-o", str(out), "--base-url", tsim.base_url, "-m", "gpt-4o", "-c", "1"]
    status, err = batch(capsys, *argv)
    assert (status, err[-1]) == (
        1,
        "ritellm batch: 3 lines failed; rerun with --retry-errors to retry them",
    )
    assert [("error" in r) for r in read_output(out)] == [True] * 3 + [False] * 7
    status, err = batch(capsys, *argv, "--retry-errors")
    assert status == 0
    assert err == [
        "ritellm batch: 10 lines: 3 done, 0 failed, 7 already finished, 0 retried after 429, in Ts"
    ]
    records = read_output(out)
    assert [r["id"] for r in records] == [f"r{i}" for i in range(10)]  # once each, in order
    assert all("response" in r for r in records)
    assert sorted(p.name for p in out.parent.iterdir()) == ["in.jsonl", "out.jsonl"]
    assert len(tsim.requests) == 13  # nothing answered was sent again


def test_retry_errors_repairs_duplicates_left_by_older_versions(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    src, out = files
    write_input(src, 3)
    error = {"id": "r1", "line": 2, "error": {"type": "X", "message": "m"}}
    out.write_text("".join(json.dumps(r) + "\n" for r in (error, error)))
    status, err = batch(capsys, str(src), "-o", str(out), "--simulator", "--retry-errors")
    assert (status, err[-1][:44]) == (0, "ritellm batch: 3 lines: 3 done, 0 failed, 0 ")
    assert ids(out) == ["r1", "r0", "r2"]
    assert all("response" in r for r in read_output(out))


def popen(src: Path, out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "ritellm", "batch", "--simulator", "-m", "gpt-4o"),
            *(str(src), "-o", str(out), "-c", "2", "--no-progress", *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def all_failed(src: Path, out: Path, n: int) -> bytes:
    """An output in which each of the n lines failed: what --retry-errors starts from."""
    write_input(src, n, extra_headers=SLOW)
    error = {"type": "InternalServerError", "message": "try later"}
    out.write_text(
        "".join(json.dumps({"id": f"r{i}", "line": i + 1, "error": error}) + "\n" for i in range(n))
    )
    return out.read_bytes()


def assert_each_id_once(out: Path, n: int) -> list[dict[str, Any]]:
    records = read_output(out)  # every line whole JSON
    assert [r["id"] for r in records] == [f"r{i}" for i in range(n)]  # none lost, none twice
    return records


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_during_retry_errors_keeps_one_line_per_id(
    files: tuple[Path, Path], backend: str
) -> None:
    src, out = files
    all_failed(src, out, 40)
    journal = out.with_name("out.jsonl.retry")
    proc = popen(src, out, "--retry-errors", "--backend", backend)
    try:
        wait_for_lines(journal, 6, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert normal(err)[-1] == "interrupted; rerun the same command to resume"
    records = assert_each_id_once(out, 40)
    answered = sum("response" in r for r in records)
    assert 6 <= answered < 40  # what was retried replaced its error line in place
    assert not journal.exists()
    proc = popen(src, out, "--retry-errors")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"{answered} already finished" in err
    assert all("response" in r for r in assert_each_id_once(out, 40))


def test_kill_9_during_retry_errors_loses_nothing(files: tuple[Path, Path]) -> None:
    src, out = files
    before = all_failed(src, out, 40)
    journal = out.with_name("out.jsonl.retry")
    proc = popen(src, out, "--retry-errors")
    try:
        wait_for_lines(journal, 6, proc)
        proc.kill()
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.read_bytes() == before  # the output is never half-rewritten
    with journal.open("a") as f:
        f.write('{"id": "r39", "line": 40, "respo')  # a write the kill cut short
    retried = journal.read_text().count("\n")
    assert retried >= 6
    # Any rerun folds the paid-for results in first; this one does not retry the rest.
    proc = popen(src, out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert normal(err) == [
        REQUESTED.format(url="http://127.0.0.1:PORT/v1"),
        f"ritellm batch: recovered {retried} redone results of an interrupted run",
        "ritellm batch: 40 lines: 0 done, 0 failed, 40 already finished, 0 retried after 429, "
        "in Ts",
        f"ritellm batch: {40 - retried} lines failed earlier; rerun with --retry-errors to retry "
        "them",
    ]
    assert sum("response" in r for r in assert_each_id_once(out, 40)) == retried
    assert not journal.exists()


def test_invalid_lines_are_named_with_their_line_numbers(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    src, out = files
    src.write_text(
        json.dumps({"messages": message(0)})
        + "\n\n{not json\n[1, 2]\n"
        + json.dumps({"id": "bad", "messages": "oops"})
        + "\n"
        + "".join(
            json.dumps({"id": f"n{i}", "messages": message(i), "max_tokens": -i}) + "\n"
            for i in range(3)
        )
    )
    status, err = batch(capsys, str(src), "-o", str(out), "--simulator")
    assert status == 1
    assert err[1:] == [
        f"ritellm batch: {src}: line 3 is not JSON: Expecting property name enclosed in double "
        "quotes (column 2)",
        f"ritellm batch: {src}: line 4 is not a JSON object",
        f"ritellm batch: {src}: line 5: messages must be a list of dicts like {{'role': 'user', "
        "'content': '...'}, not str",
        f"ritellm batch: {src}: line 6: max_tokens must be >= 1, got 0",
        f"ritellm batch: {src}: line 7: max_tokens must be >= 1, got -1",
        "ritellm batch: ... and 1 more invalid lines",
        "ritellm batch: 7 lines: 1 done, 6 failed, 0 already finished, 0 retried after 429, in Ts",
        "ritellm batch: 6 lines failed; rerun with --retry-errors to retry them",
    ]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing input", "error: cannot read {src}: No such file or directory"),
        ("input is a directory", "error: cannot read {src}: Is a directory"),
        ("no such directory", "error: cannot write {out}: there is no directory {folder}"),
        ("output is a directory", "error: {out} is a directory: -o takes a file"),
        ("output is the input", "error: {out} is the input file: give -o another file"),
    ],
)
def test_command_line_mistakes_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str, expected: str
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 1)
    if case == "missing input":
        src = tmp_path / "nope.jsonl"
    elif case == "input is a directory":
        src = tmp_path
    elif case == "no such directory":
        out = tmp_path / "results" / "out.jsonl"
    elif case == "output is a directory":
        out = tmp_path
    else:
        out = src
    before = sorted(tmp_path.iterdir())
    status = main(["batch", str(src), "-o", str(out), "--simulator"])
    assert capsys.readouterr() == ("", expected.format(src=src, out=out, folder=out.parent) + "\n")
    assert status == 1
    assert sorted(tmp_path.iterdir()) == before  # nothing created, nothing sent


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c", "0"], "argument --concurrency/-c: must be 1 or more, got 0"),
        (["--retries", "-1"], "argument --retries: must be 0 or more, got -1"),
        (["--rpm", "0"], "argument --rpm: must be more than 0, got 0"),
        ([], "the following arguments are required: -o/--output"),
    ],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["batch", "in.jsonl", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1] == f"ritellm batch: error: {message}"


@pytest.mark.parametrize(
    ("failed", "before", "expected"),
    [
        (0, 0, None),
        (1, 0, "1 line failed; rerun with --retry-errors to retry it"),
        (3, 0, "3 lines failed; rerun with --retry-errors to retry them"),
        (0, 1, "1 line failed earlier; rerun with --retry-errors to retry it"),
        (0, 200, "200 lines failed earlier; rerun with --retry-errors to retry them"),
        (2, 3, "5 lines failed (3 of them earlier); rerun with --retry-errors to retry them"),
    ],
)
def test_failure_hint(failed: int, before: int, expected: str | None) -> None:
    assert failure_hint(failed, before) == expected


def rec(ident: Any, kind: str, tag: str = "") -> bytes:
    return json.dumps({"id": ident, kind: tag}).encode()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], []),
        ([rec("a", "error")], [rec("a", "error")]),
        # A newer response takes the error line's place; other lines keep their order.
        (
            [rec("a", "error"), rec("b", "response"), rec("a", "response")],
            [rec("a", "response"), rec("b", "response")],
        ),
        # A newer error replaces an older error, never a response.
        ([rec("a", "error", "1"), rec("a", "error", "2")], [rec("a", "error", "2")]),
        ([rec("a", "response"), rec("a", "error")], [rec("a", "response")]),
        # Ids compare as JSON values: 1 and "1" are different ids.
        ([rec(1, "error"), rec("1", "response")], [rec(1, "error"), rec("1", "response")]),
        # Lines that are not results stay where they were.
        (
            [b"not json", rec("a", "error"), b'{"x": 1}', rec("a", "response")],
            [b"not json", rec("a", "response"), b'{"x": 1}'],
        ),
        # New ids go after the older lines, in the order they came.
        (
            [rec("a", "response"), rec("c", "response"), rec("b", "response")],
            [rec("a", "response"), rec("c", "response"), rec("b", "response")],
        ),
    ],
)
def test_one_line_per_id(lines: list[bytes], expected: list[bytes]) -> None:
    assert one_line_per_id(lines) == expected


@pytest.mark.parametrize(
    ("data", "lines", "torn"),
    [
        (b"", [], False),
        (b"a\n", [b"a"], False),
        (b"a\nb\n", [b"a", b"b"], False),
        (b'a\n{"id', [b"a"], True),
        (b'{"id', [], True),
        (b"a\n\n", [b"a", b""], False),
    ],
)
def test_whole_lines(data: bytes, lines: list[bytes], torn: bool) -> None:
    assert whole_lines(data) == (lines, torn)


@pytest.mark.parametrize("order", ["explicit first", "invalid first"])
def test_an_invalid_lines_number_never_collides_with_an_explicit_id(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], order: str
) -> None:
    # A line that is not JSON is known by its line number, like a line without an id, so an
    # explicit id equal to it is a duplicate: two result lines with one id would be merged
    # into one by --retry-errors, losing the other's record.
    src, out = files
    if order == "explicit first":
        src.write_text(json.dumps({"id": 2, "messages": message(0)}) + "\n{not json\n")
        expected = "duplicate id 2 on line 2 (a line without an id is known by its number)"
    else:
        src.write_text("{not json\n" + json.dumps({"id": 1, "messages": message(0)}) + "\n")
        expected = "duplicate id 1 on line 2"
    status, err = batch(capsys, str(src), "-o", str(out), "--simulator")
    assert (status, err[-1]) == (1, f"error: ParameterError: {expected}")
    assert not out.exists()  # nothing sent, nothing written


def test_a_missing_key_stops_the_job_and_a_rerun_with_it_does_every_line(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tsim: ThreadedSimulator
) -> None:
    # No key is the job's configuration, not the lines' fault: said once, with chat's hint,
    # and nothing is written, so the rerun with the key sends them all (no --retry-errors).
    src, out = files
    write_input(src, 5)
    with src.open("a") as f:
        f.write(json.dumps({"id": "bad", "messages": message(9), "max_tokens": 0}) + "\n")
    argv = [str(src), "-o", str(out), "-m", "anthropic/claude-sonnet-4-5"]
    status, err = batch(capsys, *argv)
    assert (status, err) == (
        1,
        [NO_ANTHROPIC_KEY.format(lines="lines 1, 2, 3 and 2 more", src=src), HINT],
    )
    assert not out.exists()
    assert tsim.requests == []
    status, err = batch(capsys, *argv, "--api-key", "k", "--base-url", tsim.url)
    assert status == 1  # the line with its own bad parameter is still its own error line
    assert err == [
        f"ritellm batch: {src}: line 6: max_tokens must be >= 1, got 0",
        "ritellm batch: 6 lines: 5 done, 1 failed, 0 already finished, 0 retried after 429, in Ts",
        "ritellm batch: 1 line failed; rerun with --retry-errors to retry it",
    ]
    assert sorted(ids(out)) == ["bad", "r0", "r1", "r2", "r3", "r4"]
    assert len(tsim.requests) == 5


def test_the_simulator_starts_for_the_lines_that_go_to_it_whatever_the_default_model(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tsim: ThreadedSimulator
) -> None:
    src, out = files
    claude = {"api_key": "k", "base_url": tsim.url}  # the default model: their own endpoint
    src.write_text(
        json.dumps({"id": "gpt", "model": "openai/gpt-4o-mini", "messages": message(0)})
        + "\n"
        + "".join(json.dumps({"id": i, "messages": message(i), **claude}) + "\n" for i in (1, 2))
    )
    argv = [str(src), "-o", str(out), "-m", "anthropic/claude-sonnet-4-5"]
    status, err = batch(capsys, *argv)
    assert (status, err) == (
        0,
        [
            NO_KEY,
            "ritellm batch: the simulator answers 1 of 3 lines (openai/gpt-4o-mini); the others "
            "go to their providers",
            "ritellm batch: 3 lines: 3 done, 0 failed, 0 already finished, 0 retried after 429, "
            "in Ts",
        ],
    )
    records = sorted(read_output(out), key=lambda r: int(r["line"]))
    assert [(r["id"], r.get("simulated", False)) for r in records] == [
        ("gpt", True),
        (1, False),
        (2, False),
    ]
    assert [r["response"]["model"] for r in records] == ["gpt-4o-mini"] + ["claude-sonnet-4-5"] * 2
    assert len(tsim.requests) == 2
    # No line for the simulator (the default model is OpenAI's): it neither starts nor says so.
    src.write_text(
        "".join(
            json.dumps({"id": i, "model": "anthropic/claude-sonnet-4-5", "messages": message(i)})
            + "\n"
            for i in (1, 2)
        )
    )
    out.unlink()
    status, err = batch(capsys, str(src), "-o", str(out))
    assert (status, err) == (1, [NO_ANTHROPIC_KEY.format(lines="lines 1, 2", src=src), HINT])


def test_the_rewrite_uses_a_fresh_temporary_file_and_keeps_the_outputs_mode(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tsim: ThreadedSimulator
) -> None:
    src, out = files
    write_input(src, 3)
    mine = out.parent / "out.jsonl.tmp"
    mine.write_text("the user's own file\n")
    tsim.script(Reply(status=400, error_message="nope"))
    argv = [str(src), "-o", str(out), "--base-url", tsim.base_url, "-m", "gpt-4o", "-c", "1"]
    assert batch(capsys, *argv)[0] == 1
    out.chmod(0o640)
    assert batch(capsys, *argv, "--retry-errors")[0] == 0
    assert mine.read_text() == "the user's own file\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["in.jsonl", "out.jsonl", mine.name]
    assert out.stat().st_mode & 0o777 == 0o640
    assert all("response" in r for r in read_output(out))


def test_a_failed_rewrite_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"old\n")
    with pytest.raises(TypeError):
        atomic_write(str(out), [b"new", "not bytes"])  # type: ignore[list-item]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    assert out.read_bytes() == b"old\n"


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (
            BatchSummary(total=1, failed=1, invalid=1, seconds=0.5),
            "1 line: 0 done, 1 failed, 0 already finished, 0 retried after 429, in 0.5s",
        ),
        (
            BatchSummary(total=79, failed=79, invalid=79, seconds=1.0),
            "79 lines: 0 done, 79 failed, 0 already finished, 0 retried after 429, in 1.0s",
        ),
        (
            BatchSummary(total=5, done=3, failed=2, invalid=1, skipped=1, seconds=2.0),
            "5 lines: 3 done, 2 failed, 1 already finished, 0 retried after 429, in 2.0s "
            "(2.0 req/s)",
        ),
        (
            BatchSummary(),
            "0 lines: 0 done, 0 failed, 0 already finished, 0 retried after 429, in 0.0s",
        ),
    ],
)
def test_summary_line(summary: BatchSummary, expected: str) -> None:
    assert summary.line() == expected


def test_an_all_invalid_input_sends_nothing_and_shows_no_rate(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    src, out = files
    src.write_text("{not json\n")
    assert main(["batch", str(src), "-o", str(out), "--no-progress", "--simulator"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        r"ritellm batch: 1 line: 0 done, 1 failed, 0 already finished, 0 retried after 429, "
        r"in \d+\.\ds",
        err[-2],
    )
