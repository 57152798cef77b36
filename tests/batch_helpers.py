"""Shared helpers for the `ritellm batch` tests: input and output files, stderr with its
random parts masked, and the command run in-process or watched as a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ritellm._cli import main


def normal(text: str) -> list[str]:
    """stderr lines with the random port and the timings replaced."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"in \d+\.\ds( \(\d+\.\d req/s\))?", "in Ts", text)
    return text.splitlines()


def write_input(path: Path, n: int, **extra: Any) -> None:
    """``n`` requests with ids r0, r1, ... asking "question i", each with ``extra``."""
    with path.open("w") as f:
        for i in range(n):
            line = {"id": f"r{i}", "messages": [{"role": "user", "content": f"question {i}"}]}
            f.write(json.dumps({**line, **extra}) + "\n")


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def batch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """`ritellm batch ARGV --no-progress` in-process: (exit status, stderr lines)."""
    status = main(["batch", *argv, "--no-progress"])
    out, err = capsys.readouterr()
    assert out == ""
    return status, normal(err)


def wait_for_lines(path: Path, n: int, proc: subprocess.Popen[str]) -> None:
    """Until ``path`` has ``n`` lines, while ``proc`` (which writes it) still runs."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)  # polling another process's file: there is no event to wait on
    raise AssertionError("the batch made no progress")
