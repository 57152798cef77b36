"""`ritellm batch`: results per line, error lines, resuming after Ctrl-C and kill -9, torn
last lines. Runs the real command (in-process and as a subprocess) against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ritellm import _cli

from .batch_helpers import read_output, wait_for_lines, write_input

SLOW = {"x-ritellm-sim": json.dumps({"latency": 0.05})}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_batch_writes_one_tagged_result_per_line(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 20)
    with src.open("a") as f:
        f.write("\n")  # blank lines are skipped
        f.write(json.dumps({"messages": [{"role": "user", "content": "no id"}]}) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"id": "bad", "messages": "oops"}) + "\n")
        sim = json.dumps({"status": 400, "error_message": "nope"})
        f.write(json.dumps({"id": "e", "messages": [], "extra_headers": {}}) + "\n")
        line = {"id": "http", "messages": [{"role": "user", "content": "x"}]}
        f.write(json.dumps({**line, "extra_headers": {"x-ritellm-sim": sim}}) + "\n")
    argv = ["batch", "--simulator", "-m", "openai/gpt-4o-mini", "--backend", backend]
    # Any failed line makes the exit status 1 (0 only when every line has a response).
    assert _cli.main([*argv, str(src), "-o", str(out), "-c", "4", "--no-progress"]) == 1
    records = {r["id"]: r for r in read_output(out)}
    assert len(records) == 25
    for i in range(20):
        response = records[f"r{i}"]["response"]
        assert response["choices"][0]["message"]["content"].endswith(f"question {i}")
        assert records[f"r{i}"]["line"] == i + 1
    assert "response" in records[22]  # tagged with its line number when it has no id
    assert records[23]["error"]["type"] == "InvalidLine"
    assert "not JSON" in records[23]["error"]["message"]
    assert records["bad"]["error"]["type"] == "InvalidLine"
    assert records["e"]["error"]["type"] == "InvalidLine"
    assert records["http"]["error"] == {
        "type": "BadRequestError",
        "message": "openai/gpt-4o-mini: HTTP 400: nope",
        "status_code": 400,
        "code": None,
    }
    summary = capsys.readouterr().err
    assert "25 lines: 21 done, 4 failed, 0 already finished" in summary
    # Rerun: everything is finished already, nothing is sent again.
    assert _cli.main([*argv, str(src), "-o", str(out), "--no-progress"]) == 1
    assert len(read_output(out)) == 25
    err = capsys.readouterr().err
    assert "0 done, 0 failed, 25 already finished" in err
    assert "4 lines failed earlier; rerun with --retry-errors to retry them" in err


def test_retry_errors_redoes_error_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 3)
    out.write_text(json.dumps({"id": "r1", "line": 2, "error": {"type": "X"}}) + "\n")
    argv = ["batch", "--simulator", "-m", "gpt-4o", str(src), "-o", str(out), "--no-progress"]
    assert _cli.main(argv) == 1  # r1's error line is still there
    assert "2 done, 0 failed, 1 already finished" in capsys.readouterr().err
    assert _cli.main([*argv, "--retry-errors"]) == 0
    assert "1 done, 0 failed, 2 already finished" in capsys.readouterr().err
    final = [r for r in read_output(out) if r["id"] == "r1"]
    assert len(final) == 1  # the new result replaced the error line
    assert "response" in final[0]


def test_duplicate_ids_are_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 2)
    write_input(tmp_path / "more.jsonl", 1)
    src.write_text(src.read_text() + (tmp_path / "more.jsonl").read_text())
    assert _cli.main(["batch", "--simulator", "-m", "gpt-4o", str(src), "-o", str(out)]) == 1
    assert "duplicate id 'r0'" in capsys.readouterr().err
    assert not out.exists() or out.read_text() == ""


def run_cli(src: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "ritellm", "batch", "--simulator", "-m", "gpt-4o"),
            *(str(src), "-o", str(out), "-c", "2", "--no-progress"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_interrupted_batch_resumes_without_losing_or_repeating_results(
    tmp_path: Path, how: str
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 40, extra_headers=SLOW)
    proc = run_cli(src, out)
    try:
        wait_for_lines(out, 6, proc)
        proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    first_run = read_output(out)
    assert 6 <= len(first_run) < 40
    if how == "Ctrl-C":
        assert proc.returncode == 130
        assert "rerun the same command to resume" in err
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
        # A write torn by the crash: the last line lacks its newline.
        with out.open("a") as f:
            f.write('{"id": "r39", "line": 40, "respo')
    proc = run_cli(src, out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"{len(first_run)} already finished" in err
    if how == "kill -9":
        assert "repaired a torn last line" in err
    records = read_output(out)  # every line is whole JSON again
    counts = Counter(r["id"] for r in records)
    assert sorted(counts) == sorted(f"r{i}" for i in range(40))
    assert set(counts.values()) == {1}  # no result lost, none paid for twice
    assert all("response" in r for r in records)
    assert os.path.getsize(out) == out.stat().st_size
