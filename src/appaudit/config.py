"""The CI configuration file: ``appaudit.toml``, or ``[tool.appaudit]`` in ``pyproject.toml``.

Found the way ruff finds its own: from the current directory upward, the first
directory holding an ``appaudit.toml``, or a ``pyproject.toml`` with a
``[tool.appaudit]`` table (``appaudit.toml`` wins in the same directory); or
the one file ``--config FILE`` names. Validated against
``schemas/config.schema.json``: an unknown key or a bad value is a
ConfigError (exit 4) naming the file and the key. Relative paths in the file
are relative to its directory, so a pipeline gets the same result from any
working directory. The command line always wins: the CLI uses a value from
here only for an option that was not given.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from appaudit.errors import ConfigError
from appaudit.resources import schema_path

CONFIG_FILE = "appaudit.toml"
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Defaults from a configuration file; None (or empty) where the file says nothing."""

    source: Path | None = None
    """The file read (None: no file found)."""
    fail_on: str | None = None
    """A ``--fail-on`` value: ``info`` ... ``critical`` or ``never``."""
    allow_inconclusive: bool | None = None
    baseline: Path | None = None
    policies: tuple[str, ...] | None = None
    """Policy pack ids; ``()``: evaluate none; None: the file does not say (all)."""
    rules: tuple[Path, ...] | None = None
    """Extra rule directories."""
    formats: tuple[str, ...] | None = None
    """``--format`` values (``FMT`` or ``FMT:FILE``, FILE resolved against the file's directory)."""
    output: Path | None = None


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path("config.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _table(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The appaudit table of ``path`` (None: a pyproject.toml without one) and the key prefix for messages."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read the configuration: {reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    if path.name != PYPROJECT:
        return doc, ""
    table = doc.get("tool", {}).get("appaudit") if isinstance(doc.get("tool"), dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.appaudit: must be a table")
    return table, "tool.appaudit."


def find_config(start: Path) -> Path | None:
    """The configuration file that applies in ``start``: nearest directory first, None when there is none."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _table(pyproject)[0] is not None:
            return pyproject
    return None


def _check(table: dict[str, Any], path: Path, prefix: str) -> None:
    errors = sorted(_validator().iter_errors(table), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    error = errors[0]
    key = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and not key:
        known = _validator().schema["properties"]
        unknown = sorted(k for k in table if k not in known)
        raise ConfigError(f"{path}: {prefix}{unknown[0]}: unknown key (known: {', '.join(known)})")
    raise ConfigError(f"{path}: {prefix}{key}: {error.message}")


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _format(base: Path, value: str) -> str:
    fmt, sep, target = value.partition(":")
    return f"{fmt}:{_resolve(base, target)}" if sep else fmt


def load_config(path: Path | None = None, *, start: Path | None = None) -> Config:
    """The configuration ``path`` names, else the one found from ``start`` (default: the current directory).

    A named file must exist and, if it is a pyproject.toml, hold ``[tool.appaudit]``.
    """
    if path is None:
        path = find_config((start or Path.cwd()).resolve())
        if path is None:
            return Config()
    elif not path.is_file():
        raise ConfigError(f"{path}: cannot read the configuration: no such file")
    table, prefix = _table(path)
    if table is None:
        raise ConfigError(f"{path}: no [tool.appaudit] table")
    _check(table, path, prefix)
    base = path.resolve().parent
    return Config(
        source=path,
        fail_on=table.get("fail-on"),
        allow_inconclusive=table.get("allow-inconclusive"),
        baseline=_resolve(base, table["baseline"]) if "baseline" in table else None,
        policies=tuple(table["policies"]) if "policies" in table else None,
        rules=tuple(_resolve(base, d) for d in table["rules"]) if "rules" in table else None,
        formats=tuple(_format(base, f) for f in table["format"]) if "format" in table else None,
        output=_resolve(base, table["output"]) if "output" in table else None,
    )
