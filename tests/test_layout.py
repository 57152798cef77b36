"""The import rules of design.md §2, checked by walking every module's ``ast``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ritellm"
MODULES = sorted(ROOT.rglob("*.py"))
PURE = {
    "sse.py",
    "_types.py",
    "_errors.py",
    "_error_map.py",
    "_redact.py",
    "_options.py",
    "_retry.py",
    "_assemble.py",
    "_call.py",
    "_prepared.py",
    "_checks.py",
    "_metadata.py",
    "_ratelimits.py",
    "_cost.py",
    "_prices.py",
    "_mock.py",
}
IO_LIBS = {"anyio", "httpcore", "h11", "trio", "asyncio", "socket", "ssl", "sniffio"}
PUBLIC_USERS = {"__init__.py", "__main__.py", "_cli.py"}  # may import ritellm itself
CLIENT_MODULES = {
    "ritellm._client",
    "ritellm._transport",
    "ritellm._stream",
    "ritellm._blocking",
    "ritellm._loops",
    "ritellm._portal",
}
# The exception to "anyio, never asyncio": the modules that drive the blocking facade's private
# asyncio loops (a thread's own loop: no thread hop; the portal: one thread round trip per call
# where anyio's BlockingPortal takes two). _blocking.py itself imports neither.
LOOP_DRIVERS = {"_loops.py", "_portal.py"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT.parent).as_posix()


def imported(source: str, package: list[str]) -> set[str]:
    """Absolute names of every module imported anywhere in ``source`` (functions and
    TYPE_CHECKING blocks included); ``package`` is the module's package, e.g. ["ritellm"]."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
                found.add(alias.name.split(".")[0])  # `import a.b` binds (and imports) `a`
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


def imports(path: Path) -> set[str]:
    package = list(path.relative_to(ROOT.parent).parent.parts)
    return imported(path.read_text(encoding="utf-8"), package)


def is_pure(path: Path) -> bool:
    return (path.parent == ROOT and path.name in PURE) or path.parent == ROOT / "_providers"


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from .. import x", ["ritellm", "_providers"], "ritellm"),
        ("from . import x", ["ritellm"], "ritellm"),
        ("from . import ProviderSpec", ["ritellm", "_providers"], "ritellm._providers"),
        ("from .._errors import E", ["ritellm", "_providers"], "ritellm._errors"),
        ("import ritellm.sse", ["ritellm"], "ritellm"),
        ("def f():\n    from ._client import A", ["ritellm"], "ritellm._client"),
    ],
)
def test_import_resolution(source: str, package: list[str], expected: str) -> None:
    assert expected in imported(source, package)


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_layer_rules(path: Path) -> None:
    names = imports(path)
    tops = {name.split(".")[0] for name in names}
    if not (path.parent == ROOT and path.name in PUBLIC_USERS) and "testing" not in path.parts:
        assert "ritellm" not in names, "imports the package root (ritellm/__init__)"
    native = {"trio"} if path.parent == ROOT and path.name in LOOP_DRIVERS else {"trio", "asyncio"}
    assert not tops & native, "use anyio, never trio/asyncio directly"
    if path.parent != ROOT / "_transport":
        assert "httpcore" not in tops, "only modules in ritellm/_transport/ import httpcore"
    if is_pure(path):
        assert not tops & IO_LIBS, f"pure module imports {sorted(tops & IO_LIBS)}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not any(isinstance(n, ast.AsyncFunctionDef) for n in ast.walk(tree))
    if "testing" in path.parts:
        assert not names & CLIENT_MODULES, f"imports {sorted(names & CLIENT_MODULES)}"


def test_every_pure_module_exists() -> None:
    assert {p.name for p in MODULES if p.parent == ROOT} >= PURE
    assert ROOT / "_providers" / "openai.py" in MODULES


def test_import_ritellm_does_not_import_httpcore() -> None:
    code = "import sys, ritellm; print('httpcore' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT.parent,
    )
    assert out.stdout.strip() == "False"


# The modules every call goes through: the format differences live behind the Provider
# interface, so none of them may branch on a provider.
PROVIDER_BLIND = [
    "_call.py",
    "_prepared.py",
    "_redact.py",
    "_client.py",
    "_attempts.py",
    "_stream.py",
    "_blocking.py",
    "_loops.py",
    "_portal.py",
]


def _code_strings(tree: ast.AST) -> set[str]:
    """String constants and identifiers in code, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                found.add(node.value.lower())
        elif isinstance(node, ast.Name):
            found.add(node.id.lower())
        elif isinstance(node, ast.Attribute):
            found.add(node.attr.lower())
    return found


class _WithoutTypedDicts(ast.NodeTransformer):
    """The declared keyword arguments (a TypedDict) may name provider options such as
    azure_ad_token: declaring a parameter is not branching on a provider."""

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef | None:
        if any(isinstance(b, ast.Name) and b.id == "TypedDict" for b in node.bases):
            return None
        return node


@pytest.mark.parametrize("name", PROVIDER_BLIND)
def test_no_provider_specific_branch(name: str) -> None:
    from ritellm._providers import PROVIDERS

    tree = _WithoutTypedDicts().visit(ast.parse((ROOT / name).read_text(encoding="utf-8")))
    strings = _code_strings(tree)
    for provider in PROVIDERS:
        assert not any(provider in s for s in strings), f"{name} names provider {provider!r}"


def _import_time_imports(path: Path) -> set[str]:
    """Sibling modules ``path`` imports when it is imported: module level only, not inside
    functions or ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_the_simulator_package_imports_in_one_direction() -> None:
    package = ROOT / "testing"
    graph = {p.stem: _import_time_imports(p) for p in package.glob("*.py")}
    formats = {"_openai", "_anthropic", "_gemini", "_azure"}
    for name in formats:
        assert not graph[name] & (formats - {name}), f"{name} imports another format"
    # No cycle: repeatedly remove modules that import nothing left.
    left = {name: deps & graph.keys() for name, deps in graph.items()}
    while left:
        leaves = [name for name, deps in left.items() if not deps - {name}]
        assert leaves, f"import cycle among {sorted(left)}"
        for name in leaves:
            del left[name]
        for deps in left.values():
            deps.difference_update(leaves)
