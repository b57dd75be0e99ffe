"""Output formats: pure functions from a Report to text, in one registry.

Each entry names the module whose ``render(report, *, color=False, lang="en") -> str``
produces that format; modules are imported on first use so that a JSON run
never pays for the terminal library. ``lang`` (report.i18n.LANGS) translates
what the human-readable formats say; machine formats accept and ignore it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from appaudit.report.model import Report

Renderer = Callable[..., str]

#: format name -> module (under appaudit.report) that renders it
FORMAT_MODULES: dict[str, str] = {
    "text": "appaudit.report.text",
    "json": "appaudit.report.json_v1",
    "sarif": "appaudit.report.sarif",
    "html": "appaudit.report.html",
    "markdown": "appaudit.report.markdown",
}


class _Formats(dict[str, Renderer]):
    """The registry as a mapping name -> render function, loading modules lazily."""

    def __missing__(self, name: str) -> Renderer:
        module = importlib.import_module(FORMAT_MODULES[name])
        render: Renderer = module.render
        self[name] = render
        return render

    def __contains__(self, name: object) -> bool:
        return name in FORMAT_MODULES

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(FORMAT_MODULES)

    def __len__(self) -> int:
        return len(FORMAT_MODULES)

    def keys(self):  # type: ignore[no-untyped-def]
        return FORMAT_MODULES.keys()


FORMATS: dict[str, Renderer] = _Formats()


def render(report: Report, fmt: str, *, color: bool = False, lang: str = "en") -> str:
    """Render ``report`` in format ``fmt`` (a key of FORMATS) and language ``lang``."""
    return FORMATS[fmt](report, color=color, lang=lang)
