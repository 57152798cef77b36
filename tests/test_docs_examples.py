"""The docs' runnable examples run as pasted: each ```python block of the pages below is executed
as a script, and its output must equal the ```text block that follows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["tools.md", "observability.md"]
# A python block (which cannot contain ```) right before a text block.
_BLOCK = re.compile(r"```python\n((?:(?!```).)*?)```\n\n```text\n(.*?)```", re.S)


def examples() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        for i, match in enumerate(_BLOCK.finditer(text)):
            found.append((f"{page}#{i}", match.group(1), match.group(2)))
    return found


@pytest.mark.parametrize(("where", "code", "expected"), examples(), ids=lambda x: str(x)[:20])
def test_example_runs_as_pasted(where: str, code: str, expected: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(DOCS.parent)}  # no provider keys at all
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.returncode == 0, f"{where} failed:\n{out.stderr}"
    assert out.stdout == expected, where
