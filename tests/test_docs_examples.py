"""Every ```python block of README.md and docs/*.md runs as pasted, or says why it cannot.

A block runs as a script in a fresh interpreter, with no real key anywhere: every provider's
base-URL variable (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, ``GEMINI_API_BASE``, ...) and
key variable point at one ``ritellm.testing.Simulator`` started by this module, so an example
written the way a user writes it (keys and URLs from the environment) talks to it. A block
with a top-level ``await`` runs as in ``python -m asyncio``: inside a coroutine, on asyncio.
If a ```text block follows, the block's standard output must equal it. Whatever the block
writes to stderr must not be a traceback or a warning.

The line right before a block's opening fence may mark it:

- ``<!-- signature -->``: an API signature or a data shape, not code to run.
- ``<!-- needs: REASON -->``: needs what the tests cannot give (a real provider's behaviour,
  a proxy, a network); REASON says what, and may not be empty.
- ``<!-- continues -->``: uses the names of the page's previous block; both run in one
  process, in order (only this block's output is compared).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ritellm import PROVIDERS
from ritellm.testing import Simulator, ThreadedSimulator

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
# Fence info strings in use; a Python block under any other name would escape the tests.
LANGUAGES = {"python", "text", "sh", "console", ""}
KEY = "sk-docs-example"

_MARK = re.compile(r"<!--\s*(signature|continues|needs:(.*?))\s*-->\s*$")
_FENCE = re.compile(r"^```(.*)$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    end: int  # of the closing fence, 1-based
    info: str
    code: str
    marker: str | None  # the comment on the line before the fence, if any
    output: str | None  # the ```text block right after a python block

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """run, continues, signature or needs (an unknown marker is its own kind)."""
        if self.marker is None:
            return "run"
        mark = _MARK.fullmatch(self.marker.strip())
        if mark is None:
            return f"unknown marker {self.marker.strip()!r}"
        return "needs" if mark.group(2) is not None else mark.group(1)

    @property
    def reason(self) -> str:
        mark = _MARK.fullmatch(self.marker.strip()) if self.marker else None
        return (mark.group(2) or "").strip() if mark else ""


def blocks(page: str) -> list[Block]:
    return parse(page, (ROOT / page).read_text(encoding="utf-8"))


def parse(page: str, text: str) -> list[Block]:
    """The fenced blocks of a page (top-level fences only: mkdocs renders no others)."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        before = lines[i - 1] if i else ""
        found.append(
            Block(
                page=page,
                line=i + 1,
                end=end + 1,
                info=fence.group(1).strip(),
                code="\n".join(lines[i + 1 : end]) + "\n",
                marker=before if before.lstrip().startswith("<!--") else None,
                output=None,
            )
        )
        i = end + 1
    # A text block right after a python block (blank lines between) is its output.
    for n, block in enumerate(found[:-1]):
        after = found[n + 1]
        gap = lines[block.end : after.line - 1]
        if block.info == "python" and after.info == "text" and not any(s.strip() for s in gap):
            found[n] = Block(**{**block.__dict__, "output": after.code})
    return found


def python_blocks(page: str) -> list[Block]:
    return [b for b in blocks(page) if b.info == "python"]


def runnable() -> Iterator[tuple[str, list[Block]]]:
    """(where, the blocks to run in one process, the last one being checked)."""
    for page in PAGES:
        chain: list[Block] = []
        for block in python_blocks(page):
            if block.kind == "continues":
                chain.append(block)
            elif block.kind == "run":
                chain = [block]
            else:
                chain = []
                continue
            yield block.where, list(chain)


# Runs the blocks in one namespace; those before the last have their output discarded.
_RUNNER = """
import ast, asyncio, contextlib, inspect, io, json, sys

namespace = {"__name__": "__main__"}

def run(code, where):
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)
    if compiled.co_flags & inspect.CO_COROUTINE:
        asyncio.run(result)

*before, (code, where) = json.load(sys.stdin)
for earlier in before:
    with contextlib.redirect_stdout(io.StringIO()):
        run(*earlier)
run(code, where)
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


def environment(sim: ThreadedSimulator, home: Path) -> dict[str, str]:
    """What a user's shell would hold: keys and, here, every provider aimed at the
    simulator; nothing from the developer's own environment."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(home)}
    for spec in PROVIDERS.values():
        env[spec.base_env[0]] = sim.base_url if spec.module == "openai" else sim.url
        if spec.module != "bedrock":
            env[spec.key_env[0]] = KEY
    env.update(
        AZURE_API_VERSION="2024-10-21",
        AWS_ACCESS_KEY_ID="AKIDDOCSEXAMPLE",
        AWS_SECRET_ACCESS_KEY="docs-example-secret",
        AWS_REGION="us-east-1",
    )
    return env


CASES = list(runnable())


def run(chain: list[Block], sim: ThreadedSimulator, tmp_path: Path) -> str | None:
    """Run the chain's blocks in one interpreter; what is wrong with the last one, if any."""
    # Padded so that a traceback names the page's own line numbers.
    payload = json.dumps([("\n" * block.line + block.code, block.page) for block in chain])
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", _RUNNER],
        input=payload,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(sim, tmp_path),
        cwd=tmp_path,
    )
    where = chain[-1].where
    if done.returncode != 0:
        return f"{where} failed:\n{done.stderr}"
    if any(sign in done.stderr for sign in ("Traceback", "Warning", "Exception ignored")):
        return f"{where} wrote to stderr:\n{done.stderr}"
    expected = chain[-1].output
    if expected is not None and done.stdout != expected:
        return f"{where} printed:\n{done.stdout}\ninstead of:\n{expected}"
    return None


@pytest.mark.parametrize(("where", "chain"), CASES, ids=[where for where, _ in CASES])
def test_example_runs_as_pasted(
    where: str, chain: list[Block], sim: ThreadedSimulator, tmp_path: Path
) -> None:
    problem = run(chain, sim, tmp_path)
    assert problem is None, problem


SAMPLE = """\
Intro.

```python
import asyncio

print(type(asyncio.get_running_loop()).__module__.split(".")[0])
await asyncio.sleep(0)
```

```text
asyncio
```

<!-- continues -->
```python
print("still", asyncio.__name__)
```

```text
still asyncio
```

<!-- needs:   -->
```python
import ritellm
```

<!-- signature -->
```python
def f(x: int) -> str: ...
```

<!-- needs: a proxy -->
```python
raise SystemExit(1)
```

<!-- continue -->
```python
x = 1
```
"""


def test_the_page_format() -> None:
    found = parse("sample.md", SAMPLE)
    assert [(b.info, b.line, b.kind, b.reason) for b in found] == [
        ("python", 3, "run", ""),
        ("text", 10, "run", ""),
        ("python", 15, "continues", ""),
        ("text", 19, "run", ""),
        ("python", 24, "needs", ""),
        ("python", 29, "signature", ""),
        ("python", 34, "needs", "a proxy"),
        ("python", 39, "unknown marker '<!-- continue -->'", ""),
    ]
    assert found[0].output == "asyncio\n"
    assert found[2].output == "still asyncio\n"
    assert found[5].output is None


def test_the_runner_runs_top_level_await_on_asyncio_and_continues_in_one_process(
    sim: ThreadedSimulator, tmp_path: Path
) -> None:
    first, _, then, *_ = parse("sample.md", SAMPLE)
    assert run([first], sim, tmp_path) is None
    assert run([first, then], sim, tmp_path) is None  # `asyncio` is the first block's name
    problem = run([then], sim, tmp_path)
    assert problem is not None
    assert "NameError: name 'asyncio' is not defined" in problem
    assert 'File "sample.md", line 16' in problem  # the page's own line


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("print('no')\n", "printed:\nno\n\ninstead of:\nyes\n"),
        ("import warnings\nwarnings.warn('careless')\nprint('yes')\n", "wrote to stderr"),
        ("import sys\nsys.exit(3)\n", "failed"),
    ],
)
def test_the_runner_catches_a_wrong_output_a_warning_and_a_failure(
    code: str, problem: str, sim: ThreadedSimulator, tmp_path: Path
) -> None:
    block = Block(page="p.md", line=1, end=9, info="python", code=code, marker=None, output="yes\n")
    found = run([block], sim, tmp_path)
    assert found is not None
    assert problem in found


def test_the_examples_see_the_simulator_as_every_provider(
    sim: ThreadedSimulator, tmp_path: Path
) -> None:
    code = (
        "import ritellm\n"
        "for model in ('gpt-4o-mini', 'anthropic/claude-sonnet-4-5', 'gemini/gemini-2.5-flash',"
        " 'azure/my-gpt', 'ollama/llama3.2', 'bedrock/amazon.nova-lite-v1:0', 'groq/llama3'):\n"
        "    r = ritellm.completion(model=model, messages=[{'role': 'user', 'content': 'ok'}])\n"
        "    print(r.choices[0].message.content)\n"
    )
    answer = "Hello from the ritellm simulator! You said: ok\n"
    block = Block(
        page="p.md", line=1, end=9, info="python", code=code, marker=None, output=answer * 7
    )
    before = len(sim.requests)
    assert run([block], sim, tmp_path) is None
    paths = [request.path for request in sim.requests[before:]]
    assert paths == [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/openai/deployments/my-gpt/chat/completions",
        "/api/chat",
        "/model/amazon.nova-lite-v1%3A0/converse",
        "/v1/chat/completions",
    ]


def test_every_python_block_runs_or_says_why_not() -> None:
    """A new example cannot slip through: each python block is run, a signature, or needs
    something the tests cannot give, with the reason written down."""
    problems = []
    for page in PAGES:
        previous = None
        for block in blocks(page):
            if block.info not in LANGUAGES:
                problems.append(f"{block.where}: fence ```{block.info} (use one of {LANGUAGES})")
            if block.info != "python":
                continue
            kind = block.kind
            if kind.startswith("unknown"):
                problems.append(f"{block.where}: {kind}")
            elif kind == "needs" and not block.reason:
                problems.append(f"{block.where}: <!-- needs: --> without a reason")
            elif kind == "continues" and (
                previous is None or previous.kind not in ("run", "continues")
            ):
                problems.append(f"{block.where}: continues no example run before it")
            previous = block
    assert not problems, "\n".join(problems)
    run = {where for where, _ in CASES}
    for page in PAGES:
        for block in python_blocks(page):
            assert block.where in run or block.kind in ("signature", "needs"), block.where


def test_no_python_block_hides_from_the_check() -> None:
    """Indented fences are not rendered as code by mkdocs and not collected above."""
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        assert not re.search(r"^[ \t]+```", text, re.M), page
