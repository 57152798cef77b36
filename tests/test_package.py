"""The built wheel and sdist carry the package's metadata and its license: both are built from
one copy of the sources with the project's own build backend (setuptools, as pyproject.toml
requires it), and their METADATA / PKG-INFO and file lists are checked."""

from __future__ import annotations

import email.message
import email.parser
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
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
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the wheel and the sdist, each built once by the backend itself
    (what pip and `python -m build` call), in a process of its own."""
    # A copy, so that the build's own files (build/, *.egg-info) never land in the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ritellm", src / "ritellm", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ)
    if not _setuptools_supports_pep639():
        # The backend pyproject.toml requires, apart from the environment (as pip's build
        # isolation would install it), found first on the path.
        backend = tmp_path_factory.mktemp("backend")
        install = [sys.executable, "-m", "pip", "install", "-q", "--target", str(backend)]
        done = subprocess.run(
            [*install, "setuptools>=77"], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        env["PYTHONPATH"] = str(backend)
    out = tmp_path_factory.mktemp("dist")
    for hook in ("build_sdist", "build_wheel"):
        code = f"from setuptools import build_meta; build_meta.{hook}({str(out)!r})"
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Iterator[zipfile.ZipFile]:
    (path,) = dist.glob("ritellm-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Iterator[tarfile.TarFile]:
    (path,) = dist.glob("ritellm-*.tar.gz")
    with tarfile.open(path) as archive:
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


def test_sdist_contains_the_license_and_the_metadata(sdist: tarfile.TarFile) -> None:
    names = sdist.getnames()
    (top,) = {name.split("/")[0] for name in names}
    assert top.startswith("ritellm-")
    license_file = sdist.extractfile(f"{top}/LICENSE")
    assert license_file is not None
    assert license_file.read().decode() == (ROOT / "LICENSE").read_text()
    pkg_info = sdist.extractfile(f"{top}/PKG-INFO")
    assert pkg_info is not None
    meta = email.parser.BytesParser().parsebytes(pkg_info.read())
    assert meta["Name"] == "ritellm"
    assert top == f"ritellm-{meta['Version']}"
    assert meta["Author"] == "The ritellm authors"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    for name in ("pyproject.toml", "README.md", "ritellm/__init__.py", "ritellm/py.typed"):
        assert f"{top}/{name}" in names
