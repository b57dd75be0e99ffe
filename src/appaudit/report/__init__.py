"""Output formats: pure functions from a Report to text, in one registry.

:data:`FORMATS` maps each format's name to a :class:`Format`; its ``render``
imports the module that renders it on first use, so that a JSON run never pays
for the terminal library. ``lang`` (report.i18n.LANGS) translates what the
human-readable formats say; machine formats accept and ignore it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from appaudit.report.model import Report


class Renderer(Protocol):
    """What each format module's ``render`` is: a pure function of the report."""

    def __call__(self, report: Report, *, color: bool = False, lang: str = "en") -> str: ...


class Format(Protocol):
    """One output format: its name, how a file of it is typed, and how a report becomes its text."""

    @property
    def name(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    @property
    def extension(self) -> str: ...

    def render(self, report: Report, *, color: bool = False, lang: str = "en") -> str:
        """``report`` in this format and language ``lang``; ANSI colours only where ``color`` and it has any."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ModuleFormat:
    """A format rendered by ``render`` of module ``module``, imported when first used."""

    name: str
    media_type: str
    extension: str
    """The file name ending, without the dot."""
    module: str
    """The module (under appaudit.report) whose ``render`` produces the format."""

    def render(self, report: Report, *, color: bool = False, lang: str = "en") -> str:
        renderer: Renderer = importlib.import_module(self.module).render
        return renderer(report, color=color, lang=lang)


#: format name -> format, in the order the CLI lists them (the one place formats are registered)
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        ModuleFormat(name="text", media_type="text/plain", extension="txt", module="appaudit.report.text"),
        ModuleFormat(name="json", media_type="application/json", extension="json", module="appaudit.report.json_v1"),
        ModuleFormat(
            name="sarif", media_type="application/sarif+json", extension="sarif", module="appaudit.report.sarif"
        ),
        ModuleFormat(name="html", media_type="text/html", extension="html", module="appaudit.report.html"),
        ModuleFormat(name="markdown", media_type="text/markdown", extension="md", module="appaudit.report.markdown"),
    )
}


def render(report: Report, fmt: str, *, color: bool = False, lang: str = "en") -> str:
    """Render ``report`` in format ``fmt`` (a key of FORMATS) and language ``lang``."""
    return FORMATS[fmt].render(report, color=color, lang=lang)
