"""Developer sessions: `nox -s tests lint typecheck docs`, `nox -s lowest` (the dependency
floors) and `nox -s bench` (not in CI)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on asyncio and trio (every async test runs on both)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lowest(session: nox.Session) -> None:
    """The suite against the lowest versions pyproject.toml allows for ritellm's own
    dependencies (run it whenever they change): the floors must be what passes."""
    import tomllib

    with open("pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        name, sep, floor = requirement.partition(">=")
        if not sep:
            session.error(f"{requirement!r} has no >= floor")
        pins.append(f"{name.strip()}=={floor.split(',')[0].strip()}")
    constraints = session.create_tmp() + "/lowest.txt"
    with open(constraints, "w") as f:
        f.write("\n".join(pins) + "\n")
    session.install("-c", constraints, "-e", ".[test]")
    names = ", ".join(repr(pin.split("==")[0]) for pin in pins)
    show = f"from importlib.metadata import version; print([version(n) for n in ({names},)])"
    session.run("python", "-c", show)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, including the ASYNC rules."""
    session.install("ruff")
    # Python sources only: the docs' code samples are formatted for reading.
    paths = ["ritellm", "tests", "benchmarks", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install("-e", ".[test,lint]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against a local server (see docs/benchmarks.md)."""
    session.install("-e", ".[bench]")
    session.run(
        "python",
        "-m",
        "benchmarks",
        "--rounds",
        "5",
        "--out",
        "benchmarks/results",
        *session.posargs,
    )
