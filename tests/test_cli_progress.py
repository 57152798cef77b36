"""The progress line of `ritellm batch`: redrawn cleanly in place on a terminal (a faked one
in-process, a real pty for a subprocess), plain and rare anywhere else."""

from __future__ import annotations

import fcntl
import io
import itertools
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from ritellm._batchjob import BatchProgress
from ritellm._cli import main
from ritellm._cli_batch import LOG_INTERVAL, ProgressLine, progress_text

SLOW = {"x-ritellm-sim": json.dumps({"latency": 0.1})}
NOTICE = (
    "ritellm: --simulator given; answering from the bundled simulator at http://127.0.0.1:PORT/v1"
)


def at(finished: int, *, failed: int = 0, in_flight: int = 0, limit: int = 16) -> BatchProgress:
    return BatchProgress(
        finished=finished, failed=failed, total=40, retried=0, in_flight=in_flight, limit=limit
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: ``\\r`` returns to the first column and what is
    written then overwrites the line, character by character."""
    lines, column = [""], 0
    for char in raw:
        if char == "\n":
            lines.append("")
            column = 0
        elif char == "\r":
            column = 0
        else:
            line = lines[-1].ljust(column)
            lines[-1] = line[:column] + char + line[column + 1 :]
            column += 1
    return lines


def test_progress_text() -> None:
    assert progress_text(at(12, failed=1, in_flight=4)) == (
        "12/40 done, 1 failed, 0 retried after 429, 4 in flight (limit 16)"
    )


def test_a_terminal_line_is_redrawn_over_whatever_was_longer() -> None:
    stream, clock = io.StringIO(), Clock()
    line = ProgressLine(stream, tty=True, columns=200, clock=clock)
    line(at(1, in_flight=12))
    long = progress_text(at(1, in_flight=12))
    assert stream.getvalue() == "\r" + long
    clock.now += 0.05
    line(at(2, in_flight=11))  # too soon: not drawn, but remembered
    assert stream.getvalue() == "\r" + long
    clock.now += 0.1
    line(at(40, limit=4))  # 7 characters shorter: the old tail is blanked
    short = progress_text(at(40, limit=4))
    assert stream.getvalue() == f"\r{long}\r{short}{' ' * (len(long) - len(short))}"
    line.close()
    assert stream.getvalue().endswith(f"\r{short}\n")
    assert screen(stream.getvalue()) == [short + " " * (len(long) - len(short)), ""]
    assert screen(stream.getvalue())[0].rstrip() == short  # no stray ")"


def test_a_terminal_line_is_cut_to_the_width() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, tty=True, columns=30, clock=Clock())
    line(at(3))
    line.close()
    assert stream.getvalue() == "\r3/40 done, 0 failed, 0 retrie\r3/40 done, 0 failed, 0 retrie\n"


def test_closing_before_anything_was_drawn_writes_nothing() -> None:
    stream = io.StringIO()
    ProgressLine(stream, tty=True, columns=80).close()
    ProgressLine(stream, tty=False, columns=80).close()
    assert stream.getvalue() == ""


def test_not_a_terminal_gets_a_plain_line_every_log_interval() -> None:
    stream, clock = io.StringIO(), Clock()
    line = ProgressLine(stream, tty=False, columns=80, clock=clock)
    line(at(1))
    clock.now += LOG_INTERVAL - 1
    line(at(2))
    assert stream.getvalue() == ""  # a short batch shows only its summary
    clock.now += 1
    line(at(3))
    clock.now += 1
    line(at(4))
    clock.now += LOG_INTERVAL
    line(at(5))
    line.close()  # the summary follows: nothing more
    assert stream.getvalue() == f"{progress_text(at(3))}\n{progress_text(at(5))}\n"


def normal(text: str) -> str:
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    return re.sub(r"in \d+\.\ds \(\d+\.\d req/s\)", "in Ts", text)


def write_input(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            content = f"question {i}"
            line = {"id": i, "messages": [{"role": "user", "content": content}]}
            f.write(json.dumps({**line, "extra_headers": SLOW}) + "\n")


SUMMARY = (
    "ritellm batch: 40 lines: 40 done, 0 failed, 0 already finished, 0 retried after 429, in Ts"
)
FINAL = "40/40 done, 0 failed, 0 retried after 429, 0 in flight (limit 16)"


def drawn(raw: str) -> list[str]:
    """The texts of a progress line's redraws in ``raw`` (between the notice and summary)."""
    return raw[len(NOTICE) + 1 : -len(SUMMARY) - 1].rstrip("\n").split("\r")[1:]


def assert_each_redraw_covers_the_last(texts: list[str]) -> None:
    """Whatever the timing drew (which counts, how long their texts): each redraw is at least
    as long as the text before it, so a longer line ("13/40 ... 15 in flight (limit 16)")
    leaves nothing behind a shorter one; the counts never go back."""
    assert texts
    for before, after in itertools.pairwise(texts):
        assert len(after) >= len(before.rstrip()), (before, after)
    finished = [int(text.split("/", 1)[0]) for text in texts]
    assert finished == sorted(finished)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_batch_on_a_terminal_redraws_one_clean_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 40)
    err = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", err)
    argv = ["batch", str(src), "-o", str(out), "--simulator", "--backend", backend]
    assert main(argv) == 0
    raw = normal(err.getvalue())
    assert raw.startswith(NOTICE + "\n\r")
    assert raw.endswith(f"\r{FINAL}\n{SUMMARY}\n")
    assert_each_redraw_covers_the_last(drawn(raw))
    assert [line.rstrip() for line in screen(raw)] == [NOTICE, FINAL, SUMMARY, ""]


def test_batch_not_on_a_terminal_writes_no_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 40)
    assert main(["batch", str(src), "-o", str(out), "--simulator"]) == 0
    assert normal(capsys.readouterr().err) == f"{NOTICE}\n{SUMMARY}\n"


def run_on_a_pty(argv: list[str], columns: int) -> tuple[int, str]:
    """Run ``python -m ritellm ARGV`` with stderr on a pty ``columns`` wide: (status, what
    the terminal received)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm", *argv], stdout=subprocess.DEVNULL, stderr=follower
    )
    os.close(follower)
    received = b""
    try:
        while True:
            try:
                data = os.read(leader, 4096)  # read as it comes, or the child blocks writing
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            received += data
        status = proc.wait(timeout=60)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, received.decode()


@pytest.mark.parametrize("columns", [200, 40])
def test_batch_on_a_real_terminal(tmp_path: Path, columns: int) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 40)
    argv = ["batch", str(src), "-o", str(out), "--simulator"]
    status, raw = run_on_a_pty(argv, columns)
    assert status == 0, raw
    raw = normal(raw.replace("\r\n", "\n"))  # the terminal's own newline translation
    final = FINAL[: columns - 1]
    assert raw.endswith(f"\r{final}\n{SUMMARY}\n")
    assert [line.rstrip() for line in screen(raw)] == [NOTICE, final, SUMMARY, ""]
    assert all(len(text) <= columns - 1 for text in drawn(raw))  # never wraps
    assert_each_redraw_covers_the_last(drawn(raw))
