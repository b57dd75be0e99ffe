"""The page ``appaudit browse`` shows for one app: its HTML report, rebuilt from the stored JSON report.

The stored document is read back with the one JSON v1 reader (``report.json_v1_read.from_dict``) and
rendered by the HTML format, so the page is the report ``appaudit scan --format html`` gives (less what
the JSON does not keep: the rule documentation links). A document that cannot be read back (written by
another version, or cut short) is shown as an escaped summary instead. Pure functions of the stored
data; the Datasette plugin only fetches the row.
"""

from __future__ import annotations

from html import escape
from typing import Any


def _rows(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def report_page(sha256: str, doc: dict[str, Any] | None, *, status: str | None, data_url: str) -> str:
    """HTML for the app ``sha256``: its stored report ``doc`` as the HTML report, or, when the store keeps
    none (a failed scan), why not and a link to its rows at ``data_url``."""
    if doc is not None:
        full = _html_report(doc)
        if full is not None:
            return full
    return summary_page(sha256, doc, status=status, data_url=data_url)


def _html_report(doc: dict[str, Any]) -> str | None:
    from appaudit.report import render
    from appaudit.report.json_v1_read import from_dict

    try:
        return render(from_dict(doc), "html")
    except (KeyError, TypeError, ValueError, AttributeError):  # not a whole v1 document: the summary says what it can
        return None


def summary_page(sha256: str, doc: dict[str, Any] | None, *, status: str | None, data_url: str) -> str:
    """An escaped summary of a stored report (or of its absence), for documents the reader cannot rebuild."""
    e = escape
    if doc is None:
        what = "is not in this store" if status is None else f"has no stored report (scan status: {status})"
        body = f'<p>The app {e(sha256)} {e(what)}.</p><p><a href="{e(data_url)}">Its rows in the store</a></p>'
        return _page(f"appaudit: {sha256[:12]}", body)
    app = doc.get("app", {})
    classes = doc.get("data_classes", {})
    fp = doc.get("fingerprints") or {}
    parts = [
        f"<h1>{e(app.get('package') or '-')} <small>{e(str(app.get('version_name') or ''))}</small></h1>",
        f"<p>Verdict: <strong>{e(str(doc.get('verdict')))}</strong>; "
        f"coverage: {e(str(doc.get('coverage', {}).get('status')))}"
        f'; sha256 <code>{e(sha256)}</code>. <a href="{e(data_url)}">Its rows in the store</a></p>',
        "<h2>Data classes</h2>",
        _rows(
            ["data class", "level", "exfiltrated", "at start-up"],
            [[n, r.get("level"), ", ".join(r.get("exfiltrated", [])), r.get("at_startup")] for n, r in classes.items()],
        ),
        "<h2>Findings</h2>",
        _rows(
            ["rule", "severity", "data class", "message"],
            [
                [f.get("rule_id"), f.get("severity"), f.get("data_class"), f.get("message")]
                for f in doc.get("findings", [])
            ],
        ),
        "<h2>Chains</h2>",
        _rows(
            ["data class", "channel", "read", "sink", "urls"],
            [
                [
                    n,
                    c.get("channel"),
                    f"{c['read'].get('class')}.{c['read'].get('method')}",
                    c["sink"].get("value"),
                    " ".join(c.get("urls", [])),
                ]
                for n, r in classes.items()
                for c in r.get("chains", [])
            ],
        ),
        "<h2>Fingerprints</h2>",
        _rows(
            ["kind", "data class", "value", "detail"],
            [["chain", c["data_class"], c["fingerprint"], c["channel"]] for c in fp.get("chains", [])]
            + [["read", r["data_class"], r["fingerprint"], f"{r['class']}.{r['method']}"] for r in fp.get("reads", [])]
            + [["endpoint", x["data_class"], x["host"] + x["path"], ""] for x in fp.get("endpoints", [])]
            + [["signer", "", s, ""] for s in fp.get("signers", [])],
        ),
    ]
    return _page(f"appaudit: {app.get('package') or sha256[:12]}", "".join(parts))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:2rem}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left}</style>"
        f'</head><body><p><a href="/">All data</a></p>{body}</body></html>'
    )
