"""`ritellm chat` and the top-level command as a user runs them: against the bundled simulator
(its fallback or --simulator) or a scripted one, as a subprocess and in-process through
`main(argv)`, asserting exact stdout, stderr and exit status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

import ritellm
from ritellm._cli import main, stop_notice
from ritellm._cli_sim import simulator_reason
from ritellm.testing import Reply, Simulator, ThreadedSimulator

ANSWER = "Hello from the ritellm simulator! You said: Hello sockets\n"
NO_KEY = (
    "ritellm: no API key found for openai (set OPENAI_API_KEY, or pass --api-key or "
    "--base-url); answering from the bundled simulator at http://127.0.0.1:PORT/v1\n"
)
REQUESTED = "ritellm: --simulator given; answering from the bundled simulator at {url}\n"


def ports(text: str) -> str:
    """The simulator's port is random: compare text with it as PORT."""
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m ritellm ARGS` with no provider key in its environment (plus ``env``)."""
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "ritellm", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
        input=stdin,
    )


def chat(*args: str) -> subprocess.CompletedProcess[str]:
    return run("chat", *args, "Hello sockets")


def in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, ports(err)


@pytest.fixture
def tsim() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as simulator:
        yield simulator


@pytest.mark.parametrize(
    ("args", "url"),
    [
        ((), None),
        (("-m", "anthropic/claude-sonnet-4-5", "--simulator"), ""),
        (("-m", "claude-3-5-haiku-latest", "--simulator", "--no-stream"), ""),
        (("-m", "gemini/gemini-2.5-flash", "--simulator"), ""),
        (
            ("-m", "azure/my-gpt", "--simulator", "--api-version", "2024-10-21", "--api-key", "k"),
            "",
        ),
        (("-m", "ollama/llama3.2", "--simulator"), ""),
        (("-m", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "--simulator"), ""),
        (("--simulator", "--no-stream"), "/v1"),
    ],
    ids=[
        "openai",
        "anthropic",
        "bare-claude",
        "gemini",
        "azure",
        "ollama",
        "bedrock",
        "openai-sim",
    ],
)
def test_chat_streams_the_answer_from_the_simulator(args: tuple[str, ...], url: str | None) -> None:
    out = chat(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ANSWER
    # Other formats are served from the server root, OpenAI's under /v1.
    notice = NO_KEY if url is None else REQUESTED.format(url=f"http://127.0.0.1:PORT{url}")
    assert ports(out.stderr) == notice


def test_version() -> None:
    out = run("--version")
    assert (out.returncode, out.stdout, out.stderr) == (0, f"ritellm {ritellm.__version__}\n", "")


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert in_process(capsys, "--version") == (0, f"ritellm {ritellm.__version__}\n", "")


def test_no_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = in_process(capsys)
    assert (status, out) == (2, "")
    assert err.startswith("usage: ritellm [-h] [--version] COMMAND ...\n")
    assert "    chat      send one prompt and stream the reply\n" in err
    assert "    batch     run a JSONL file of requests concurrently, resumably\n" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-tokens", "0"], "argument --max-tokens: must be 1 or more, got 0"),
        (["--timeout", "-1"], "argument --timeout: must be more than 0, got -1"),
        (["--temperature", "hot"], "argument --temperature: invalid float value: 'hot'"),
    ],
)
def test_bad_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = in_process(capsys, "chat", *argv, "hi")
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == f"ritellm chat: error: {message}"


def test_simulator_notice_says_it_was_asked_for_even_with_a_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-configured")
    status, out, err = in_process(capsys, "chat", "--simulator", "Hello sockets")
    assert (status, out) == (0, ANSWER)
    assert err == REQUESTED.format(url="http://127.0.0.1:PORT/v1")


def test_a_configured_base_url_is_used_without_a_notice(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tsim: ThreadedSimulator
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", tsim.base_url)
    tsim.script(Reply(content="From the configured server."))
    assert in_process(capsys, "chat", "Hello") == (0, "From the configured server.\n", "")
    assert len(tsim.requests) == 1


def test_another_providers_missing_key_is_an_error_with_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = in_process(capsys, "chat", "-m", "claude-3-5-haiku-latest", "hi")
    assert (status, out) == (1, "")
    assert err == (
        "error: AuthenticationError: anthropic: No API key for provider 'anthropic': pass "
        "api_key=... or set ANTHROPIC_API_KEY\n"
        "ritellm: pass --api-key, or add --simulator to try the bundled simulator\n"
    )


def test_unknown_prefix_is_a_one_line_error() -> None:
    out = chat("-m", "antropic/claude-3", "--simulator")
    assert out.returncode == 1
    assert out.stdout == ""
    assert "UnknownProviderError" in out.stderr
    assert "Did you mean 'anthropic/claude-3'?" in out.stderr
    assert "Traceback" not in out.stderr


def test_prompt_from_stdin() -> None:
    out = run("chat", "-", stdin="Hello sockets\n")
    assert (out.returncode, out.stdout, ports(out.stderr)) == (0, ANSWER, NO_KEY)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_max_tokens_cut_is_reported_after_the_answer(
    capsys: pytest.CaptureFixture[str], backend: str, stream: bool
) -> None:
    argv = ["chat", "--max-tokens", "3", "--backend", backend, "Write a haiku about sockets"]
    status, out, err = in_process(capsys, *argv, *(() if stream else ("--no-stream",)))
    assert (status, out) == (0, "Hello from the \n")
    assert err == NO_KEY + "[stopped: the answer reached --max-tokens 3]\n"


@pytest.mark.parametrize(
    ("model", "reply", "expected"),
    [
        ("openai/gpt-4o", Reply(content="Some of it", finish_reason="content_filter"), "filter"),
        ("openai/gpt-4o", Reply(content="Some of it", finish_reason="length"), "limit"),
        (
            "anthropic/claude-sonnet-4-5",
            Reply(content="Some of it", finish_reason="refusal"),
            "filter",
        ),
        ("gemini/gemini-2.5-flash", Reply(content="Some of it", finish_reason="SAFETY"), "filter"),
        (
            "gemini/gemini-2.5-flash",
            Reply(content="Some of it", finish_reason="MAX_TOKENS"),
            "limit",
        ),
    ],
    ids=["openai-filter", "openai-length", "anthropic-refusal", "gemini-safety", "gemini-max"],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_a_filtered_or_cut_answer_is_reported_after_what_arrived(
    capsys: pytest.CaptureFixture[str],
    tsim: ThreadedSimulator,
    model: str,
    reply: Reply,
    expected: str,
    stream: bool,
) -> None:
    tsim.script(reply)
    base = tsim.base_url if model.startswith("openai/") else tsim.url
    argv = ["chat", "-m", model, "--base-url", base, "--api-key", "k", "Hello"]
    status, out, err = in_process(capsys, *argv, *(() if stream else ("--no-stream",)))
    assert (status, out) == (0, "Some of it\n")
    assert (
        err
        == {
            "filter": "[stopped: the provider's content filter withheld the rest of the answer]\n",
            "limit": "[stopped: the answer reached the model's output limit; raise it with "
            "--max-tokens]\n",
        }[expected]
    )


def test_trio_backend_without_trio_installed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trio", None)  # what find_spec sees when it is missing
    assert in_process(capsys, "chat", "--backend", "trio", "hi") == (
        2,
        "",
        "error: --backend trio needs the trio package: pip install trio\n",
    )


@pytest.mark.parametrize(
    ("model", "requested", "key", "base", "environ", "expected"),
    [
        ("openai/gpt-4o-mini", False, None, None, {}, "no-key"),
        ("gpt-4o", False, None, None, {}, "no-key"),
        ("openai/gpt-4o-mini", True, None, None, {"OPENAI_API_KEY": "k"}, "asked"),
        ("anthropic/claude-3", True, "k", "http://x", {}, "asked"),
        ("openai/gpt-4o-mini", False, "k", None, {}, None),
        ("openai/gpt-4o-mini", False, None, "http://127.0.0.1:1/v1", {}, None),
        ("openai/gpt-4o-mini", False, None, None, {"OPENAI_API_KEY": "k"}, None),
        ("openai/gpt-4o-mini", False, None, None, {"OPENAI_BASE_URL": "http://x"}, None),
        ("openai/gpt-4o-mini", False, None, None, {"OPENAI_API_BASE": "http://x"}, None),
        ("openai/gpt-4o-mini", False, None, None, {"OPENAI_API_KEY": ""}, "no-key"),
        ("openai/gpt-4o-mini", False, None, None, {"ANTHROPIC_API_KEY": "k"}, "no-key"),
        ("claude-3-5-haiku-latest", False, None, None, {}, None),
        ("anthropic/claude-3", False, None, None, {}, None),
        ("groq/llama3", False, None, None, {}, None),
        ("antropic/claude-3", False, None, None, {}, None),
    ],
)
def test_simulator_reason(
    model: str,
    requested: bool,
    key: str | None,
    base: str | None,
    environ: dict[str, str],
    expected: str | None,
) -> None:
    reason = simulator_reason(
        model, requested=requested, api_key=key, base_url=base, environ=environ
    )
    assert (
        reason
        == {
            "no-key": "no API key found for openai (set OPENAI_API_KEY, or pass --api-key or "
            "--base-url)",
            "asked": "--simulator given",
            None: None,
        }[expected]
    )


@pytest.mark.parametrize(
    ("finish_reason", "max_tokens", "expected"),
    [
        ("stop", None, None),
        (None, None, None),
        ("tool_calls", 5, None),
        ("length", 3, "[stopped: the answer reached --max-tokens 3]"),
        (
            "length",
            None,
            "[stopped: the answer reached the model's output limit; raise it with --max-tokens]",
        ),
        (
            "content_filter",
            3,
            "[stopped: the provider's content filter withheld the rest of the answer]",
        ),
    ],
)
def test_stop_notice(finish_reason: str | None, max_tokens: int | None, expected: str) -> None:
    assert stop_notice(finish_reason, max_tokens) == expected
