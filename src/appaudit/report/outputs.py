"""Several outputs from one scan: ``--format FMT[:PATH]`` (repeatable), rendered first, then written.

``FMT`` goes to standard output, ``FMT:PATH`` to a file. At most one format
may go to standard output; ``--output FILE`` names the file of the single
format given without a path. Nothing is written until every format rendered,
and each file is replaced atomically (written beside it, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from appaudit.errors import ConfigError
from appaudit.report import FORMATS, render
from appaudit.report.model import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    """One requested output."""

    fmt: str
    """A key of ``FORMATS``."""
    path: Path | None = None
    """None: standard output."""


def parse_output_specs(values: Sequence[str], output: Path | None = None) -> tuple[OutputSpec, ...]:
    """The outputs requested by ``--format`` values and ``--output``; ValueError says what is wrong."""
    specs: list[OutputSpec] = []
    for value in values or ("text",):
        name, sep, path = value.partition(":")
        if name not in FORMATS:
            where = f" in {value!r}" if sep else ""
            raise ValueError(f"unknown format {name!r}{where} (choose from {', '.join(FORMATS)})")
        if sep and not path:
            raise ValueError(f"{value!r}: no file after ':'")
        specs.append(OutputSpec(fmt=name, path=Path(path) if sep else None))
    to_stdout = [s for s in specs if s.path is None]
    if len(to_stdout) > 1:
        raise ValueError("only one format can go to standard output; give the others a file (FMT:PATH)")
    if output is not None:
        if not to_stdout:
            raise ValueError("--output names the file of the one format given without a path; every format has one")
        specs = [OutputSpec(fmt=s.fmt, path=output) if s.path is None else s for s in specs]
    paths = [s.path.resolve() for s in specs if s.path is not None]
    if len(paths) != len(set(paths)):
        raise ValueError("two formats would write the same file")
    return tuple(specs)


def render_outputs(
    report: Report,
    specs: Sequence[OutputSpec],
    *,
    color: Callable[[OutputSpec], bool] = lambda _s: False,
    lang: str = "en",
) -> list[tuple[OutputSpec, str]]:
    """Every output rendered (nothing written yet); a failing format raises before any file exists."""
    return [(spec, render(report, spec.fmt, color=color(spec), lang=lang)) for spec in specs]


def write_files(rendered: Sequence[tuple[OutputSpec, str]]) -> None:
    """Write every output that has a path; ConfigError (exit 4) when one cannot be written."""
    staged: list[tuple[Path, Path]] = []
    try:
        for spec, text in rendered:
            if spec.path is None:
                continue
            tmp = spec.path.with_name(f".{spec.path.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {spec.fmt} output {spec.path}: {exc.strerror or exc}") from exc
            staged.append((tmp, spec.path))
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise ConfigError(f"cannot write output {path}: {exc.strerror or exc}") from exc
    finally:
        for tmp, _path in staged:
            tmp.unlink(missing_ok=True)
