"""The Markdown report (CommonMark + GitHub tables): the HTML report's content, for issues and wikis.

Values from the APK, the rules and the policy packs are either in code spans
(where nothing is interpreted) or backslash-escaped, so no value can inject
markup, HTML or links. Only http(s) citation sources become links.
Deterministic: the only time shown is ``report.run``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from string import Formatter
from typing import TypeVar

from appaudit.analysis.facts import HarvestChain, StartupPath
from appaudit.model import Evidence
from appaudit.report import common as c
from appaudit.report.i18n import check_lang, t
from appaudit.report.model import DataClassResult, Finding, PolicyViolation, Report

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


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell or " " for cell in cells) + " |"


def _table(headers: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return [_row([_text(h) for h in headers]), _row(rule), *(_row(r) for r in rows), ""]


def _kv(rows: list[tuple[str, str]]) -> list[str]:
    return _table(["", ""], [[f"**{_text(k)}**", v] for k, v in rows])


def _verdict(report: Report, lang: str) -> list[str]:
    v = report.verdict.value
    label = t("verdict", lang) + t("colon", lang) + t(f"verdict.{v}", lang)
    out = [f"> ## {_text(label)}", ">"]
    out.append(f"> {_text(t(f'verdict.{v}.why', lang))}")
    out.append("")
    lines = c.summary_lines(report, lang)
    out.extend(f"- {_text(s)}" for s in lines)
    n, packs = c.violation_count(report)
    if n:
        out.append(f"- {_text(t('sum.violations', lang, n=n, packs=packs))}")
    if lines or n:
        out.append("")
    if v == "inconclusive":
        out.append(f"**{_text(t('verdict.inconclusive.explain', lang))}**")
        out.append("")
        out.extend(_coverage_reasons(report, lang))
        out.append("")
    elif report.coverage.status != "complete":
        out.append(_text(t("verdict.partial.note", lang, status=report.coverage.status)))
        out.append("")
    return out


def _providers(r: DataClassResult, lang: str) -> str:
    items = []
    for a in r.accesses[: c.SHOWN_CHAINS]:
        bulk = t("provider.bulk", lang) if a.bulk else ""
        items.append(
            _fill(
                "provider.how",
                lang,
                uri=_code(c.short_value("sget", a.uri), cell=True),
                how=_text(c.resolved_label(a.how, lang)),
                bulk=_text(bulk),
                site=_code(c.site(a.evidence), cell=True),
            )
        )
    more = len(r.accesses) - c.SHOWN_CHAINS
    if more > 0:
        items.append(_text(t("and_more", lang, n=more)))
    return "<br>".join(items)


def _fill(key: str, lang: str, **md_values: str) -> str:
    """Message ``key`` with its own text escaped and placeholders filled with ready Markdown."""
    out = []
    for literal, name, _spec, _conv in Formatter().parse(t(key, lang)):
        out.append(_text(literal))
        if name is not None:
            out.append(md_values[name])
    return "".join(out)


def _at(e: Evidence) -> str:
    return f"{_code(c.short_value(e.kind, e.value))} @ {_code(c.site(e))}"


def _chain(i: int, chain: HarvestChain, lang: str) -> list[str]:
    out = [f"{i}. **{_text(c.channel_label(chain.channel, lang))}**"]
    out.append(f"   - {_text(t('chain.read', lang))}{_text(t('colon', lang))}{_at(chain.read)}")
    out.append(f"   - {_text(t('chain.steps', lang))}{_text(t('colon', lang))}")
    out.extend(f"     {n}. {_code(c.step_text(s))}" for n, s in enumerate(chain.steps, 1))
    out.append(f"   - {_text(t('chain.sink', lang))}{_text(t('colon', lang))}{_at(chain.sink)}")
    flow = _text(t(f"chain.dataflow.{chain.dataflow}", lang))
    out.append(f"   - {_text(t('chain.dataflow', lang))}{_text(t('colon', lang))}{flow}")
    if chain.transformers:
        items = ", ".join(_code(x) for x in chain.transformers)
        out.append(f"   - {_text(t('chain.transformers', lang))}{_text(t('colon', lang))}{items}")
    if chain.urls:
        items = ", ".join(_code(u) for u in chain.urls)
        out.append(f"   - {_text(t('chain.urls', lang))}{_text(t('colon', lang))}{items}")
    owners = [o for o in (chain.read.owner, chain.sink.owner) if o is not None]
    if owners:
        labels = c.join(dict.fromkeys(c.owner_label(o, lang) for o in owners), lang)
        out.append(f"   - {_text(t('field.by_whom', lang))}{_text(t('colon', lang))}{_text(labels)}")
    return out


def _startup(i: int, path: StartupPath, lang: str) -> list[str]:
    asks = f" ({_text(t('text.asks_first', lang))})" if path.asks_permission_first else ""
    out = [f"{i}. **{_text(c.trigger_label(path.trigger, lang))}**: {_code(path.entry)}{asks}"]
    out.extend(f"   {n}. {_code(c.step_text(s))}" for n, s in enumerate(path.steps, 1))
    return out


def _protected_class(name: str, r: DataClassResult, lang: str) -> list[str]:
    badge = c.level_label(r.level, lang)
    if r.severity is not None:
        badge += f", {c.severity_label(r.severity, lang)}"
    out = [f"### {_text(c.class_label(name, lang))} ({_code(name)}): {_text(badge)}", ""]
    yes = f"**{_text(t('yes', lang))}**"
    rows: list[tuple[str, str]] = [(t("field.what", lang), _text(t(f"dc.{name}.what", lang)))]
    if r.level.value == "none":
        rows.append((t("field.how", lang), _text(t("class.status.none", lang))))
    else:
        perms = ", ".join(_code(p, cell=True) for p in r.permissions) or _text(t("field.not_declared", lang))
        rows.append((t("field.permissions", lang), perms))
        read = t("class.read.yes", lang) if r.read else t("class.read.dormant" if r.dormant else "class.read.no", lang)
        providers = _providers(r, lang)
        rows.append((t("field.how", lang), _text(read) + (f"<br>{providers}" if providers else "")))
        if r.owners:
            rows.append((t("field.by_whom", lang), "<br>".join(_text(c.owner_label(o, lang)) for o in r.owners)))
        rows.append(
            (t("field.bulk", lang), f"{yes} {_text(t('bulk.yes', lang))}" if r.bulk else _text(t("bulk.no", lang)))
        )
        leaves = (
            f"{yes} {_text(c.join((c.channel_label(ch, lang) for ch in r.exfiltrated), lang))}"
            if r.exfiltrated
            else _text(t("leaves.no", lang))
        )
        rows.append((t("field.leaves", lang), leaves))
        startup = f"{yes} {_text(t('startup.yes', lang))}" if r.at_startup else _text(t("startup.no", lang))
        rows.append((t("field.startup", lang), startup))
        if r.rule_ids:
            rows.append((t("field.rules", lang), " ".join(_code(x, cell=True) for x in r.rule_ids)))
    if r.read or r.dormant or r.declared:
        rows.append((t("field.enables", lang), f"**{_text(t(f'harm.{name}', lang))}**"))
    out.extend(_kv(rows))
    out.extend(_numbered("sec.chains", r.chains, _chain, lang))
    out.extend(_numbered("sec.startup", r.startup_paths, _startup, lang))
    return out


def _numbered(title: str, items: Sequence[T], render: Callable[[int, T, str], list[str]], lang: str) -> list[str]:
    """A heading with the count, the first ``SHOWN_CHAINS`` items rendered, and how many more."""
    if not items:
        return []
    out = [f"#### {_text(t(title, lang))} ({len(items)})", ""]
    for i, item in enumerate(items[: c.SHOWN_CHAINS], 1):
        out.extend(render(i, item, lang))
    if len(items) > c.SHOWN_CHAINS:
        out.append(_text(t("and_more", lang, n=len(items) - c.SHOWN_CHAINS)))
    return [*out, ""]


def _source(url: str) -> str:
    return f"<{url}>" if c.is_web_link(url) else _text(url)


def _violation(v: PolicyViolation, lang: str) -> list[str]:
    conf = v.confidence if v.confidence in ("V", "P", "U") else "U"
    article = _text(v.article)
    if conf in c.CAVEATED:
        article += f" **({_text(c.confidence_text(conf, lang))})**"
    head = (
        f"- **{_text(v.provision)}** — {_text(c.policy_kind(v.kind, lang))} — "
        f"{_text(t('pol.confidence', lang))} {_text(c.confidence_text(v.confidence, lang))}"
    )
    colon = _text(t("colon", lang))
    return [
        head,
        f"  - {_text(v.instrument)}, {article}",
        f"  - {_text(t('pol.says', lang))}{colon}{_text(v.paraphrase)}",
        f"  - {_text(t('pol.triggered_by', lang))}{colon}{_text('; '.join(v.triggered_by))}",
        f"  - {_text(t('pol.source', lang))}{colon}{_source(v.source)} · {_text(t('pol.effective', lang))} "
        f"{_text(v.effective)}",
    ]


def _policies(report: Report, lang: str) -> list[str]:
    out = [f"## {_text(t('sec.policies', lang))}", ""]
    if not report.policies:
        return [*out, _text(t("pol.not_evaluated", lang)), ""]
    out.extend([_text(t("pol.intro", lang)), ""])
    violated = [p for p in report.policies if p.violations]
    if not violated:
        out.extend([_text(t("pol.none", lang)), ""])
    for p in violated:
        title = t("pol.pack", lang, name=p.name, jurisdiction=p.jurisdiction, id=p.id, version=p.version)
        out.extend([f"### {_text(title)} ({len(p.violations)})", ""])
        for v in p.violations:
            out.extend(_violation(v, lang))
        out.append("")
    clean = [p.id for p in report.policies if not p.violations]
    if clean:
        out.extend([_text(t("pol.clean_packs", lang, packs=c.join(clean, lang))), ""])
    return out


def _finding(f: Finding, lang: str) -> list[str]:
    head = (
        f"### {_text(c.severity_label(f.severity, lang).upper())} {_text(f.rule_id)} "
        f"\\[{_text(c.class_label(f.data_class, lang))}\\] {_text(f.title)}"
    )
    out = [head, "", _text(f.message), ""]
    if f.dormant:
        out.extend([f"*{_text(t('find.dormant', lang))}*", ""])
    if f.owners:
        owners = t("find.components", lang) + t("colon", lang) + c.owners_text(f.owners, lang)
        out.extend([_text(owners), ""])
    shown = f.evidence[: c.SHOWN_EVIDENCE]
    if shown:
        headers = [t(f"ev.{k}", lang) for k in ("rule", "severity", "class", "method", "offset", "value", "component")]
        rows = [
            [
                _text(f.rule_id),
                _text(c.severity_label(f.severity, lang)),
                _code(e.class_name, cell=True) if e.class_name else _text(e.kind),
                _code(e.method, cell=True) if e.method else "",
                str(e.offset) if e.offset is not None else "",
                _code(c.short_value(e.kind, e.value), cell=True),
                _text(c.owner_label(e.owner, lang)) if e.owner is not None else "",
            ]
            for e in shown
        ]
        out.extend(_table(headers, rows, right=frozenset({4})))
    total = max(f.evidence_total, len(f.evidence))
    if total > len(shown):
        out.extend([_text(t("find.more", lang, shown=len(shown), total=total)), ""])
    return out


def _findings(report: Report, lang: str) -> list[str]:
    out = [f"## {_text(t('sec.findings', lang))} ({len(report.findings)})", ""]
    if not report.findings:
        return [*out, _text(t("find.none", lang)), ""]
    out.extend([_text(t("find.intro", lang, n=len(report.findings))), ""])
    for f in report.findings:
        out.extend(_finding(f, lang))
    return out


def _neighbours(report: Report, lang: str) -> list[str]:
    headers = [t(k, lang) for k in c.NEIGHBOUR_HEADERS]
    rows = [
        [
            f"{_text(n.label)} {_code(n.name, cell=True)}",
            _text(n.declared),
            _text(n.reads),
            _text(n.level) if n.level is not None else "\\-",
            _text(c.severity_label(n.severity, lang)),
            _text(n.owners),
            _text(n.harm) if n.harm else "",
        ]
        for n in c.neighbour_rows(report, lang)
    ]
    return [f"## {_text(t('sec.neighbours', lang))}", "", *_table(headers, rows)]


def _coverage_reasons(report: Report, lang: str) -> list[str]:
    out = []
    for reason in report.coverage.reasons:
        explain = c.coverage_reason_text(reason.code, lang)
        text = f"- {_code(reason.code)}{_text(t('colon', lang))}" + (f"{_text(explain)} " if explain else "")
        out.append(text + _text(reason.detail))
    return out


def _coverage(report: Report, lang: str) -> list[str]:
    cov = report.coverage
    colon = _text(t("colon", lang))
    out = [f"## {_text(t('sec.coverage', lang))}", ""]
    out.extend([f"{_text(t('cov.status', lang))}{colon}**{_text(c.coverage_status_text(cov.status, lang))}**", ""])
    if cov.reasons:
        out.extend([_text(t("cov.reasons", lang)) + colon.strip(), "", *_coverage_reasons(report, lang), ""])
    if report.errors:
        out.extend([f"### {_text(t('sec.errors', lang))} ({len(report.errors)})", "", _text(t("err.intro", lang)), ""])
        out.extend(f"- {_code(err.where)}{colon}{_text(err.message)}" for err in report.errors)
        out.append("")
    return out


def _provenance(report: Report, lang: str) -> list[str]:
    app = report.app
    signers = "<br>".join(_code(s, cell=True) for s in app.signer_sha256) or _text(t("prov.unsigned", lang))
    sdk = f"{app.min_sdk if app.min_sdk is not None else '?'} / {app.target_sdk if app.target_sdk is not None else '?'}"
    rows: list[tuple[str, str]] = [
        (t("prov.file", lang), _code(report.input_path, cell=True) if report.input_path else "\\-"),
        (t("prov.package", lang), _code(app.package or t("unknown", lang), cell=True)),
        (t("prov.label", lang), _text(app.label) if app.label else "-"),
        (t("prov.version", lang), _text(f"{app.version_name or '?'} / {app.version_code or '?'}")),
        (t("prov.sdk", lang), _text(sdk)),
        (t("prov.sha256", lang), _code(app.sha256, cell=True)),
        (t("prov.sha1", lang), _code(app.sha1, cell=True)),
        (t("prov.md5", lang), _code(app.md5, cell=True)),
        (t("prov.size", lang), _text(t("prov.size.bytes", lang, n=app.size))),
        (t("prov.signers", lang), signers),
        (t("prov.dex", lang), ", ".join(_code(d, cell=True) for d in app.dex_files) or "\\-"),
        (t("prov.recovered", lang), "<br>".join(_text(c.recovered_text(r, lang)) for r in app.recovered) or "\\-"),
        (t("prov.app_class", lang), _code(app.application_class, cell=True) if app.application_class else "\\-"),
        (t("prov.launchers", lang), "<br>".join(_code(a, cell=True) for a in app.launcher_activities) or "\\-"),
        (t("prov.tool", lang), _text(f"{report.tool_name} {report.tool_version}")),
        (t("prov.ruleset", lang), _code(report.ruleset_sha256, cell=True)),
        (t("prov.options", lang), _code(json.dumps(report.options, sort_keys=True, ensure_ascii=False), cell=True)),
        (t("prov.policies", lang), "<br>".join(_text(f"{p.id} {p.version}") for p in report.policies) or "\\-"),
    ]
    if report.run is not None:
        run = t("prov.run.value", lang, started=report.run.started_at, seconds=report.run.duration_s)
        rows.append((t("prov.run", lang), _text(run)))
    return [f"## {_text(t('sec.provenance', lang))}", "", *_kv(rows)]


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The report as Markdown (``color`` is ignored)."""
    check_lang(lang)
    app = report.app
    package = app.package or t("unknown", lang)
    version = f"{app.version_name or '?'} ({app.version_code or '?'})"
    out = [
        f"# {_text(t('doc.title', lang) + t('colon', lang))}{_code(package)} {_text(version, inline=True)}",
        "",
        f"{_text(t('doc.subtitle', lang))} · sha256 {_code(app.sha256)}",
        "",
    ]
    out.extend(_verdict(report, lang))
    out.extend([f"## {_text(t('sec.protected', lang))}", ""])
    for name in c.PROTECTED:
        r = report.data_classes.get(name)
        if r is not None:
            out.extend(_protected_class(name, r, lang))
    out.extend(_policies(report, lang))
    out.extend(_findings(report, lang))
    out.extend(_neighbours(report, lang))
    out.extend(_coverage(report, lang))
    out.extend(_provenance(report, lang))
    out.append("---")
    out.append("")
    out.append(_text(t("doc.generated", lang, tool=report.tool_name, version=report.tool_version)))
    text = "\n".join(line.rstrip() for line in out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
