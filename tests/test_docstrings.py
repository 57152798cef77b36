"""Every parameter of the public API is named in its docstring: the functions and classes of
``ritellm.__all__``, ``ritellm.testing`` and ``ritellm.sse``, and the public methods of those
classes (``__init__`` included: its parameters may be described in the class docstring)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import ritellm
import ritellm.sse
import ritellm.testing

MODULES: tuple[ModuleType, ...] = (ritellm, ritellm.testing, ritellm.sse)
# Parameters that need no description of their own.
_EXEMPT = {"self", "cls"}


def _ours(obj: object) -> bool:
    return getattr(obj, "__module__", "").startswith("ritellm")


def _methods(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Public methods a caller can reach on ``cls``, defined by ritellm (not dict's or
    Exception's), ``__init__`` included."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not _ours(klass):
            continue
        for name, raw in vars(klass).items():
            if name in seen or (name.startswith("_") and name != "__init__"):
                continue
            seen.add(name)
            func = raw.__func__ if isinstance(raw, classmethod | staticmethod) else raw
            if inspect.isfunction(func):
                yield name, func


def _documented(name: str, doc: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\b", doc) is not None


def cases() -> list[tuple[str, Callable[..., Any], str]]:
    """(qualified name, callable, the docstring its parameters must appear in)."""
    found: dict[str, tuple[str, Callable[..., Any], str]] = {}
    for module in MODULES:
        for export in module.__all__:
            obj = getattr(module, export)
            # An alias (ritellm.Timeout is APITimeoutError) is checked once, by its own name.
            where = f"{module.__name__}.{getattr(obj, '__qualname__', export)}"
            if inspect.isfunction(obj):
                found[where] = (where, obj, inspect.getdoc(obj) or "")
            elif inspect.isclass(obj) and _ours(obj):
                for name, func in _methods(obj):
                    doc = inspect.getdoc(func) or ""
                    if name == "__init__":
                        # The constructor's parameters may be described by the class or by
                        # the class that defines the constructor.
                        owner = next(k for k in obj.__mro__ if "__init__" in vars(k))
                        doc = "\n".join(filter(None, (obj.__doc__, owner.__doc__, func.__doc__)))
                    found[f"{where}.{name}"] = (f"{where}.{name}", func, doc)
    return sorted(found.values(), key=lambda case: case[0])


def _missing(func: Callable[..., Any], doc: str) -> list[str]:
    missing = []
    for param in inspect.signature(func).parameters.values():
        if param.name in _EXEMPT:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            # ``*args`` / ``**kwargs``: documented as such, under either spelling.
            shown = ("*" if param.kind is param.VAR_POSITIONAL else "**") + param.name
            if shown not in doc and not _documented(param.name, doc):
                missing.append(shown)
        elif not _documented(param.name, doc):
            missing.append(param.name)
    return missing


CASES = cases()


def test_the_public_api_is_found() -> None:
    names = {where for where, _, _ in CASES}
    for expected in (
        "ritellm.acompletion",
        "ritellm.completion",
        "ritellm.AsyncClient.__init__",
        "ritellm.AsyncClient.acompletion",
        "ritellm.gather_completions",
        "ritellm.testing.Simulator.start_in_thread",
        "ritellm.testing.Reply.__init__",
        "ritellm.sse.SSEDecoder.feed",
    ):
        assert expected in names


@pytest.mark.parametrize(("where", "func", "doc"), CASES, ids=[case[0] for case in CASES])
def test_every_parameter_is_named_in_the_docstring(
    where: str, func: Callable[..., Any], doc: str
) -> None:
    assert doc.strip(), f"{where} has no docstring"
    missing = _missing(func, doc)
    assert not missing, f"{where}: the docstring does not name {', '.join(missing)}"
