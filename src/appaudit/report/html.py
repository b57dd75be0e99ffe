"""The HTML report: one self-contained page to read on screen and print.

No scripts, no external assets (inline CSS only, a Content-Security-Policy that
forbids loading anything); the only outward links are the policy citations'
sources, which a reader follows by hand. Every value from the APK, the rules or
the policy packs is escaped. Deterministic: the only time shown is ``report.run``.
"""

from __future__ import annotations

import json
from html import escape
from string import Formatter

from appaudit.analysis.facts import HarvestChain, StartupPath
from appaudit.model import Evidence, Severity
from appaudit.report import common as c
from appaudit.report.i18n import HTML_LANG, check_lang, t
from appaudit.report.model import DataClassResult, Finding, PolicyViolation, Report

#: No network, no scripts: styles inline, nothing else may load.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root { --fg: #1b1b1f; --muted: #5c5f66; --line: #d8dbe0; --bg-soft: #f5f6f8; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0 auto; max-width: 1100px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial,
    "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", sans-serif;
  line-height: 1.45; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.86em; overflow-wrap: break-word; }
h1 { font-size: 1.5rem; margin: 0 0 2px; }
h2 { font-size: 1.25rem; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--fg); }
h3 { font-size: 1.08rem; margin: 18px 0 8px; }
h4 { font-size: 0.98rem; margin: 14px 0 6px; }
p { margin: 6px 0; }
a { color: #0b57d0; }
.muted { color: var(--muted); }
.small { font-size: 0.86rem; }
header .sub { color: var(--muted); margin: 0 0 16px; }
.verdict { border-radius: 10px; padding: 18px 22px; margin: 10px 0 16px; }
.verdict .label { font-size: 2.3rem; font-weight: 800; letter-spacing: 0.02em; line-height: 1.1; }
.verdict .why { font-size: 1.1rem; margin-top: 4px; }
.verdict .caption { font-size: 0.85rem; text-transform: uppercase; letter-spacing: 0.08em; opacity: 0.85; }
.v-harvests { background: #b3261e; color: #fff; }
.v-at_risk { background: #e8590c; color: #fff; }
.v-dormant_code { background: #f2c94c; color: #2b2100; }
.v-declared_only { background: #fff3bf; color: #3d3000; border: 2px solid #e0b400; }
.v-inconclusive { background: #5f3dc4; color: #fff; }
.v-no_evidence { background: #2b8a3e; color: #fff; }
ul.summary { margin: 0 0 8px; padding-left: 20px; }
ul.summary li { margin: 2px 0; }
.note { border-left: 4px solid #5f3dc4; background: #f3f0ff; padding: 8px 12px; margin: 10px 0; }
.warn { border-left: 4px solid #c92a2a; background: #fff5f5; padding: 8px 12px; margin: 10px 0; }
nav.toc { font-size: 0.9rem; margin: 8px 0 0; }
nav.toc a { margin-right: 12px; white-space: nowrap; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.card h3 { margin-top: 0; }
.card.lvl-harvested, .card.lvl-exfiltrated { border-left: 6px solid #b3261e; }
.card.lvl-bulk, .card.lvl-read { border-left: 6px solid #e8590c; }
.card.lvl-dormant, .card.lvl-declared { border-left: 6px solid #e0b400; }
.card.lvl-none { border-left: 6px solid #2b8a3e; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg-soft); font-weight: 600; }
table.kv th { width: 26%; background: transparent; color: var(--muted); font-weight: 600; }
table.ev { table-layout: fixed; }
table.ev td { overflow-wrap: anywhere; }
table.ev th:nth-child(1) { width: 10%; } table.ev th:nth-child(2) { width: 8%; }
table.ev th:nth-child(3) { width: 17%; } table.ev th:nth-child(4) { width: 19%; }
table.ev th:nth-child(5) { width: 6%; } table.ev th:nth-child(6) { width: 26%; }
table.ev th:nth-child(7) { width: 14%; }
table.ev td:nth-child(1), table.ev td:nth-child(2) { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.8rem; font-weight: 700;
  white-space: nowrap; border: 1px solid transparent; }
.sev-critical { background: #b3261e; color: #fff; }
.sev-high { background: #ffe3e3; color: #a51111; border-color: #f5a3a3; }
.sev-medium { background: #fff3bf; color: #5c4400; border-color: #e9cf6b; }
.sev-low { background: #e7f5ff; color: #0b4f8a; border-color: #a5d8ff; }
.sev-info { background: #f1f3f5; color: #495057; border-color: #ced4da; }
.lvl { background: #f1f3f5; color: #343a40; border-color: #ced4da; }
.yes { color: #a51111; font-weight: 700; }
.harm { background: #fff5f5; border: 1px solid #ffc9c9; border-radius: 6px; padding: 6px 10px; }
ol.steps { margin: 4px 0; padding-left: 22px; }
ol.steps li { margin: 1px 0; }
.chain { border-top: 1px dashed var(--line); padding-top: 6px; margin-top: 8px; }
.prov { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.prov .head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; }
.prov .pid { font-weight: 700; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.kind-prohibited { background: #b3261e; color: #fff; }
.kind-not_necessary { background: #ffe8cc; color: #7a3a00; border-color: #ffc078; }
.kind-separate_consent { background: #e7f5ff; color: #0b4f8a; border-color: #a5d8ff; }
.conf-V { background: #d3f9d8; color: #1b5e20; border-color: #8ce99a; }
.conf-P { background: #fff3bf; color: #5c4400; border-color: #e9cf6b; }
.conf-U { background: #fff; color: #a51111; border: 1px dashed #a51111; }
.prov.c-U { border-style: dashed; border-color: #e03131; }
.prov .cite { color: var(--muted); font-size: 0.9rem; }
.prov .para { margin: 4px 0; }
.caveat { color: #a51111; font-weight: 600; }
.finding { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.finding .head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; }
.finding .rid { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-weight: 700; }
.raw { display: block; color: var(--muted); font-size: 0.78em; }
footer { margin-top: 36px; color: var(--muted); font-size: 0.85rem; border-top: 1px solid var(--line);
  padding-top: 8px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  html { font-size: 10pt; }
  body { max-width: none; padding: 0; }
  nav.toc { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  h3, h4 { break-after: avoid; }
  .card, .prov, .finding, .verdict, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"""

#: Section ids in document order (the table of contents).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("protected", "sec.protected"),
    ("policies", "sec.policies"),
    ("findings", "sec.findings"),
    ("neighbours", "sec.neighbours"),
    ("coverage", "sec.coverage"),
    ("provenance", "sec.provenance"),
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _wrap(text: str) -> str:
    """Escaped text with break opportunities after the separators of class, method and type names."""
    out = _e(text)
    for sep in (";", "/", ".", "$", ")"):
        out = out.replace(sep, sep + "<wbr>")
    return out.replace("(", "<wbr>(")


def _code(text: str) -> str:
    return f"<code>{_wrap(text)}</code>"


def _badge(text: str, cls: str) -> str:
    return f'<span class="badge {_e(cls)}">{_e(text)}</span>'


def _sev_badge(sev: Severity | None, lang: str) -> str:
    return "-" if sev is None else _badge(c.severity_label(sev, lang), f"sev-{sev.label}")


def _th(key: str, lang: str, **html_values: str) -> str:
    """Message ``key`` with its own text escaped and placeholders filled with ready HTML."""
    out = []
    for literal, name, _spec, _conv in Formatter().parse(t(key, lang)):
        out.append(_e(literal))
        if name is not None:
            out.append(html_values[name])
    return "".join(out)


def _kv(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _table(headers: list[str], rows: list[list[str]], num_cols: frozenset[int] = frozenset(), cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{v}</td>' if i in num_cols else f"<td>{v}</td>" for i, v in enumerate(r))
        + "</tr>"
        for r in rows
    )
    attr = f' class="{_e(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value_cell(e: Evidence) -> str:
    short = c.short_value(e.kind, e.value)
    cell = _code(short)
    if short != e.value:
        cell += f'<span class="raw mono">{_wrap(e.value)}</span>'
    return cell


# --- verdict ---------------------------------------------------------------


def _verdict(report: Report, lang: str) -> list[str]:
    v = report.verdict.value
    out = [
        f'<section class="verdict v-{_e(v)}" id="verdict">',
        f'<div class="caption">{_e(t("verdict", lang))}</div>',
        f'<div class="label">{_e(t(f"verdict.{v}", lang))}</div>',
        f'<div class="why">{_e(t(f"verdict.{v}.why", lang))}</div>',
        "</section>",
    ]
    lines = c.summary_lines(report, lang)
    if lines:
        out.append('<ul class="summary">' + "".join(f"<li>{_e(s)}</li>" for s in lines) + "</ul>")
    n, packs = c.violation_count(report)
    if n:
        out.append(f'<p><a href="#policies">{_e(t("sum.violations", lang, n=n, packs=packs))}</a></p>')
    cov = report.coverage
    if report.verdict.value == "inconclusive":
        out.append('<div class="note"><strong>' + _e(t("verdict.inconclusive.explain", lang)) + "</strong>")
        out.append(_coverage_reasons(report, lang) + "</div>")
    elif cov.status != "complete":
        out.append(f'<div class="note">{_e(t("verdict.partial.note", lang, status=cov.status))}</div>')
    return out


# --- protected classes -------------------------------------------------------


def _providers(r: DataClassResult, lang: str) -> str:
    if not r.accesses:
        return ""
    items = []
    for a in r.accesses[: c.SHOWN_CHAINS]:
        text = _th(
            "provider.how",
            lang,
            uri=_code(c.short_value("sget", a.uri)),
            how=_e(c.resolved_label(a.how, lang)),
            bulk=_e(t("provider.bulk", lang)) if a.bulk else "",
            site=_code(c.site(a.evidence)),
        )
        items.append(f"<li>{text}</li>")
    more = len(r.accesses) - c.SHOWN_CHAINS
    if more > 0:
        items.append(f'<li class="muted">{_e(t("and_more", lang, n=more))}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _at(e: Evidence) -> str:
    return _code(c.short_value(e.kind, e.value)) + " @ " + _code(c.site(e))


def _chain(chain: HarvestChain, lang: str) -> str:
    steps = "".join(f"<li>{_code(c.step_text(s))}</li>" for s in chain.steps)
    rows: list[tuple[str, str]] = [
        (t("chain.channel", lang), f"<strong>{_e(c.channel_label(chain.channel, lang))}</strong>"),
        (t("chain.read", lang), _at(chain.read)),
        (t("chain.steps", lang), f'<ol class="steps">{steps}</ol>'),
        (t("chain.sink", lang), _at(chain.sink)),
        (t("chain.dataflow", lang), _e(t(f"chain.dataflow.{chain.dataflow}", lang))),
    ]
    if chain.transformers:
        rows.append((t("chain.transformers", lang), "<br>".join(_code(x) for x in chain.transformers)))
    if chain.urls:
        rows.append((t("chain.urls", lang), "<br>".join(_code(u) for u in chain.urls)))
    owners = [o for o in (chain.read.owner, chain.sink.owner) if o is not None]
    if owners:
        labels = list(dict.fromkeys(c.owner_label(o, lang) for o in owners))
        rows.append((t("field.by_whom", lang), _e(c.join(labels, lang))))
    return f'<div class="chain">{_kv(rows)}</div>'


def _startup(path: StartupPath, lang: str) -> str:
    steps = "".join(f"<li>{_code(c.step_text(s))}</li>" for s in path.steps)
    return _kv(
        [
            (t("startup.trigger", lang), _e(c.trigger_label(path.trigger, lang))),
            (t("startup.entry", lang), _code(path.entry)),
            (t("startup.steps", lang), f'<ol class="steps">{steps}</ol>'),
            (t("startup.asks", lang), _e(t("yes" if path.asks_permission_first else "no", lang))),
        ]
    )


def _protected_class(name: str, r: DataClassResult, lang: str) -> list[str]:
    yes = f'<span class="yes">{_e(t("yes", lang))}</span>'
    head = (
        f'<h3>{_e(c.class_label(name, lang))} <code class="muted">{_e(name)}</code> '
        f"{_badge(c.level_label(r.level, lang), 'lvl')}"
        + (f" {_sev_badge(r.severity, lang)}" if r.severity is not None else "")
        + "</h3>"
    )
    out = [f'<div class="card lvl-{_e(r.level.value)}" id="dc-{_e(name)}">', head]
    rows: list[tuple[str, str]] = [(t("field.what", lang), _e(t(f"dc.{name}.what", lang)))]
    if r.level.value == "none":
        rows.append((t("field.how", lang), _e(t("class.status.none", lang))))
    else:
        perms = "<br>".join(_code(p) for p in r.permissions) or _e(t("field.not_declared", lang))
        rows.append((t("field.permissions", lang), perms))
        read = t("class.read.yes", lang) if r.read else t("class.read.dormant" if r.dormant else "class.read.no", lang)
        rows.append((t("field.how", lang), _e(read) + _providers(r, lang)))
        if r.owners:
            rows.append((t("field.by_whom", lang), "<br>".join(_e(c.owner_label(o, lang)) for o in r.owners)))
        rows.append((t("field.bulk", lang), yes + " " + _e(t("bulk.yes", lang)) if r.bulk else _e(t("bulk.no", lang))))
        leaves = (
            yes + " " + _e(c.join((c.channel_label(ch, lang) for ch in r.exfiltrated), lang))
            if r.exfiltrated
            else _e(t("leaves.no", lang))
        )
        rows.append((t("field.leaves", lang), leaves))
        startup = yes + " " + _e(t("startup.yes", lang)) if r.at_startup else _e(t("startup.no", lang))
        rows.append((t("field.startup", lang), startup))
        if r.rule_ids:
            rows.append((t("field.rules", lang), " ".join(_code(x) for x in r.rule_ids)))
    if r.read or r.dormant or r.declared:
        rows.append((t("field.enables", lang), f'<div class="harm">{_e(t(f"harm.{name}", lang))}</div>'))
    out.append(_kv(rows))
    if r.chains:
        out.append(f"<h4>{_e(t('sec.chains', lang))} ({len(r.chains)})</h4>")
        out.extend(_chain(ch, lang) for ch in r.chains[: c.SHOWN_CHAINS])
        if len(r.chains) > c.SHOWN_CHAINS:
            out.append(f'<p class="muted">{_e(t("and_more", lang, n=len(r.chains) - c.SHOWN_CHAINS))}</p>')
    if r.startup_paths:
        out.append(f"<h4>{_e(t('sec.startup', lang))} ({len(r.startup_paths)})</h4>")
        out.extend(_startup(p, lang) for p in r.startup_paths[: c.SHOWN_CHAINS])
        if len(r.startup_paths) > c.SHOWN_CHAINS:
            out.append(f'<p class="muted">{_e(t("and_more", lang, n=len(r.startup_paths) - c.SHOWN_CHAINS))}</p>')
    out.append("</div>")
    return out


# --- policies -----------------------------------------------------------------


def _source(url: str) -> str:
    if c.is_web_link(url):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(url)}</a>'
    return _e(url)


def _violation(v: PolicyViolation, lang: str) -> str:
    conf = v.confidence if v.confidence in ("V", "P", "U") else "U"
    article = _e(v.article)
    if conf in c.CAVEATED:
        article += f' <span class="caveat">({_e(c.confidence_text(conf, lang))})</span>'
    head = (
        f'<div class="head"><span class="pid">{_e(v.provision)}</span> '
        f"{_badge(c.policy_kind(v.kind, lang), f'kind-{v.kind}')} "
        f"{_badge(c.confidence_text(v.confidence, lang), f'conf-{conf}')}</div>"
    )
    source = _source(v.source) + f' <span class="muted">· {_e(t("pol.effective", lang))} {_e(v.effective)}</span>'
    rows = [
        (t("pol.instrument", lang), f"{_e(v.instrument)}<br>{article}"),
        (t("pol.says", lang), _e(v.paraphrase)),
        (t("pol.triggered_by", lang), "<br>".join(_e(x) for x in v.triggered_by)),
        (t("pol.source", lang), source),
    ]
    return f'<div class="prov c-{_e(conf)}">{head}{_kv(rows)}</div>'


def _policies(report: Report, lang: str) -> list[str]:
    out = [f'<section id="policies"><h2>{_e(t("sec.policies", lang))}</h2>']
    if not report.policies:
        out.append(f'<p class="muted">{_e(t("pol.not_evaluated", lang))}</p></section>')
        return out
    out.append(f'<p class="small">{_e(t("pol.intro", lang))}</p>')
    violated = [p for p in report.policies if p.violations]
    if not violated:
        out.append(f"<p>{_e(t('pol.none', lang))}</p>")
    for p in violated:
        title = t("pol.pack", lang, name=p.name, jurisdiction=p.jurisdiction, id=p.id, version=p.version)
        out.append(f'<h3 id="pol-{_e(p.id)}">{_e(title)} ({len(p.violations)})</h3>')
        out.extend(_violation(v, lang) for v in p.violations)
    clean = [p.id for p in report.policies if not p.violations]
    if clean:
        out.append(f'<p class="muted">{_e(t("pol.clean_packs", lang, packs=c.join(clean, lang)))}</p>')
    out.append("</section>")
    return out


# --- findings -------------------------------------------------------------------


def _finding(f: Finding, lang: str) -> list[str]:
    head = (
        f'<div class="head">{_sev_badge(f.severity, lang)} <span class="rid">{_e(f.rule_id)}</span> '
        f"<span>[{_e(c.class_label(f.data_class, lang))}]</span> <strong>{_e(f.title)}</strong></div>"
    )
    out = [f'<div class="finding" id="f-{_e(f.rule_id)}">', head, f'<p class="small">{_e(f.message)}</p>']
    if f.dormant:
        out.append(f'<p class="small caveat">{_e(t("find.dormant", lang))}</p>')
    if f.owners:
        owners = t("find.components", lang) + t("colon", lang) + c.owners_text(f.owners, lang)
        out.append(f'<p class="small">{_e(owners)}</p>')
    shown = f.evidence[: c.SHOWN_EVIDENCE]
    if shown:
        headers = [t(f"ev.{k}", lang) for k in ("rule", "severity", "class", "method", "offset", "value", "component")]
        rows = [
            [
                _e(f.rule_id),
                _e(c.severity_label(f.severity, lang)),
                _code(e.class_name) if e.class_name else f'<span class="muted">{_e(e.kind)}</span>',
                _code(e.method) if e.method else "",
                _e(e.offset) if e.offset is not None else "",
                _value_cell(e),
                _wrap(c.owner_label(e.owner, lang)) if e.owner is not None else "",
            ]
            for e in shown
        ]
        out.append(_table(headers, rows, num_cols=frozenset({4}), cls="ev"))
    total = max(f.evidence_total, len(f.evidence))
    if total > len(shown):
        out.append(f'<p class="muted small">{_e(t("find.more", lang, shown=len(shown), total=total))}</p>')
    out.append("</div>")
    return out


def _findings(report: Report, lang: str) -> list[str]:
    out = [f'<section id="findings"><h2>{_e(t("sec.findings", lang))} ({len(report.findings)})</h2>']
    if not report.findings:
        out.append(f"<p>{_e(t('find.none', lang))}</p>")
    else:
        out.append(f'<p class="small muted">{_e(t("find.intro", lang, n=len(report.findings)))}</p>')
    for f in report.findings:
        out.extend(_finding(f, lang))
    out.append("</section>")
    return out


# --- neighbours, coverage, provenance -------------------------------------------------


def _neighbours(report: Report, lang: str) -> list[str]:
    headers = [t(k, lang) for k in c.NEIGHBOUR_HEADERS]
    rows = [
        [
            _e(n.label) + f' <code class="muted">{_e(n.name)}</code>',
            _e(n.declared),
            _e(n.reads),
            _badge(n.level, "lvl") if n.level is not None else "-",
            _sev_badge(n.severity, lang),
            _e(n.owners),
            _e(n.harm),
        ]
        for n in c.neighbour_rows(report, lang)
    ]
    return [
        f'<section id="neighbours"><h2>{_e(t("sec.neighbours", lang))}</h2>',
        _table(headers, rows),
        "</section>",
    ]


def _coverage_reasons(report: Report, lang: str) -> str:
    items = []
    for reason in report.coverage.reasons:
        explain = c.coverage_reason_text(reason.code, lang)
        text = f"<code>{_e(reason.code)}</code>{_e(t('colon', lang))}" + (f"{_e(explain)} " if explain else "")
        items.append(f'<li>{text}<span class="muted">{_e(reason.detail)}</span></li>')
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def _coverage(report: Report, lang: str) -> list[str]:
    cov = report.coverage
    out = [f'<section id="coverage"><h2>{_e(t("sec.coverage", lang))}</h2>']
    status = f"<strong>{_e(c.coverage_status_text(cov.status, lang))}</strong>"
    out.append(f"<p>{_e(t('cov.status', lang) + t('colon', lang))}{status}</p>")
    if cov.reasons:
        out.append(f"<p>{_e(t('cov.reasons', lang) + t('colon', lang).strip())}</p>" + _coverage_reasons(report, lang))
    if report.errors:
        out.append(f"<h3>{_e(t('sec.errors', lang))} ({len(report.errors)})</h3>")
        out.append(f'<div class="warn">{_e(t("err.intro", lang))}<ul>')
        colon = _e(t("colon", lang))
        out.extend(f"<li><code>{_e(err.where)}</code>{colon}{_e(err.message)}</li>" for err in report.errors)
        out.append("</ul></div>")
    out.append("</section>")
    return out


def _provenance(report: Report, lang: str) -> list[str]:
    app = report.app
    signers = "<br>".join(_code(s) for s in app.signer_sha256) or _e(t("prov.unsigned", lang))
    rows: list[tuple[str, str]] = [
        (t("prov.file", lang), _code(report.input_path) if report.input_path else "-"),
        (t("prov.package", lang), _code(app.package or t("unknown", lang))),
        (t("prov.label", lang), _e(app.label) if app.label else "-"),
        (t("prov.version", lang), _e(f"{app.version_name or '?'} / {app.version_code or '?'}")),
        (
            t("prov.sdk", lang),
            _e(
                f"{app.min_sdk if app.min_sdk is not None else '?'} / "
                f"{app.target_sdk if app.target_sdk is not None else '?'}"
            ),
        ),
        (t("prov.sha256", lang), _code(app.sha256)),
        (t("prov.sha1", lang), _code(app.sha1)),
        (t("prov.md5", lang), _code(app.md5)),
        (t("prov.size", lang), _e(t("prov.size.bytes", lang, n=app.size))),
        (t("prov.signers", lang), signers),
        (t("prov.dex", lang), _e(", ".join(app.dex_files) or "-")),
        (t("prov.recovered", lang), "<br>".join(_e(c.recovered_text(r, lang)) for r in app.recovered) or "-"),
        (t("prov.app_class", lang), _code(app.application_class) if app.application_class else "-"),
        (t("prov.launchers", lang), "<br>".join(_code(a) for a in app.launcher_activities) or "-"),
        (t("prov.tool", lang), _e(f"{report.tool_name} {report.tool_version}")),
        (t("prov.ruleset", lang), _code(report.ruleset_sha256)),
        (t("prov.options", lang), _code(json.dumps(report.options, sort_keys=True, ensure_ascii=False))),
        (
            t("prov.policies", lang),
            "<br>".join(_e(f"{p.id} {p.version}") for p in report.policies) or "-",
        ),
    ]
    if report.run is not None:
        rows.append(
            (
                t("prov.run", lang),
                _e(t("prov.run.value", lang, started=report.run.started_at, seconds=report.run.duration_s)),
            )
        )
    return [f'<section id="provenance"><h2>{_e(t("sec.provenance", lang))}</h2>', _kv(rows), "</section>"]


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as one self-contained HTML page (``color`` is ignored: HTML is always styled)."""
    check_lang(lang)
    app = report.app
    package = app.package or t("unknown", lang)
    version = f"{app.version_name or '?'} ({app.version_code or '?'})"
    verdict = t(f"verdict.{report.verdict.value}", lang)
    title = f"{t('doc.title', lang)}{t('colon', lang)}{package} {version} — {verdict}"
    toc = "".join(f'<a href="#{sid}">{_e(t(key, lang))}</a>' for sid, key in SECTIONS)
    parts: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{HTML_LANG[lang]}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(t('doc.title', lang) + t('colon', lang))}<code>{_e(package)}</code> {_e(version)}</h1>",
        f'<p class="sub">{_e(t("doc.subtitle", lang))} · <span class="mono">sha256 {_e(app.sha256)}</span></p>',
        "</header>",
    ]
    parts.extend(_verdict(report, lang))
    parts.append(f'<nav class="toc">{_e(t("doc.contents", lang) + t("colon", lang))}{toc}</nav>')
    parts.append(f'<section id="protected"><h2>{_e(t("sec.protected", lang))}</h2>')
    for name in c.PROTECTED:
        r = report.data_classes.get(name)
        if r is not None:
            parts.extend(_protected_class(name, r, lang))
    parts.append("</section>")
    parts.extend(_policies(report, lang))
    parts.extend(_findings(report, lang))
    parts.extend(_neighbours(report, lang))
    parts.extend(_coverage(report, lang))
    parts.extend(_provenance(report, lang))
    generated = t("doc.generated", lang, tool=report.tool_name, version=report.tool_version)
    parts.append(f"<footer>{_e(generated)}</footer>")
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"
