"""The HTML report's closing sections: other data classes, declared vs found, coverage, provenance."""

from __future__ import annotations

from appaudit.report.common import NEIGHBOUR_HEADERS
from appaudit.report.html_markup import badge, code_span, esc, kv_table, severity_badge, table
from appaudit.report.i18n import t
from appaudit.report.view import (
    ReportView,
)

#: No network, no scripts: styles inline, nothing else may load.


def _neighbours(view: ReportView, lang: str) -> list[str]:
    headers = [t(k, lang) for k in NEIGHBOUR_HEADERS]
    rows = [
        [
            esc(n.label) + f' <code class="muted">{esc(n.name)}</code>',
            esc(n.declared),
            esc(n.reads),
            badge(n.level, "lvl") if n.level is not None else "-",
            severity_badge(n.severity, n.severity_label),
            esc(n.owners),
            esc(n.harm),
        ]
        for n in view.neighbours
    ]
    return [
        f'<section id="neighbours"><h2>{esc(t("sec.neighbours", lang))}</h2>',
        table(headers, rows),
        "</section>",
    ]


def _declarations(view: ReportView, lang: str) -> list[str]:
    """The "declared vs found" table; nothing when no declaration was given."""
    if view.declarations is None:
        return []
    headers = list(view.declarations.headers)
    rows = [
        [
            esc(r.label) + f' <code class="muted">{esc(r.name)}</code>',
            *(esc(v) for v in (r.declared, r.policy, r.found, r.leaves_by, r.sdks, r.contradictions)),
        ]
        for r in view.declarations.rows
    ]
    return [
        f'<section id="declarations"><h2>{esc(t("sec.declarations", lang))}</h2>',
        f"<p>{esc(t('dvf.intro', lang))}</p>",
        table(headers, rows),
        "</section>",
    ]


def _coverage_reasons(view: ReportView, lang: str) -> str:
    items = []
    for reason in view.reasons:
        explain = f"{esc(reason.explain)} " if reason.explain else ""
        text = f"<code>{esc(reason.code)}</code>{esc(t('colon', lang))}" + explain
        items.append(f'<li>{text}<span class="muted">{esc(reason.detail)}</span></li>')
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def _coverage(view: ReportView, lang: str) -> list[str]:
    out = [f'<section id="coverage"><h2>{esc(t("sec.coverage", lang))}</h2>']
    status = f"<strong>{esc(view.coverage_label)}</strong>"
    out.append(f"<p>{esc(t('cov.status', lang) + t('colon', lang))}{status}</p>")
    if view.reasons:
        out.append(f"<p>{esc(t('cov.reasons', lang) + t('colon', lang).strip())}</p>" + _coverage_reasons(view, lang))
    if view.errors:
        out.append(f"<h3>{esc(t('sec.errors', lang))} ({len(view.errors)})</h3>")
        out.append(f'<div class="warn">{esc(t("err.intro", lang))}<ul>')
        colon = esc(t("colon", lang))
        out.extend(f"<li><code>{esc(where)}</code>{colon}{esc(message)}</li>" for where, message in view.errors)
        out.append("</ul></div>")
    out.append("</section>")
    return out


def _provenance(view: ReportView, lang: str) -> list[str]:
    p = view.provenance
    rows: list[tuple[str, str]] = [
        (t("prov.file", lang), code_span(p.input_path) if p.input_path else "-"),
        (t("prov.package", lang), code_span(p.package)),
        (t("prov.label", lang), esc(p.label) if p.label else "-"),
        (t("prov.version", lang), esc(p.version)),
        (t("prov.sdk", lang), esc(p.sdk)),
        (t("prov.sha256", lang), code_span(p.sha256)),
        (t("prov.sha1", lang), code_span(p.sha1)),
        (t("prov.md5", lang), code_span(p.md5)),
        (t("prov.size", lang), esc(p.size)),
        (t("prov.signers", lang), "<br>".join(code_span(s) for s in p.signers) or esc(t("prov.unsigned", lang))),
        (t("prov.dex", lang), esc(", ".join(p.dex_files) or "-")),
        (t("prov.recovered", lang), "<br>".join(esc(r) for r in p.recovered) or "-"),
        (t("prov.app_class", lang), code_span(p.application_class) if p.application_class else "-"),
        (t("prov.launchers", lang), "<br>".join(code_span(a) for a in p.launchers) or "-"),
        (t("prov.tool", lang), esc(p.tool)),
        (t("prov.ruleset", lang), code_span(p.ruleset)),
        (t("prov.options", lang), code_span(p.options)),
        (t("prov.policies", lang), "<br>".join(esc(x) for x in p.policies) or "-"),
    ]
    if p.run is not None:
        rows.append((t("prov.run", lang), esc(p.run)))
    return [f'<section id="provenance"><h2>{esc(t("sec.provenance", lang))}</h2>', kv_table(rows), "</section>"]
