"""The Markdown report (CommonMark + GitHub tables): the HTML report's content, for issues and wikis.

Values from the APK, the rules and the policy packs are either in code spans
(where nothing is interpreted) or backslash-escaped, so no value can inject
markup, HTML or links. Only http(s) citation sources become links.
Deterministic: the only time shown is ``report.run``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from appaudit.report.common import NEIGHBOUR_HEADERS, SHOWN_CHAINS, SHOWN_EVIDENCE, fill_message, join
from appaudit.report.i18n import t
from appaudit.report.markdown_markup import (
    T,
    _code,
    _code_block,
    _evidence_code,
    _kv,
    _table,
    _text,
)
from appaudit.report.model import Report
from appaudit.report.view import (
    ChainView,
    ClassView,
    EvidenceView,
    FindingView,
    ReportView,
    StartupView,
    StepView,
    TriggerView,
    ViolationView,
)
from appaudit.report.view_build import build

if TYPE_CHECKING:  # annotations only: importing appaudit.apk would load androguard
    pass


def _verdict(view: ReportView, lang: str) -> list[str]:
    label = t("verdict", lang) + t("colon", lang) + view.verdict_label
    out = [f"> ## {_text(label)}", ">"]
    out.append(f"> {_text(view.verdict_why)}")
    out.append("")
    out.extend(f"- {_text(s)}" for s in view.summary)
    if view.violations:
        out.append(f"- {_text(t('sum.violations', lang, n=view.violations, packs=view.violated_packs))}")
    if view.summary or view.violations:
        out.append("")
    if view.verdict.value == "inconclusive":
        out.append(f"**{_text(t('verdict.inconclusive.explain', lang))}**")
        out.append("")
        out.extend(_coverage_reasons(view, lang))
        out.append("")
    elif view.coverage != "complete":
        out.append(_text(t("verdict.partial.note", lang, status=view.coverage)))
        out.append("")
    return out


def _providers(cv: ClassView, lang: str) -> str:
    items = [
        _fill(
            "provider.how",
            lang,
            uri=_code(a.uri, cell=True),
            how=_text(a.how),
            bulk=_text(t("provider.bulk", lang) if a.bulk else ""),
            why=_text(a.why),
            site=_code(a.site, cell=True),
        )
        for a in cv.accesses
    ]
    if cv.more_accesses:
        items.append(_text(t("and_more", lang, n=cv.more_accesses)))
    return "<br>".join(items)


def _fill(key: str, lang: str, **md_values: str) -> str:
    """Message ``key`` with its own text escaped and placeholders filled with ready Markdown."""
    return fill_message(key, lang, _text, md_values)


def _at(e: EvidenceView) -> str:
    return f"{_code(e.short)} @ {_code(e.site)}"


def _steps_code(steps: Sequence[StepView]) -> list[str]:
    """The code of each hop, indented into its list item."""
    out: list[str] = []
    for s in steps:
        out.extend(_code_block(s.code, _code(s.text)))
    return [f"   {line}" if line else "" for line in out]


def _chain(i: int, ch: ChainView, lang: str) -> list[str]:
    colon = _text(t("colon", lang))
    out = [f"{i}. **{_text(ch.channel_label)}**"]
    out.append(f"   - {_text(t('chain.read', lang))}{colon}{_at(ch.read)}")
    out.append(f"   - {_text(t('chain.steps', lang))}{colon}")
    out.extend(f"     {n}. {_code(s.text)}" for n, s in enumerate(ch.steps, 1))
    out.append(f"   - {_text(t('chain.sink', lang))}{colon}{_at(ch.sink)}")
    out.append(f"   - {_text(t('chain.dataflow', lang))}{colon}{_text(ch.dataflow_label)}")
    if ch.via:
        out.append(f"   - {_text(t('chain.via', lang))}{colon}{_text('; '.join(ch.via))}")
    if ch.transformers:
        items = ", ".join(_code(x) for x in ch.transformers)
        out.append(f"   - {_text(t('chain.transformers', lang))}{colon}{items}")
    if ch.urls:
        items = ", ".join(_code(u) for u in ch.urls)
        out.append(f"   - {_text(t('chain.urls', lang))}{colon}{items}")
    if ch.url_sources:
        items = ", ".join(f"{_code(u)} {_text(t('chain.url_from', lang, how=how))}" for u, how in ch.url_sources)
        out.append(f"   - {_text(t('chain.url_sources', lang))}{colon}{items}")
    if ch.owners:
        out.append(f"   - {_text(t('field.by_whom', lang))}{colon}{_text(join(ch.owners, lang))}")
    code = _steps_code(ch.steps)
    if code:
        out.extend(["", *code])
    return out


def _startup(i: int, path: StartupView, lang: str) -> list[str]:
    asks = f" ({_text(t('text.asks_first', lang))})" if path.asks_first else ""
    out = [f"{i}. **{_text(path.trigger_label)}**: {_code(path.entry)}{asks}"]
    out.extend(f"   {n}. {_code(s.text)}" for n, s in enumerate(path.steps, 1))
    code = _steps_code(path.steps)
    if code:
        out.extend(["", *code])
    return out


def _trigger(i: int, tv: TriggerView, lang: str) -> list[str]:
    asks = f" ({_text(t('text.asks_first', lang))})" if tv.asks_first else ""
    out = [f"{i}. **{_text(tv.label)}**: {_code(tv.entry)}{asks}"]
    if tv.read:
        out.append(f"   - {_text(t('trigger.read', lang))}: {_code(tv.read)}")
    if tv.guard:
        out.append(f"   - {_text(t('trigger.guard', lang))}: {_code(tv.guard)}")
    out.extend(f"   {n}. {_code(s.text)}" for n, s in enumerate(tv.steps, 1))
    return out


def _protected_class(cv: ClassView, lang: str) -> list[str]:
    name = cv.name
    badge = cv.level_label + (f", {cv.severity_label}" if cv.severity is not None else "")
    out = [f"### {_text(cv.label)} ({_code(name)}): {_text(badge)}", ""]
    yes = f"**{_text(t('yes', lang))}**"
    rows: list[tuple[str, str]] = [(t("field.what", lang), _text(t(f"dc.{name}.what", lang)))]
    if cv.level == "none":
        rows.append((t("field.how", lang), _text(t("class.status.none", lang))))
    else:
        perms = ", ".join(_code(p, cell=True) for p in cv.permissions) or _text(t("field.not_declared", lang))
        rows.append((t("field.permissions", lang), perms))
        read = t("class.read.yes" if cv.read else "class.read.dormant" if cv.dormant else "class.read.no", lang)
        providers = _providers(cv, lang)
        rows.append((t("field.how", lang), _text(read) + (f"<br>{providers}" if providers else "")))
        if cv.owners:
            rows.append((t("field.by_whom", lang), "<br>".join(_text(o) for o in cv.owners)))
        bulk = f"{yes} {_text(t('bulk.yes', lang))}" if cv.bulk else _text(t("bulk.no", lang))
        if cv.bulk_why:
            bulk += " " + _text(t("bulk.why", lang, why=cv.bulk_why))
        rows.append((t("field.bulk", lang), bulk))
        if cv.writes:
            rows.append((t("field.writes", lang), "<br>".join(_text(w) for w in cv.writes)))
        leaves = f"{yes} {_text(join(cv.exfiltrated_labels, lang))}" if cv.exfiltrated else _text(t("leaves.no", lang))
        rows.append((t("field.leaves", lang), leaves))
        startup = f"{yes} {_text(t('startup.yes', lang))}" if cv.at_startup else _text(t("startup.no", lang))
        rows.append((t("field.startup", lang), startup))
        if cv.rule_ids:
            rows.append((t("field.rules", lang), " ".join(_code(x, cell=True) for x in cv.rule_ids)))
    if cv.read or cv.dormant or cv.declared:
        rows.append((t("field.enables", lang), f"**{_text(t(f'harm.{name}', lang))}**"))
    out.extend(_kv(rows))
    out.extend(_numbered("sec.chains", cv.chains, _chain, lang))
    out.extend(_numbered("sec.startup", cv.startup_paths, _startup, lang))
    out.extend(_numbered("sec.triggers", cv.triggers, _trigger, lang))
    return out


def _numbered(title: str, items: Sequence[T], render: Callable[[int, T, str], list[str]], lang: str) -> list[str]:
    """A heading with the count, the first ``SHOWN_CHAINS`` items rendered, and how many more."""
    if not items:
        return []
    out = [f"#### {_text(t(title, lang))} ({len(items)})", ""]
    for i, item in enumerate(items[:SHOWN_CHAINS], 1):
        out.extend(render(i, item, lang))
    if len(items) > SHOWN_CHAINS:
        out.append(_text(t("and_more", lang, n=len(items) - SHOWN_CHAINS)))
    return [*out, ""]


def _violation(v: ViolationView, lang: str) -> list[str]:
    article = _text(v.article)
    if v.caveated:
        article += f" **({_text(v.conf_label)})**"
    head = (
        f"- **{_text(v.provision)}** — {_text(v.kind_label)} — "
        f"{_text(t('pol.confidence', lang))} {_text(v.confidence_label)}"
    )
    colon = _text(t("colon", lang))
    source = f"<{v.source}>" if v.source_is_link else _text(v.source)
    return [
        head,
        f"  - {_text(v.instrument)}, {article}",
        f"  - {_text(t('pol.says', lang))}{colon}{_text(v.paraphrase)}",
        f"  - {_text(t('pol.triggered_by', lang))}{colon}{_text('; '.join(v.triggered_by))}",
        f"  - {_text(t('pol.source', lang))}{colon}{source} · {_text(t('pol.effective', lang))} {_text(v.effective)}",
    ]


def _policies(view: ReportView, lang: str) -> list[str]:
    out = [f"## {_text(t('sec.policies', lang))}", ""]
    if not view.packs_evaluated:
        return [*out, _text(t("pol.not_evaluated", lang)), ""]
    out.extend([_text(t("pol.intro", lang)), ""])
    if not view.violated:
        out.extend([_text(t("pol.none", lang)), ""])
    for p in view.violated:
        out.extend([f"### {_text(p.title)} ({len(p.violations)})", ""])
        for v in p.violations:
            out.extend(_violation(v, lang))
        out.append("")
    if view.clean_packs:
        out.extend([_text(t("pol.clean_packs", lang, packs=join(view.clean_packs, lang))), ""])
    return out


def _offset(e: EvidenceView, lang: str) -> str:
    if e.offset is None:
        return ""
    if e.read_at is None:
        return str(e.offset)
    return f"{e.offset} ({_text(t('ev.read_at', lang, offset=e.read_at))})"


def _finding(f: FindingView, lang: str) -> list[str]:
    head = (
        f"### {_text(f.severity_label.upper())} {_text(f.rule_id)} \\[{_text(f.data_class_label)}\\] {_text(f.title)}"
    )
    out = [head, "", _text(f.message), ""]
    if f.dormant:
        out.extend([f"*{_text(t('find.dormant', lang))}*", ""])
    if f.owners_text:
        out.extend([_text(t("find.components", lang) + t("colon", lang) + f.owners_text), ""])
    shown = f.evidence[:SHOWN_EVIDENCE]
    if shown:
        # rule and severity are the heading's; the kind has its own column (never in "class")
        headers = [t(f"ev.{k}", lang) for k in ("kind", "class", "method", "offset", "value", "component")]
        rows = [
            [
                _text(e.kind_label),
                _code(e.class_name, cell=True) if e.class_name else "",
                _code(e.method, cell=True) if e.method else "",
                _offset(e, lang),
                _code(e.short, cell=True),
                _text(e.owner) if e.owner is not None else "",
            ]
            for e in shown
        ]
        out.extend(_table(headers, rows, right=frozenset({3})))
        out.extend(_evidence_code(shown))
    total = max(f.evidence_total, len(f.evidence))
    if total > len(shown):
        out.extend([_text(t("find.more", lang, shown=len(shown), total=total)), ""])
    return out


def _findings(view: ReportView, lang: str) -> list[str]:
    out = [f"## {_text(t('sec.findings', lang))} ({len(view.findings)})", ""]
    if not view.findings:
        return [*out, _text(t("find.none", lang)), ""]
    out.extend([_text(t("find.intro", lang, n=len(view.findings))), ""])
    out.extend([_text(f"{t('ev.offset', lang)}{t('colon', lang)}{t('ev.offset.title', lang)}"), ""])
    for f in view.findings:
        out.extend(_finding(f, lang))
    return out


def _neighbours(view: ReportView, lang: str) -> list[str]:
    headers = [t(k, lang) for k in NEIGHBOUR_HEADERS]
    rows = [
        [
            f"{_text(n.label)} {_code(n.name, cell=True)}",
            _text(n.declared),
            _text(n.reads),
            _text(n.level) if n.level is not None else "\\-",
            _text(n.severity_label),
            _text(n.owners),
            _text(n.harm) if n.harm else "",
        ]
        for n in view.neighbours
    ]
    return [f"## {_text(t('sec.neighbours', lang))}", "", *_table(headers, rows)]


def _declarations(view: ReportView, lang: str) -> list[str]:
    """The "declared vs found" table; nothing when no declaration was given."""
    if view.declarations is None:
        return []
    headers = list(view.declarations.headers)
    rows = [
        [
            f"{_text(r.label)} {_code(r.name, cell=True)}",
            *(_text(v) for v in (r.declared, r.policy, r.found, r.leaves_by, r.sdks, r.contradictions)),
        ]
        for r in view.declarations.rows
    ]
    intro = _text(t("dvf.intro", lang))
    return [f"## {_text(t('sec.declarations', lang))}", "", intro, "", *_table(headers, rows)]


def _coverage_reasons(view: ReportView, lang: str) -> list[str]:
    out = []
    for reason in view.reasons:
        text = f"- {_code(reason.code)}{_text(t('colon', lang))}" + (
            f"{_text(reason.explain)} " if reason.explain else ""
        )
        out.append(text + _text(reason.detail))
    return out


def _coverage(view: ReportView, lang: str) -> list[str]:
    colon = _text(t("colon", lang))
    out = [f"## {_text(t('sec.coverage', lang))}", ""]
    out.extend([f"{_text(t('cov.status', lang))}{colon}**{_text(view.coverage_label)}**", ""])
    if view.reasons:
        out.extend([_text(t("cov.reasons", lang)) + colon.strip(), "", *_coverage_reasons(view, lang), ""])
    if view.errors:
        out.extend([f"### {_text(t('sec.errors', lang))} ({len(view.errors)})", "", _text(t("err.intro", lang)), ""])
        out.extend(f"- {_code(where)}{colon}{_text(message)}" for where, message in view.errors)
        out.append("")
    return out


def _provenance(view: ReportView, lang: str) -> list[str]:
    p = view.provenance
    signers = "<br>".join(_code(s, cell=True) for s in p.signers) or _text(t("prov.unsigned", lang))
    rows: list[tuple[str, str]] = [
        (t("prov.file", lang), _code(p.input_path, cell=True) if p.input_path else "\\-"),
        (t("prov.package", lang), _code(p.package, cell=True)),
        (t("prov.label", lang), _text(p.label) if p.label else "-"),
        (t("prov.version", lang), _text(p.version)),
        (t("prov.sdk", lang), _text(p.sdk)),
        (t("prov.sha256", lang), _code(p.sha256, cell=True)),
        (t("prov.sha1", lang), _code(p.sha1, cell=True)),
        (t("prov.md5", lang), _code(p.md5, cell=True)),
        (t("prov.size", lang), _text(p.size)),
        (t("prov.signers", lang), signers),
        (t("prov.dex", lang), ", ".join(_code(d, cell=True) for d in p.dex_files) or "\\-"),
        (t("prov.recovered", lang), "<br>".join(_text(r) for r in p.recovered) or "\\-"),
        (t("prov.app_class", lang), _code(p.application_class, cell=True) if p.application_class else "\\-"),
        (t("prov.launchers", lang), "<br>".join(_code(a, cell=True) for a in p.launchers) or "\\-"),
        (t("prov.tool", lang), _text(p.tool)),
        (t("prov.ruleset", lang), _code(p.ruleset, cell=True)),
        (t("prov.options", lang), _code(p.options, cell=True)),
        (t("prov.policies", lang), "<br>".join(_text(x) for x in p.policies) or "\\-"),
    ]
    if p.run is not None:
        rows.append((t("prov.run", lang), _text(p.run)))
    return [f"## {_text(t('sec.provenance', lang))}", "", *_kv(rows)]


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as Markdown (``color`` is ignored)."""
    view = build(report, lang)
    package = view.provenance.package
    out = [
        f"# {_text(t('doc.title', lang) + t('colon', lang))}{_code(package)} {_text(view.version, inline=True)}",
        "",
        f"{_text(t('doc.subtitle', lang))} · sha256 {_code(view.provenance.sha256)}",
        "",
    ]
    out.extend(_verdict(view, lang))
    out.extend([f"## {_text(t('sec.protected', lang))}", ""])
    for cv in view.protected:
        out.extend(_protected_class(cv, lang))
    out.extend(_policies(view, lang))
    out.extend(_findings(view, lang))
    out.extend(_neighbours(view, lang))
    out.extend(_declarations(view, lang))
    out.extend(_coverage(view, lang))
    out.extend(_provenance(view, lang))
    out.append("---")
    out.append("")
    out.append(_text(t("doc.generated", lang, tool=report.tool_name, version=report.tool_version)))
    text = "\n".join(line.rstrip() for line in out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
