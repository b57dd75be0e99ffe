"""Output formats: pure functions from a Report to text, in one registry."""

from __future__ import annotations

from collections.abc import Callable

from appaudit.model import Report
from appaudit.report import json_v1, text

Renderer = Callable[..., str]

#: format name -> render(report, *, color=False) -> str
FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_v1.render,
}


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    """Render ``report`` in format ``fmt`` (a key of FORMATS)."""
    return FORMATS[fmt](report, color=color)
