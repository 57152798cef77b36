"""`ritellm batch --ray` on a real Ray cluster: a head node started with `ray start --head` for
this module, and the command run as `python -m ritellm batch ... --ray 127.0.0.1:PORT`. The
output, exit status and stderr are a local run's; a rerun sends nothing; --retry-errors
replaces error lines in place; the bundled simulator answers from the driver.

Its own module, apart from tests/test_ray.py: that module's cluster lives in the pytest
process (`ray.init`), this one in processes of its own that the driver subprocesses connect
to. The head node runs in a session of its own (`start_new_session`), and teardown ends
exactly the processes of that session, by id, also when a test or the start failed: `ray
stop` would end every Ray process on the machine, other people's clusters included. Its
temp dir keeps it out of /tmp/ray, where `ray.init()` elsewhere would find and join it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ritellm._cli import main
from ritellm._cli_ray import is_local_address
from ritellm.testing import Reply, Simulator, ThreadedSimulator

from .batch_helpers import normal

pytest.importorskip("ray")

NO_KEY = (
    "ritellm: no API key found for openai (set OPENAI_API_KEY, or pass --api-key or "
    "--base-url); answering from the bundled simulator at http://127.0.0.1:PORT/v1"
)
FAIL = {"x-ritellm-sim": json.dumps({"status": 400, "error_message": "nope"})}
TOKEN = secrets.token_hex(32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (Ray's daemons keep the session of `ray start`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _end_session(sid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        for pid in _session(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while _session(sid) and time.monotonic() < deadline:
            time.sleep(0.1)  # they are no children of ours: nothing to wait on
        if not _session(sid):
            return
    raise AssertionError(f"processes of the Ray head's session live on: {_session(sid)}")


def ray_env() -> dict[str, str]:
    """This environment without Ray's or OpenAI's settings, and with token authentication
    whose token only this module knows (a cluster that ritellm starts uses it too, and
    writes none to ~/.ray)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "OPENAI_"))}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
    # Ray's single-machine mode: 127.0.0.1 stays 127.0.0.1 (Ray would resolve it to this
    # machine's network address), so every connection of these tests is on loopback.
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


@pytest.fixture(scope="module")
def head() -> Iterator[tuple[str, dict[str, str]]]:
    """(the head's address, the environment that reaches it)."""
    temp = tempfile.mkdtemp(prefix="rtl-ray-", dir="/tmp")  # Ray's socket paths must be short
    env = ray_env()
    port = _free_port()
    ray = str(Path(sys.executable).parent / "ray")
    argv = [ray, "start", "--head", "--num-cpus=2", "--include-dashboard=false"]
    argv += [f"--port={port}", f"--temp-dir={temp}", "--node-ip-address=127.0.0.1"]
    argv += ["--disable-usage-stats"]
    argv += [f"--dashboard-agent-listen-port={_free_port()}"]
    log = Path(temp) / "start.log"
    with log.open("w") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    try:
        status = proc.wait(timeout=120)
        assert status == 0, log.read_text()
        yield f"127.0.0.1:{port}", env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _end_session(proc.pid)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedSimulator]:
    with Simulator.start_in_thread() as sim:
        yield sim


@pytest.fixture
def sim(server: ThreadedSimulator) -> Iterator[ThreadedSimulator]:
    server.reset_stats()
    server.simulator.requests.clear()
    yield server
    server.default = Reply()


def write_input(path: Path, n: int) -> None:
    """``n`` requests, then a line without an id, one that is not JSON, and one the
    provider refuses."""
    with path.open("w") as f:
        for i in range(n):
            line = {"id": f"r{i}", "messages": [{"role": "user", "content": f"question {i}"}]}
            f.write(json.dumps(line) + "\n")
        f.write(json.dumps({"messages": [{"role": "user", "content": "no id"}]}) + "\n")
        f.write("{not json\n")
        line = {"id": "refused", "messages": [{"role": "user", "content": "x"}]}
        f.write(json.dumps({**line, "extra_headers": FAIL}) + "\n")


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def shape(record: dict[str, Any]) -> dict[str, Any]:
    """A result line without what differs between two runs (the simulator's response id and
    creation time)."""
    if "response" not in record:
        return record
    response = {k: v for k, v in record["response"].items() if k not in ("id", "created")}
    return {**record, "response": response}


def ritellm_batch(
    *argv: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ritellm", "batch", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_on_a_pty(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``python -m ritellm ARGV`` with stderr on a pty 200 columns wide: (status, what the
    terminal received, its newlines as they were written)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm", *argv],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
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
        status = proc.wait(timeout=90)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, received.decode().replace("\r\n", "\n")


def test_a_local_cluster_the_simulator_fallback_and_the_progress_line(tmp_path: Path) -> None:
    """Without an address a cluster is started for the run (not the head of the tests
    below); with no key configured, the simulator in the driver answers the workers; error
    lines of an earlier run are redone in place; the terminal shows the progress line with
    the input's line count as its total."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    with src.open("w") as f:
        for i in range(30):
            line = {"id": i, "messages": [{"role": "user", "content": f"question {i}"}]}
            f.write(json.dumps(line) + "\n")
    earlier = [
        {"id": i, "line": i + 1, "error": {"type": "APIConnectionError", "message": "gone"}}
        for i in (0, 3)
    ]
    answered = {"id": 1, "line": 2, "response": {"object": "chat.completion", "choices": []}}
    out.write_text("".join(json.dumps(r) + "\n" for r in [earlier[0], answered, earlier[1]]))
    argv = ["batch", str(src), "-o", str(out), "--retry-errors", "--ray"]
    status, raw = run_on_a_pty(argv, ray_env())
    assert status == 0, raw
    summary = "ritellm batch: 30 lines: 29 done, 0 failed, 1 already finished, 0 retried after "
    summary += "429, in Ts"
    notice, progress, last, end = raw.split("\n")
    assert (normal(notice), normal(last), end) == ([NO_KEY], [summary], "")
    # Each redraw counts the input's 30 lines, finished ones included, and ends at 30/30.
    drawn = [text.rstrip() for text in progress.split("\r")[1:]]
    pattern = r"(\d+)/30 done, 0 failed, 0 retried after 429, \d+ in flight \(limit \d+\)"
    assert drawn and all(re.fullmatch(pattern, text) for text in drawn), drawn
    assert drawn[-1].startswith("30/30 done")
    got = records(out)
    # The redone lines took their error lines' places; the new ones follow as they finished;
    # each is the simulator's, and marked so.
    assert [r["id"] for r in got[:3]] == [0, 1, 3]
    assert sorted(r["id"] for r in got[3:]) == [2, *range(4, 30)]
    assert got[1] == answered
    assert [r.get("simulated") for r in got] == [True, None, *[True] * 28]
    assert got[0]["response"]["choices"][0]["message"]["content"].endswith("question 0")
    assert not (tmp_path / "out.jsonl.retry").exists()


def test_without_ray_it_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    assert main(["batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--ray"]) == 2
    assert capsys.readouterr().err == "error: --ray needs Ray Data: pip install 'ritellm[ray]'\n"
    assert not (tmp_path / "out.jsonl").exists()
    monkeypatch.delitem(sys.modules, "ray")
    assert main(["batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--ray-workers", "3"]) == 2
    assert capsys.readouterr().err == "error: --ray-workers needs --ray\n"
    assert not (tmp_path / "out.jsonl").exists()


REMOTE_SIM = (
    "error: --ray {address}: the bundled simulator would answer ({reason}), but it runs on "
    "this machine's 127.0.0.1, which workers on other nodes cannot reach; pass --api-key (or "
    "set the provider's key), or use a local cluster (--ray alone, or a 127.0.0.1 address)\n"
)


def test_a_cluster_elsewhere_with_the_simulator_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    out = tmp_path / "out.jsonl"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["batch", str(src), "-o", str(out), "--no-progress"]
    # Nothing listens at 10.0.0.5: refused before anything is tried (no connection timeout).
    assert main([*argv, "--simulator", "--ray", "10.0.0.5:6379"]) == 2
    reason = "--simulator given"
    assert capsys.readouterr().err == REMOTE_SIM.format(address="10.0.0.5:6379", reason=reason)
    no_key = "no API key found for openai (set OPENAI_API_KEY, or pass --api-key or --base-url)"
    assert main([*argv, "--ray", "ray://head.example:10001"]) == 2
    err = capsys.readouterr().err
    assert err == REMOTE_SIM.format(address="ray://head.example:10001", reason=no_key)
    monkeypatch.setenv("RAY_ADDRESS", "auto")  # the cluster it finds may span nodes
    assert main([*argv, "--ray"]) == 2
    assert capsys.readouterr().err == REMOTE_SIM.format(address="auto", reason=no_key)
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1:6379", True),
        ("127.0.1.1:6379", True),
        ("localhost:6379", True),
        ("[::1]:6379", True),
        ("ray://127.0.0.1:10001", True),
        ("auto", False),
        ("10.0.0.5:6379", False),
        ("ray://head:10001", False),
        ("localhost.example.com:6379", False),
    ],
)
def test_is_local_address(address: str, local: bool) -> None:
    assert is_local_address(address) is local


def test_an_address_nothing_listens_on_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    port = _free_port()  # closed again: nothing listens there
    argv = ["batch", str(src), "-o", str(tmp_path / "out.jsonl"), "--simulator"]
    assert main([*argv, "--no-progress", "--ray", f"127.0.0.1:{port}"]) == 1
    assert normal(capsys.readouterr().err) == [
        "ritellm: --simulator given; answering from the bundled simulator at "
        "http://127.0.0.1:PORT/v1",
        "error: cannot connect to the Ray cluster at 127.0.0.1:PORT: Connection refused",
    ]
    assert (tmp_path / "out.jsonl").read_text() == ""  # nothing sent, nothing written


def test_output_exit_status_and_stderr_are_a_local_runs(
    head: tuple[str, dict[str, str]],
    sim: ThreadedSimulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address, env = head
    src = tmp_path / "in.jsonl"
    write_input(src, 40)
    common = ["--base-url", sim.base_url, "--api-key", "sk-test", "--no-progress", "-c", "4"]
    local = tmp_path / "local.jsonl"
    assert main(["batch", str(src), "-o", str(local), *common]) == 1
    local_err = normal(capsys.readouterr().err)
    sent_locally = len(sim.requests)
    assert sent_locally == 42  # the line that is not JSON is never sent

    out = tmp_path / "ray.jsonl"
    proc = ritellm_batch(str(src), "-o", str(out), *common, "--ray", address, env=env)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert (
        normal(proc.stderr)
        == local_err
        == [
            f"ritellm batch: {src}: line 42 is not JSON: Expecting property name enclosed in "
            "double quotes (column 2)",
            "ritellm batch: 43 lines: 41 done, 2 failed, 0 already finished, 0 retried after "
            "429, in Ts",
            "ritellm batch: 2 lines failed; rerun with --retry-errors to retry them",
        ]
    )
    assert len(sim.requests) - sent_locally == 42  # each request once (no worker died)
    got = records(out)
    assert sorted(str(r["id"]) for r in got) == sorted(str(r["id"]) for r in records(local))
    assert len(got) == 43  # every id exactly once
    assert sorted(map(json.dumps, map(shape, got))) == sorted(
        map(json.dumps, map(shape, records(local)))
    )
    refused = next(r for r in got if r["id"] == "refused")
    assert refused == {
        "id": "refused",
        "line": 43,
        "error": {
            "type": "BadRequestError",
            "message": "openai/gpt-4o-mini: HTTP 400: nope",
            "status_code": 400,
            "code": None,
        },
    }

    # A rerun sends nothing (and does not even connect to the cluster).
    proc = ritellm_batch(str(src), "-o", str(out), *common, "--ray", address, env=env)
    assert proc.returncode == 1
    assert normal(proc.stderr) == [
        "ritellm batch: 43 lines: 0 done, 0 failed, 43 already finished, 0 retried after "
        "429, in Ts",
        "ritellm batch: 2 lines failed earlier; rerun with --retry-errors to retry them",
    ]
    assert len(sim.requests) - sent_locally == 42
    assert records(out) == got


def test_ctrl_c_keeps_what_was_written_and_exits_at_once(
    head: tuple[str, dict[str, str]], sim: ThreadedSimulator, tmp_path: Path
) -> None:
    address, env = head
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    slow = {"x-ritellm-sim": json.dumps({"latency": 0.2})}
    with src.open("w") as f:
        for i in range(400):
            line = {"id": i, "messages": [{"role": "user", "content": f"question {i}"}]}
            f.write(json.dumps({**line, "extra_headers": slow}) + "\n")
    common = ["--base-url", sim.base_url, "--api-key", "sk-test", "--no-progress", "-c", "4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ritellm", "batch", str(src), "-o", str(out), *common,
         "--ray", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 8:
                break
            time.sleep(0.05)  # polls a file another process writes: nothing to wait on
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        stopping = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert err == "interrupted; rerun the same command to resume\n"
    assert stopping < 10  # not a wait for the job's other 390 requests
    got = records(out)  # every line whole: a rerun would go on from here
    assert 8 <= len(got) < 400
    assert len({r["id"] for r in got}) == len(got)
    assert all("response" in r for r in got)
