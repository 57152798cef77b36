"""`ritellm chat` against the bundled simulator, for every wire format, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ANSWER = "Hello from the ritellm simulator! You said: Hello sockets\n"


def chat(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "ritellm", "chat", *args, "Hello sockets"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("-m", "anthropic/claude-sonnet-4-5", "--simulator"),
        ("-m", "claude-3-5-haiku-latest", "--simulator", "--no-stream"),
        ("-m", "gemini/gemini-2.5-flash", "--simulator"),
        ("-m", "azure/my-gpt", "--simulator", "--api-version", "2024-10-21", "--api-key", "k"),
        ("-m", "ollama/llama3.2", "--simulator"),
        ("-m", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "--simulator"),
    ],
    ids=["openai", "anthropic", "bare-claude", "gemini", "azure", "ollama", "bedrock"],
)
def test_chat_streams_the_answer_from_the_simulator(args: tuple[str, ...]) -> None:
    out = chat(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ANSWER
    assert "answering from the bundled simulator" in out.stderr


def test_unknown_prefix_is_a_one_line_error() -> None:
    out = chat("-m", "antropic/claude-3", "--simulator")
    assert out.returncode == 1
    assert out.stdout == ""
    assert "UnknownProviderError" in out.stderr
    assert "Did you mean 'anthropic/claude-3'?" in out.stderr
    assert "Traceback" not in out.stderr
