"""The HTML report: one self-contained page to read on screen and print.

No scripts, no external assets (inline CSS only, a Content-Security-Policy that
forbids loading anything); the only outward links are the policy citations'
sources, which a reader follows by hand. Every value from the APK, the rules or
the policy packs is escaped. Deterministic: the only time shown is ``report.run``.
"""

from __future__ import annotations

from collections.abc import Sequence

from appaudit.report.common import SHOWN_CHAINS, SHOWN_EVIDENCE, join
from appaudit.report.html_markup import badge, code_span, esc, fill, kv_table, severity_badge, wrap
from appaudit.report.html_sections import _coverage, _coverage_reasons, _declarations, _neighbours, _provenance
from appaudit.report.i18n import HTML_LANG, asset_text, t
from appaudit.report.model import Report
from appaudit.report.view import (
    ChainView,
    ClassView,
    CodeView,
    EvidenceView,
    FindingView,
    ReportView,
    StartupView,
    TriggerView,
    ViolationView,
)
from appaudit.report.view_build import build

#: No network, no scripts: styles inline, nothing else may load.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

#: Section ids in document order (the table of contents).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("protected", "sec.protected"),
    ("policies", "sec.policies"),
    ("findings", "sec.findings"),
    ("neighbours", "sec.neighbours"),
    ("coverage", "sec.coverage"),
    ("provenance", "sec.provenance"),
)


def _value_cell(e: EvidenceView) -> str:
    cell = code_span(e.short)
    if e.short != e.value:
        cell += f'<span class="raw mono">{wrap(e.value)}</span>'
    return cell


def _code_details(code: CodeView | None, title: str) -> str:
    """A location's excerpt, closed until clicked (no script: ``<details>``); empty without one.

    The smali is escaped here like every other value: APK strings are text, never markup.
    """
    if code is None or code.excerpt is None:
        return ""
    where = f' <span class="muted">({esc(code.where)})</span>' if code.where else ""
    return (
        f'<details class="code"><summary>{title}{where}</summary>'
        f'<pre class="smali">{esc(code.excerpt.render_text())}</pre></details>'
    )


def _evidence_code(evidence: Sequence[EvidenceView]) -> str:
    return "".join(_code_details(e.code, code_span(e.site)) for e in evidence)


# --- verdict ---------------------------------------------------------------


def _verdict(view: ReportView, lang: str) -> list[str]:
    v = view.verdict.value
    out = [
        f'<section class="verdict v-{esc(v)}" id="verdict">',
        f'<div class="caption">{esc(t("verdict", lang))}</div>',
        f'<div class="label">{esc(view.verdict_label)}</div>',
        f'<div class="why">{esc(view.verdict_why)}</div>',
        "</section>",
    ]
    if view.summary:
        out.append('<ul class="summary">' + "".join(f"<li>{esc(s)}</li>" for s in view.summary) + "</ul>")
    if view.violations:
        text = t("sum.violations", lang, n=view.violations, packs=view.violated_packs)
        out.append(f'<p><a href="#policies">{esc(text)}</a></p>')
    if v == "inconclusive":
        out.append('<div class="note"><strong>' + esc(t("verdict.inconclusive.explain", lang)) + "</strong>")
        out.append(_coverage_reasons(view, lang) + "</div>")
    elif view.coverage != "complete":
        out.append(f'<div class="note">{esc(t("verdict.partial.note", lang, status=view.coverage))}</div>')
    return out


# --- protected classes -------------------------------------------------------


def _providers(cv: ClassView, lang: str) -> str:
    if not cv.accesses:
        return ""
    items = [
        "<li>"
        + fill(
            "provider.how",
            lang,
            uri=code_span(a.uri),
            how=esc(a.how),
            bulk=esc(t("provider.bulk", lang)) if a.bulk else "",
            why=esc(a.why),
            site=f'<span class="read-site" title="{esc(t("provider.site.title", lang))}">{code_span(a.site)}</span>',
        )
        + "</li>"
        for a in cv.accesses
    ]
    if cv.more_accesses:
        items.append(f'<li class="muted">{esc(t("and_more", lang, n=cv.more_accesses))}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _at(e: EvidenceView) -> str:
    return code_span(e.short) + " @ " + code_span(e.site)


def _chain(ch: ChainView, lang: str) -> str:
    # each hop as its code, when the scan has it: the chain read as the methods it runs through
    steps = "".join(f"<li>{_code_details(s.code, code_span(s.text)) or code_span(s.text)}</li>" for s in ch.steps)
    rows: list[tuple[str, str]] = [
        (t("chain.channel", lang), f"<strong>{esc(ch.channel_label)}</strong>"),
        (t("chain.read", lang), _at(ch.read)),
        (t("chain.steps", lang), f'<ol class="steps">{steps}</ol>'),
        (t("chain.sink", lang), _at(ch.sink)),
        (t("chain.dataflow", lang), esc(ch.dataflow_label)),
    ]
    if ch.via:
        rows.append((t("chain.via", lang), "<br>".join(esc(v) for v in ch.via)))
    if ch.transformers:
        rows.append((t("chain.transformers", lang), "<br>".join(code_span(x) for x in ch.transformers)))
    if ch.urls:
        rows.append((t("chain.urls", lang), "<br>".join(code_span(u) for u in ch.urls)))
    if ch.url_sources:
        items = (f"{code_span(u)} {esc(t('chain.url_from', lang, how=how))}" for u, how in ch.url_sources)
        rows.append((t("chain.url_sources", lang), "<br>".join(items)))
    if ch.owners:
        rows.append((t("field.by_whom", lang), esc(join(ch.owners, lang))))
    return f'<div class="chain">{kv_table(rows)}</div>'


def _startup(path: StartupView, lang: str) -> str:
    steps = "".join(f"<li>{_code_details(s.code, code_span(s.text)) or code_span(s.text)}</li>" for s in path.steps)
    return kv_table(
        [
            (t("startup.trigger", lang), esc(path.trigger_label)),
            (t("startup.entry", lang), code_span(path.entry)),
            (t("startup.steps", lang), f'<ol class="steps">{steps}</ol>'),
            (t("startup.asks", lang), esc(t("yes" if path.asks_first else "no", lang))),
        ]
    )


def _trigger(tv: TriggerView, lang: str) -> str:
    steps = "".join(f"<li>{_code_details(s.code, code_span(s.text)) or code_span(s.text)}</li>" for s in tv.steps)
    rows = [(t("startup.trigger", lang), esc(tv.label)), (t("startup.entry", lang), code_span(tv.entry))]
    rows += [(t("trigger.read", lang), code_span(tv.read))] if tv.read else []
    rows += [(t("trigger.guard", lang), code_span(tv.guard))] if tv.guard else []
    rows += [(t("startup.steps", lang), f'<ol class="steps">{steps}</ol>')]
    return kv_table([*rows, (t("startup.asks", lang), esc(t("yes" if tv.asks_first else "no", lang)))])


def _protected_class(cv: ClassView, lang: str) -> list[str]:
    name = cv.name
    yes = f'<span class="yes">{esc(t("yes", lang))}</span>'
    head = (
        f'<h3>{esc(cv.label)} <code class="muted">{esc(name)}</code> '
        f"{badge(cv.level_label, 'lvl')}"
        + (f" {severity_badge(cv.severity, cv.severity_label)}" if cv.severity is not None else "")
        + "</h3>"
    )
    out = [f'<div class="card lvl-{esc(cv.level)}" id="dc-{esc(name)}">', head]
    rows: list[tuple[str, str]] = [(t("field.what", lang), esc(t(f"dc.{name}.what", lang)))]
    if cv.level == "none":
        rows.append((t("field.how", lang), esc(t("class.status.none", lang))))
    else:
        perms = "<br>".join(code_span(p) for p in cv.permissions) or esc(t("field.not_declared", lang))
        rows.append((t("field.permissions", lang), perms))
        read = t("class.read.yes" if cv.read else "class.read.dormant" if cv.dormant else "class.read.no", lang)
        rows.append((t("field.how", lang), esc(read) + _providers(cv, lang)))
        if cv.owners:
            rows.append((t("field.by_whom", lang), "<br>".join(esc(o) for o in cv.owners)))
        bulk = yes + " " + esc(t("bulk.yes", lang)) if cv.bulk else esc(t("bulk.no", lang))
        why = " " + esc(t("bulk.why", lang, why=cv.bulk_why)) if cv.bulk_why else ""
        rows.append((t("field.bulk", lang), bulk + why))
        if cv.writes:
            rows.append((t("field.writes", lang), "<br>".join(esc(w) for w in cv.writes)))
        leaves = yes + " " + esc(join(cv.exfiltrated_labels, lang)) if cv.exfiltrated else esc(t("leaves.no", lang))
        rows.append((t("field.leaves", lang), leaves))
        startup = yes + " " + esc(t("startup.yes", lang)) if cv.at_startup else esc(t("startup.no", lang))
        rows.append((t("field.startup", lang), startup))
        if cv.rule_ids:
            rows.append((t("field.rules", lang), " ".join(code_span(x) for x in cv.rule_ids)))
    if cv.read or cv.dormant or cv.declared:
        rows.append((t("field.enables", lang), f'<div class="harm">{esc(t(f"harm.{name}", lang))}</div>'))
    out.append(kv_table(rows))
    if cv.chains:
        out.append(f"<h4>{esc(t('sec.chains', lang))} ({len(cv.chains)})</h4>")
        out.extend(_chain(ch, lang) for ch in cv.chains[:SHOWN_CHAINS])
        if len(cv.chains) > SHOWN_CHAINS:
            out.append(f'<p class="muted">{esc(t("and_more", lang, n=len(cv.chains) - SHOWN_CHAINS))}</p>')
    if cv.startup_paths:
        out.append(f"<h4>{esc(t('sec.startup', lang))} ({len(cv.startup_paths)})</h4>")
        out.extend(_startup(p, lang) for p in cv.startup_paths[:SHOWN_CHAINS])
        if len(cv.startup_paths) > SHOWN_CHAINS:
            out.append(f'<p class="muted">{esc(t("and_more", lang, n=len(cv.startup_paths) - SHOWN_CHAINS))}</p>')
    if cv.triggers:
        out.append(f"<h4>{esc(t('sec.triggers', lang))} ({len(cv.triggers)})</h4>")
        out.extend(_trigger(tv, lang) for tv in cv.triggers[:SHOWN_CHAINS])
        if len(cv.triggers) > SHOWN_CHAINS:
            out.append(f'<p class="muted">{esc(t("and_more", lang, n=len(cv.triggers) - SHOWN_CHAINS))}</p>')
    out.append("</div>")
    return out


# --- policies -----------------------------------------------------------------


def _source(v: ViolationView) -> str:
    if v.source_is_link:
        return f'<a href="{esc(v.source)}" rel="noopener noreferrer">{esc(v.source)}</a>'
    return esc(v.source)


def _violation(v: ViolationView, lang: str) -> str:
    article = esc(v.article)
    if v.caveated:
        article += f' <span class="caveat">({esc(v.conf_label)})</span>'
    head = (
        f'<div class="head"><span class="pid">{esc(v.provision)}</span> '
        f"{badge(v.kind_label, f'kind-{v.kind}')} "
        f"{badge(v.confidence_label, f'conf-{v.conf}')}</div>"
    )
    source = _source(v) + f' <span class="muted">· {esc(t("pol.effective", lang))} {esc(v.effective)}</span>'
    rows = [
        (t("pol.instrument", lang), f"{esc(v.instrument)}<br>{article}"),
        (t("pol.says", lang), esc(v.paraphrase)),
        (t("pol.triggered_by", lang), "<br>".join(esc(x) for x in v.triggered_by)),
        (t("pol.source", lang), source),
    ]
    return f'<div class="prov c-{esc(v.conf)}">{head}{kv_table(rows)}</div>'


def _policies(view: ReportView, lang: str) -> list[str]:
    out = [f'<section id="policies"><h2>{esc(t("sec.policies", lang))}</h2>']
    if not view.packs_evaluated:
        out.append(f'<p class="muted">{esc(t("pol.not_evaluated", lang))}</p></section>')
        return out
    out.append(f'<p class="small">{esc(t("pol.intro", lang))}</p>')
    if not view.violated:
        out.append(f"<p>{esc(t('pol.none', lang))}</p>")
    for p in view.violated:
        out.append(f'<h3 id="pol-{esc(p.id)}">{esc(p.title)} ({len(p.violations)})</h3>')
        out.extend(_violation(v, lang) for v in p.violations)
    if view.clean_packs:
        packs = join(view.clean_packs, lang)
        out.append(f'<p class="muted">{esc(t("pol.clean_packs", lang, packs=packs))}</p>')
    out.append("</section>")
    return out


# --- findings -------------------------------------------------------------------


def _finding(f: FindingView, lang: str) -> list[str]:
    head = (
        f'<div class="head">{severity_badge(f.severity, f.severity_label)} <span class="rid">{esc(f.rule_id)}</span> '
        f"<span>[{esc(f.data_class_label)}]</span> <strong>{esc(f.title)}</strong></div>"
    )
    out = [f'<div class="finding" id="f-{esc(f.rule_id)}">', head, f'<p class="small">{esc(f.message)}</p>']
    if f.dormant:
        out.append(f'<p class="small caveat">{esc(t("find.dormant", lang))}</p>')
    if f.owners_text:
        out.append(f'<p class="small">{esc(t("find.components", lang) + t("colon", lang) + f.owners_text)}</p>')
    shown = f.evidence[:SHOWN_EVIDENCE]
    if shown:
        out.append(_evidence_table(f, shown, lang))
        out.append(_evidence_code(shown))
    total = max(f.evidence_total, len(f.evidence))
    if total > len(shown):
        out.append(f'<p class="muted small">{esc(t("find.more", lang, shown=len(shown), total=total))}</p>')
    out.append("</div>")
    return out


def _offset_cell(e: EvidenceView, lang: str) -> str:
    if e.offset is None:
        return ""
    if e.read_at is None:
        return esc(e.offset)
    return f'{esc(e.offset)}<br><span class="muted small">{esc(t("ev.read_at", lang, offset=e.read_at))}</span>'


def _evidence_table(f: FindingView, shown: tuple[EvidenceView, ...], lang: str) -> str:
    """The finding's evidence, one row each; rule and severity once, in the caption (the finding's own)."""
    headers = [t(f"ev.{k}", lang) for k in ("kind", "class", "method", "offset", "value", "component")]
    head = "".join(
        f'<th title="{esc(t("ev.offset.title", lang))}">{esc(h)} <span class="hint">?</span></th>'
        if i == 3
        else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    rows = "".join(
        "<tr>"
        f"<td>{esc(e.kind_label)}</td>"
        f"<td>{code_span(e.class_name) if e.class_name else ''}</td>"
        f"<td>{code_span(e.method) if e.method else ''}</td>"
        f'<td class="num">{_offset_cell(e, lang)}</td>'
        f"<td>{_value_cell(e)}</td>"
        f"<td>{wrap(e.owner) if e.owner is not None else ''}</td>"
        "</tr>"
        for e in shown
    )
    caption = f"{esc(f.rule_id)} · {esc(f.severity_label)}"
    return f'<table class="ev"><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _findings(view: ReportView, lang: str) -> list[str]:
    out = [f'<section id="findings"><h2>{esc(t("sec.findings", lang))} ({len(view.findings)})</h2>']
    if not view.findings:
        out.append(f"<p>{esc(t('find.none', lang))}</p>")
    else:
        out.append(f'<p class="small muted">{esc(t("find.intro", lang, n=len(view.findings)))}</p>')
        legend = t("ev.offset", lang) + t("colon", lang) + t("ev.offset.title", lang)
        out.append(f'<p class="small muted legend">{esc(legend)}</p>')
    for f in view.findings:
        out.extend(_finding(f, lang))
    out.append("</section>")
    return out


# --- neighbours, declarations, coverage, provenance -----------------------------------


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as one self-contained HTML page (``color`` is ignored: HTML is always styled)."""
    view = build(report, lang)
    package = view.provenance.package
    title = f"{t('doc.title', lang)}{t('colon', lang)}{package} {view.version} — {view.verdict_label}"
    sections = SECTIONS
    if view.declarations is not None:  # after the neighbours, as in the page
        at = [sid for sid, _ in SECTIONS].index("neighbours") + 1
        sections = (*SECTIONS[:at], ("declarations", "sec.declarations"), *SECTIONS[at:])
    toc = "".join(f'<a href="#{sid}">{esc(t(key, lang))}</a>' for sid, key in sections)
    parts: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{HTML_LANG[lang]}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{asset_text('report.css')}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{esc(t('doc.title', lang) + t('colon', lang))}<code>{esc(package)}</code> {esc(view.version)}</h1>",
        f'<p class="sub">{esc(t("doc.subtitle", lang))} · '
        f'<span class="mono">sha256 {esc(view.provenance.sha256)}</span></p>',
        "</header>",
    ]
    parts.extend(_verdict(view, lang))
    parts.append(f'<nav class="toc">{esc(t("doc.contents", lang) + t("colon", lang))}{toc}</nav>')
    parts.append(f'<section id="protected"><h2>{esc(t("sec.protected", lang))}</h2>')
    for cv in view.protected:
        parts.extend(_protected_class(cv, lang))
    parts.append("</section>")
    parts.extend(_policies(view, lang))
    parts.extend(_findings(view, lang))
    parts.extend(_neighbours(view, lang))
    parts.extend(_declarations(view, lang))
    parts.extend(_coverage(view, lang))
    parts.extend(_provenance(view, lang))
    parts.append(
        f"<footer>{esc(t('doc.generated', lang, tool=report.tool_name, version=report.tool_version))}</footer>"
    )
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"
