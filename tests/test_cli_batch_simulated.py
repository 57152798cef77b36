"""`ritellm batch` and the simulator's results: each is marked `"simulated": true`, stays
finished for a run that is on the simulator too (line by line), and is redone and replaced in
place by a run that is not, so a real job never keeps canned answers. The "real" provider is
a second simulator that demands an API key, reached through --base-url or OPENAI_BASE_URL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ritellm._batchfile import OutputState, id_key, one_line_per_id, read_output
from ritellm._batchjob import redo_notice
from ritellm.testing import Reply, Simulator, ThreadedSimulator
from tests.test_cli_batch import NO_KEY, REQUESTED, message

from .batch_helpers import batch, normal, wait_for_lines, write_input

KEY = "sk-real-provider"
REAL = "a real answer"
SIMULATED = "Hello from the ritellm simulator! You said: question {i}"


def summary(total: int, done: int, failed: int, finished: int) -> str:
    return (
        f"ritellm batch: {total} lines: {done} done, {failed} failed, {finished} already "
        "finished, 0 retried after 429, in Ts"
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def content(record: dict[str, Any]) -> str:
    return str(record["response"]["choices"][0]["message"]["content"])


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "in.jsonl", tmp_path / "out.jsonl"


@pytest.fixture
def real() -> Iterator[ThreadedSimulator]:
    """A provider that is not the fallback: it wants a key and answers differently."""
    with Simulator.start_in_thread(api_key=KEY, default=Reply(content=REAL)) as simulator:
        yield simulator


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_real_run_redoes_simulated_results_in_place(
    capsys: pytest.CaptureFixture[str],
    files: tuple[Path, Path],
    real: ThreadedSimulator,
    backend: str,
) -> None:
    src, out = files
    write_input(src, 4)
    no_key = [str(src), "-o", str(out), "--backend", backend]
    assert batch(capsys, *no_key) == (0, [NO_KEY, summary(4, 4, 0, 0)])
    first = records(out)
    assert [list(r) for r in first] == [["id", "line", "simulated", "response"]] * 4
    assert sorted((r["id"], r["line"], r["simulated"], content(r)) for r in first) == [
        (f"r{i}", i + 1, True, SIMULATED.format(i=i)) for i in range(4)
    ]
    # Still on the simulator: its results are finished, nothing is sent or written.
    before = out.read_bytes()
    assert batch(capsys, *no_key) == (0, [NO_KEY, summary(4, 0, 0, 4)])
    assert out.read_bytes() == before

    keyed = [*no_key, "--base-url", real.base_url, "--api-key", KEY]
    assert batch(capsys, *keyed) == (
        0,
        [
            "ritellm batch: 4 simulated results will be redone with openai/gpt-4o-mini",
            summary(4, 4, 0, 0),
        ],
    )
    final = records(out)
    assert [list(r) for r in final] == [["id", "line", "response"]] * 4  # the mark is gone
    # Each in its simulated line's place (the first run wrote them as they finished).
    assert [(r["id"], r["line"]) for r in final] == [(r["id"], r["line"]) for r in first]
    assert {content(r) for r in final} == {REAL}
    sent = sorted(r.json["messages"][0]["content"] for r in real.requests)
    assert sent == [f"question {i}" for i in range(4)]
    assert {r.headers["authorization"] for r in real.requests} == {f"Bearer {KEY}"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["in.jsonl", "out.jsonl"]
    # Real results are finished for every later run, on the simulator or not.
    after = out.read_bytes()
    assert batch(capsys, *keyed) == (0, [summary(4, 0, 0, 4)])
    assert batch(capsys, *no_key) == (0, [NO_KEY, summary(4, 0, 0, 4)])
    assert out.read_bytes() == after
    assert len(real.requests) == 4


def test_a_real_error_replaces_a_simulated_answer_and_waits_for_retry_errors(
    capsys: pytest.CaptureFixture[str],
    files: tuple[Path, Path],
    real: ThreadedSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src, out = files
    write_input(src, 5)
    argv = [str(src), "-o", str(out), "-m", "gpt-4o", "-c", "1"]
    status, err = batch(capsys, *argv, "--simulator")
    assert (status, err) == (
        0,
        [REQUESTED.format(url="http://127.0.0.1:PORT/v1"), summary(5, 5, 0, 0)],
    )
    assert all(r["simulated"] is True for r in records(out))
    monkeypatch.setenv("OPENAI_BASE_URL", real.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    real.script(Reply(status=400, error_message="nope"))  # the first request sent
    assert batch(capsys, *argv) == (
        1,
        [
            "ritellm batch: 5 simulated results will be redone with gpt-4o",
            summary(5, 4, 1, 0),
            "ritellm batch: 1 line failed; rerun with --retry-errors to retry it",
        ],
    )
    final = records(out)
    assert [r["id"] for r in final] == [f"r{i}" for i in range(5)]
    assert final[0] == {
        "id": "r0",
        "line": 1,
        "error": {
            "type": "BadRequestError",
            "message": "gpt-4o: HTTP 400: nope",
            "status_code": 400,
            "code": None,
        },
    }
    assert [content(r) for r in final[1:]] == [REAL] * 4
    assert not any("simulated" in r for r in final)
    # The real error is an error line like any other: kept, and said, until --retry-errors.
    assert batch(capsys, *argv) == (
        1,
        [
            summary(5, 0, 0, 5),
            "ritellm batch: 1 line failed earlier; rerun with --retry-errors to retry it",
        ],
    )
    assert batch(capsys, *argv, "--retry-errors") == (0, [summary(5, 1, 0, 4)])
    assert [(r["id"], content(r)) for r in records(out)] == [(f"r{i}", REAL) for i in range(5)]
    assert len(real.requests) == 6


def test_each_line_is_redone_only_when_this_run_does_not_simulate_it(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], real: ThreadedSimulator
) -> None:
    src, out = files
    own = {"model": "openai/gpt-4o", "base_url": real.base_url, "api_key": KEY}
    fail = {"x-ritellm-sim": json.dumps({"status": 400, "error_message": "nope"})}
    lines = [
        {"id": "fallback", "messages": message(0)},
        {"id": "own", "messages": message(1), **own},
        {"id": "broken", "messages": message(2), "extra_headers": fail},
    ]
    src.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = [str(src), "-o", str(out)]
    status, err = batch(capsys, *argv, "--simulator")
    assert status == 1
    first = records(out)
    assert sorted((r["id"], r["simulated"], "response" in r) for r in first) == [
        ("broken", True, False),  # the simulator's errors are marked too
        ("fallback", True, True),
        ("own", True, True),
    ]
    order = [r["id"] for r in first]
    # No key: the default model's lines still fall back, so their results stay; the line
    # with its own base URL and key goes to its provider and is redone, and so is the
    # simulated error (an error from the provider the line really goes to is what counts).
    real.script(Reply(content="real one"), Reply(status=400, error_message="really nope"))
    status, err = batch(capsys, *argv, "-c", "1")
    assert (status, err) == (
        1,
        [
            NO_KEY,
            "ritellm batch: the simulator answers 2 of 3 lines (openai/gpt-4o-mini); the "
            "others go to their providers",
            "ritellm batch: 1 simulated result will be redone with openai/gpt-4o",
            summary(3, 1, 0, 2),
            "ritellm batch: 1 line failed earlier; rerun with --retry-errors to retry it",
        ],
    )
    final = records(out)
    assert [r["id"] for r in final] == order
    kept = {r["id"]: r for r in first}
    by_id = {r["id"]: r for r in final}
    assert (by_id["fallback"], by_id["broken"]) == (kept["fallback"], kept["broken"])
    assert by_id["own"] == {"id": "own", "line": 2, "response": by_id["own"]["response"]}
    assert content(by_id["own"]) == "real one"
    # --retry-errors on the simulator retries the simulated error there.
    status, err = batch(capsys, *argv, "--retry-errors")
    assert (status, err[1:]) == (
        1,
        [
            "ritellm batch: the simulator answers 2 of 3 lines (openai/gpt-4o-mini); the "
            "others go to their providers",
            summary(3, 0, 1, 2),
            "ritellm batch: 1 line failed; rerun with --retry-errors to retry it",
        ],
    )
    last = records(out)
    assert [r["id"] for r in last] == order
    assert [r.get("simulated") for r in last if r["id"] == "broken"] == [True]
    assert len(real.requests) == 1


def test_ctrl_c_while_redoing_simulated_results_keeps_one_line_per_id(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    src, out = files
    write_input(src, 40)
    assert batch(capsys, str(src), "-o", str(out))[0] == 0
    order = [r["id"] for r in records(out)]
    journal = out.with_name("out.jsonl.retry")
    with Simulator.start_in_thread(api_key=KEY, default=Reply(content=REAL, latency=0.05)) as sim:
        argv = [sys.executable, "-m", "ritellm", "batch", str(src), "-o", str(out)]
        keyed = [*argv, "--base-url", sim.base_url, "--api-key", KEY, "-c", "2"]
        proc = subprocess.Popen(keyed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_lines(journal, 6, proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert normal(err)[0] == (
            "ritellm batch: 40 simulated results will be redone with openai/gpt-4o-mini"
        )
        assert not journal.exists()  # folded in on the way out
        mid = records(out)
        assert [r["id"] for r in mid] == order  # each id once, in its place
        redone = [r for r in mid if "simulated" not in r]
        assert 6 <= len(redone) < 40
        assert {content(r) for r in redone} == {REAL}
        proc = subprocess.Popen(keyed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        left = 40 - len(redone)
        assert normal(err) == [
            f"ritellm batch: {left} simulated results will be redone with openai/gpt-4o-mini",
            summary(40, left, 0, len(redone)),
        ]
    final = records(out)
    assert [r["id"] for r in final] == order
    assert [content(r) for r in final] == [REAL] * 40
    assert not any("simulated" in r for r in final)


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ({"openai/gpt-4o-mini": 1}, "1 simulated result will be redone with openai/gpt-4o-mini"),
        ({"gpt-4o": 12}, "12 simulated results will be redone with gpt-4o"),
        (
            {"openai/gpt-4o": 3, "anthropic/claude-sonnet-4-5": 1},
            "4 simulated results will be redone: 3 with openai/gpt-4o, 1 with "
            "anthropic/claude-sonnet-4-5",
        ),
    ],
)
def test_redo_notice(models: dict[str, int], expected: str) -> None:
    assert redo_notice(models) == expected


def rec(ident: Any, kind: str, tag: str = "", *, simulated: bool = False) -> bytes:
    record: dict[str, Any] = {"id": ident, kind: tag}
    if simulated:
        record["simulated"] = True
    return json.dumps(record).encode()


def sim(ident: Any, kind: str, tag: str = "") -> bytes:
    return rec(ident, kind, tag, simulated=True)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # A newer result of any kind replaces a simulated one, in its place.
        (
            [sim("a", "response"), rec("b", "response"), rec("a", "response")],
            [rec("a", "response"), rec("b", "response")],
        ),
        ([sim("a", "response"), rec("a", "error")], [rec("a", "error")]),
        ([sim("a", "error"), rec("a", "error")], [rec("a", "error")]),
        ([rec("a", "error"), sim("a", "response")], [sim("a", "response")]),
        ([sim("a", "response", "1"), sim("a", "response", "2")], [sim("a", "response", "2")]),
        # A simulated result never replaces a real response.
        ([rec("a", "response"), sim("a", "response")], [rec("a", "response")]),
        ([rec("a", "response"), sim("a", "error")], [rec("a", "response")]),
        # Only true marks a result as simulated.
        (
            [b'{"id": "a", "response": 1, "simulated": "yes"}', rec("a", "error")],
            [b'{"id": "a", "response": 1, "simulated": "yes"}'],
        ),
    ],
)
def test_one_line_per_id_with_simulated_results(lines: list[bytes], expected: list[bytes]) -> None:
    assert one_line_per_id(lines) == expected


def keys(*ids: str) -> frozenset[str]:
    return frozenset(id_key(i) for i in ids)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], OutputState(keys(), keys())),
        (
            [rec("a", "response"), sim("b", "response"), sim("c", "error"), rec("d", "error")],
            OutputState(keys("a", "b"), keys("c", "d"), simulated=keys("b", "c")),
        ),
        # What a file holds is what a rewrite would keep of it.
        ([sim("a", "response"), rec("a", "error")], OutputState(keys(), keys("a"))),
        ([rec("a", "response"), sim("a", "response")], OutputState(keys("a"), keys())),
        ([rec("a", "error"), sim("a", "response")], OutputState(keys("a"), keys(), keys("a"))),
    ],
)
def test_read_output_tells_simulated_results_apart(
    tmp_path: Path, lines: list[bytes], expected: OutputState
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    assert read_output(str(path)) == expected
