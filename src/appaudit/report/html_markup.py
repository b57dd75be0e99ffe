"""HTML building blocks of the HTML report: escaping, code spans, badges, tables (markup only, no wording)."""

from __future__ import annotations

from html import escape

from appaudit.model import Severity
from appaudit.report.common import fill_message


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def wrap(text: str) -> str:
    """Escaped text with break opportunities after the separators of class, method and type names."""
    out = esc(text)
    for sep in (";", "/", ".", "$", ")"):
        out = out.replace(sep, sep + "<wbr>")
    return out.replace("(", "<wbr>(")


def code_span(text: str) -> str:
    return f"<code>{wrap(text)}</code>"


def badge(text: str, cls: str) -> str:
    return f'<span class="badge {esc(cls)}">{esc(text)}</span>'


def severity_badge(sev: Severity | None, label: str) -> str:
    return "-" if sev is None else badge(label, f"sev-{sev.label}")


def fill(key: str, lang: str, **html_values: str) -> str:
    """Message ``key`` with its own text escaped and placeholders filled with ready HTML."""
    return fill_message(key, lang, esc, html_values)


def kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def table(headers: list[str], rows: list[list[str]], num_cols: frozenset[int] = frozenset(), cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{v}</td>' if i in num_cols else f"<td>{v}</td>" for i, v in enumerate(r))
        + "</tr>"
        for r in rows
    )
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
