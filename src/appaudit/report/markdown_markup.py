"""Markdown building blocks of the report: escaping, code spans and fenced smali, tables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from appaudit.report.view import (
    CodeView,
    EvidenceView,
)

if TYPE_CHECKING:  # annotations only: importing appaudit.apk would load androguard
    from appaudit.apk.dex.types import Excerpt


T = TypeVar("T")

#: Characters that mean something anywhere in a line (emphasis, code, links, HTML, tables, entities, math).
_SPECIAL = re.compile(r"([\\`*\[\]<>|&~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
#: What means something at the start of a line (headings, lists, block quotes, setext rules).
_LEADING = re.compile(r"^(\s*)([#+=-]|\d+(?=[.)]))")


def _text(s: object, *, inline: bool = False) -> str:
    """Plain text with what Markdown would interpret escaped; any whitespace run becomes one space.

    ``inline``: the text never starts a line, so block markers (``#``, ``-``, ``1.``) need no escape.
    """
    text = _SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(s)))
    match = None if inline else _LEADING.match(text)
    if match:
        # before the "." or ")" of "1." / "1)", else before the marker itself
        at = match.end() if match.group(2)[0].isdigit() else match.start(2)
        text = f"{text[:at]}\\{text[at:]}"
    return text


def _code(s: object, *, cell: bool = False) -> str:
    """A code span that survives any content (backticks, pipes in table cells)."""
    text = " ".join(str(s).split())
    if not text:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def _smali(ex: Excerpt | None, title: str) -> list[str]:
    """An excerpt as a fenced ``smali`` block under a one-line title (nothing when there is none).

    The fence is longer than any backtick run in the code, so APK strings cannot close it; the lines
    are already escaped smali literals (docs/excerpts.md), so nothing else inside needs escaping.
    """
    if ex is None:
        return []
    body = ex.render_text()
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [title, "", f"{fence}smali", *body.rstrip("\n").split("\n"), fence, ""]


def _code_block(code: CodeView | None, title: str) -> list[str]:
    """A location's excerpt under its title and source position (nothing without an excerpt)."""
    if code is None or code.excerpt is None:
        return []
    where = f" ({_text(code.where, inline=True)})" if code.where else ""
    return _smali(code.excerpt, f"{title}{where}")


def _evidence_code(evidence: Sequence[EvidenceView]) -> list[str]:
    out: list[str] = []
    for e in evidence:
        out.extend(_code_block(e.code, _code(e.site)))
    return out


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell or " " for cell in cells) + " |"


def _table(headers: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return [_row([_text(h) for h in headers]), _row(rule), *(_row(r) for r in rows), ""]


def _kv(rows: list[tuple[str, str]]) -> list[str]:
    return _table(["", ""], [[f"**{_text(k)}**", v] for k, v in rows])
