"""Which build of appaudit is installed: pure Python, or with its hot modules compiled by mypyc.

The wheel compiles the modules pyproject.toml lists (hatch_build.py); an editable install, a build with
``APPAUDIT_PURE_PYTHON=1`` and a machine without a C compiler give the pure-Python build. Both give the
same reports; the compiled one is faster (docs/benchmarks.md). ``appaudit --version`` says which is installed.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def compiled_modules() -> tuple[str, ...]:
    """The appaudit modules installed as compiled extensions (``appaudit.analysis.taint``...), sorted; empty
    for the pure-Python build. Python imports an extension in preference to the ``.py`` beside it."""
    found: set[str] = set()
    suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)  # ``.cpython-311-x86_64-linux-gnu.so`` before ``.so``
    for path in _PACKAGE.rglob("*"):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None:
            parts = path.relative_to(_PACKAGE).parts
            found.add(".".join(("appaudit", *parts[:-1], path.name[: -len(suffix)])))
    return tuple(sorted(found))


def describe() -> str:
    """One line for ``--version``: how many modules run compiled, or that the build is pure Python."""
    compiled = compiled_modules()
    return f"{len(compiled)} modules compiled by mypyc" if compiled else "pure Python"
