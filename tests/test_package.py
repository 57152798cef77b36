"""The built wheel carries the package's metadata and its license: one wheel is built from a
copy of the sources with the project's own build backend (setuptools), and its METADATA and
file list are checked."""

from __future__ import annotations

import email.message
import email.parser
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://github.com/ritellm/ritellm"


def _setuptools_supports_pep639() -> bool:
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major >= 77  # license = "<SPDX>" and license-files in [project]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    # A copy, so that the build's own files (build/, *.egg-info) never land in the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ritellm", src / "ritellm", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)]
    if _setuptools_supports_pep639():
        command.append("--no-build-isolation")  # offline: the installed backend will do
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("ritellm-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.BytesParser().parsebytes(wheel.read(name))


def test_metadata_names_authors_license_and_urls(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    assert meta["Name"] == "ritellm"
    assert meta["Author"] == "The ritellm authors"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta.get_all("Project-URL") == [
        f"Homepage, {REPO}",
        f"Documentation, {REPO}/tree/main/docs",
        f"Repository, {REPO}",
        f"Issues, {REPO}/issues",
        f"Changelog, {REPO}/releases",
    ]
    assert {"llm", "openai", "anthropic", "trio", "asyncio"} <= set(meta["Keywords"].split(","))


def test_classifiers_are_the_declared_ones_without_a_license_classifier(
    wheel: zipfile.ZipFile,
) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    classifiers = _metadata(wheel).get_all("Classifier") or []
    assert classifiers == declared
    for expected in (
        "Framework :: AnyIO",
        "Framework :: AsyncIO",
        "Framework :: Trio",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    ):
        assert expected in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Topic :: ") for c in classifiers)
    # PEP 639: the SPDX License-Expression replaces "License ::" classifiers.
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_wheel_contains_the_license_and_the_typing_marker(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(license_file).decode()
    assert text == (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The ritellm authors\n")
    assert "ritellm/py.typed" in names  # what "Typing :: Typed" promises
    assert "ritellm/testing/__init__.py" in names
