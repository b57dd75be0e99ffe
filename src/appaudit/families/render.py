"""``appaudit families`` output: text, JSON and a one-file HTML page (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape
from importlib.resources import files
from string import Template
from typing import Any
from urllib.parse import quote

from appaudit.families.model import LABELS, WEIGHTS, FamiliesResult, Family

#: Version of the JSON document ``--format json`` writes.
FAMILIES_SCHEMA = "appaudit-families-1"


def _summary(r: FamiliesResult) -> str:
    head = (
        f"{len(r.families)} famil{'y' if len(r.families) == 1 else 'ies'} among {r.apps_total} apps "
        f"(links scoring at least {r.min_score:g}; keys shared by more than {r.max_shared} apps ignored: "
        f"{r.common_keys}; apps with no linking key: {r.apps_without_keys})"
    )
    return head if r.query is None else f"the family of {r.query}: " + head


def to_dict(r: FamiliesResult) -> dict[str, Any]:
    """The JSON document as plain data."""
    return {**_head(r), "families": [_family_dict(f) for f in r.families]}


def _head(r: FamiliesResult) -> dict[str, Any]:
    return {
        "schema": FAMILIES_SCHEMA,
        "query": r.query,
        "min_score": r.min_score,
        "max_shared": r.max_shared,
        "weights": {k.value: v for k, v in WEIGHTS.items()},
        "apps_total": r.apps_total,
        "apps_without_keys": r.apps_without_keys,
        "common_keys": r.common_keys,
    }


def _family_dict(f: Family) -> dict[str, Any]:
    return {
        "id": f.id,
        "size": len(f.apps),
        "apps": [
            {
                "sha256": a.sha256,
                "package": a.package,
                "path": a.path,
                "verdict": a.verdict,
                "signers": list(a.signers),
            }
            for a in f.apps
        ],
        "links": [{"a": x.a, "b": x.b, "score": x.score, "reasons": [str(r) for r in x.reasons]} for x in f.links],
        "shared": [
            {"reason": s.key.reason.value, "value": s.key.value, "detail": s.key.detail, "apps": s.apps}
            for s in f.shared
        ],
    }


def iter_json(r: FamiliesResult) -> Iterator[str]:
    """The JSON document (:func:`to_dict`) in pieces, one family at a time: a store of 10^5 apps
    makes hundreds of MiB of JSON, which is never held whole."""
    head = json.dumps(_head(r), indent=2, ensure_ascii=False)
    yield head[:-2] + ',\n  "families": ['
    for n, f in enumerate(r.families):
        body = json.dumps(_family_dict(f), indent=2, ensure_ascii=False).replace("\n", "\n    ")
        yield ("," if n else "") + "\n    " + body
    yield ("\n  " if r.families else "") + "]\n}\n"


def render_json(r: FamiliesResult) -> str:
    return "".join(iter_json(r))


def render_text(r: FamiliesResult) -> str:
    lines = [_summary(r)]
    for f in r.families:
        short = {a.sha256: a.sha256[:12] for a in f.apps}
        lines += ["", f"family {f.id}: {len(f.apps)} apps"]
        lines += [f"  {a.sha256[:12]}  {a.package or '-'}  {a.verdict or '-'}  {a.path}" for a in f.apps]
        for x in f.links:
            why = ", ".join(LABELS[r] for r in x.reasons)
            lines.append(f"  link {short[x.a]} - {short[x.b]}  score {x.score:g}: {why}")
        for s in f.shared:
            detail = f" ({s.key.detail})" if s.key.detail else ""
            lines.append(f"  shared {LABELS[s.key.reason]}: {s.key.value}{detail} in {s.apps} apps")
    return "\n".join(lines) + "\n"


def _family_html(f: Family, report_url: str) -> str:
    e = escape
    rows = "".join(
        f'<tr><td><a href="{e(report_url + quote(a.sha256))}"><code>{e(a.sha256[:12])}</code></a></td>'
        f"<td>{e(a.package)}</td><td>{e(a.verdict)}</td><td>{e(a.path)}</td>"
        f"<td>{e(', '.join(s[:12] for s in a.signers))}</td></tr>"
        for a in f.apps
    )
    links = "".join(
        f"<tr><td><code>{e(x.a[:12])}</code></td><td><code>{e(x.b[:12])}</code></td><td>{x.score:g}</td>"
        f"<td>{e(', '.join(LABELS[r] for r in x.reasons))}</td></tr>"
        for x in f.links
    )
    shared = "".join(
        f"<tr><td>{e(LABELS[s.key.reason])}</td><td><code>{e(s.key.value)}</code></td><td>{e(s.key.detail)}</td>"
        f"<td>{s.apps}</td></tr>"
        for s in f.shared
    )
    return (
        f'<h2 id="family-{f.id}">Family {f.id}: {len(f.apps)} apps</h2>'
        "<table><tr><th>app (report)</th><th>package</th><th>verdict</th><th>path</th><th>signer</th></tr>"
        f"{rows}</table>"
        f"<table><tr><th>app</th><th>app</th><th>score</th><th>why</th></tr>{links}</table>"
        f"<table><tr><th>shared</th><th>value</th><th>detail</th><th>apps</th></tr>{shared}</table>"
    )


def render_html(r: FamiliesResult, *, report_url: str = "") -> str:
    """The page; each app links to ``report_url`` + its SHA-256 (e.g. the browser's report page)."""
    page = Template(files("appaudit.families").joinpath("page.html").read_text(encoding="utf-8"))
    return page.substitute(
        summary=escape(_summary(r)), families="\n".join(_family_html(f, report_url) for f in r.families)
    )
