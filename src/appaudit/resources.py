"""Where the bundled rules and schemas are.

In a wheel they are packed as ``appaudit/_data/{rules,schemas}`` (see
pyproject.toml); in a source checkout or editable install they are the
repository's top-level ``rules/`` and ``schemas/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The bundled ``rules`` or ``schemas`` folder."""
    packed = _PACKAGE / "_data" / name
    if packed.is_dir():
        return packed
    source = _PACKAGE.parent.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"bundled {name}/ not found next to {_PACKAGE}")


def rules_dir() -> Path:
    """The bundled rule pack."""
    return data_dir("rules")


def schema_path(filename: str) -> Path:
    """A bundled JSON Schema file, e.g. ``rule.schema.json``."""
    return data_dir("schemas") / filename
