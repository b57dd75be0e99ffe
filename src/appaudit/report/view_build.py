"""Building the :class:`~appaudit.report.view.ReportView` of a report in one language."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping

from appaudit.analysis.facts import BulkReason, ChainStep, HarvestChain, IncomingReason, StartupPath, StoreHop
from appaudit.declarations.model import DeclarationReport
from appaudit.model import Evidence, EvidenceKind
from appaudit.report import common as c
from appaudit.report.i18n import check_lang, has, t
from appaudit.report.model import CodeNotes, DataClassResult, Finding, PolicyResult, PolicyViolation, Report
from appaudit.report.view import (
    AccessView,
    ChainView,
    ClassView,
    CodeView,
    DeclarationRowView,
    DeclarationsView,
    EvidenceView,
    FindingView,
    PackView,
    ProvenanceView,
    ReasonView,
    ReportView,
    StartupView,
    StepView,
    TriggerView,
    ViolationView,
)

#: Evidence kinds that name a URI a provider query may read.
_URI_KINDS = frozenset({"sget", "const-string"})


def _code(
    code: CodeNotes, dex: str | None, class_name: str | None, method: str | None, offset: int | None, lang: str
) -> CodeView | None:
    """A location's position and excerpt; None when the scan has no code for it."""
    pos = code.position(dex, class_name, method, offset)
    if pos is None:
        return None
    where = (
        f"{pos.source_file or '?'}:{pos.line}"
        if pos.line is not None
        else (f"{pos.source_file or '?'}, {t('code.no_lines', lang)}")
    )
    return CodeView(where=where, excerpt=code.excerpt(dex, class_name, method, offset))


def _read_at(e: Evidence, reads: Mapping[tuple[str, str, str], int]) -> int | None:
    if e.kind not in _URI_KINDS or e.class_name is None or e.method is None:
        return None
    at = reads.get((c.short_value("sget", e.value) if e.kind == "sget" else e.value, e.class_name, e.method))
    return at if at != e.offset else None


def _evidence(
    e: Evidence, lang: str, code: CodeNotes, reads: Mapping[tuple[str, str, str], int] | None = None
) -> EvidenceView:
    return EvidenceView(
        kind=e.kind,
        kind_label=c.evidence_kind_label(e.kind, lang),
        value=e.text,
        short=c.short_value(e.kind, e.value, e.channel),
        site=c.site(e),
        dex=e.dex,
        class_name=e.class_name,
        method=e.method,
        offset=e.offset,
        owner=c.owner_label(e.owner, lang) if e.owner is not None else None,
        code=_code(code, e.dex, e.class_name, e.method, e.offset, lang) if e.kind != EvidenceKind.TEXT else None,
        read_at=_read_at(e, reads) if reads else None,
    )


def _dex_of(s: ChainStep, ends: tuple[Evidence, ...]) -> str | None:
    """The DEX of a step that is a chain's read or sink site (their code carries the evidence's note)."""
    return next((e.dex for e in ends if (e.class_name, e.method, e.offset) == (s.class_name, s.method, s.offset)), None)


def _steps(
    steps: tuple[ChainStep, ...], lang: str, code: CodeNotes, ends: tuple[Evidence, ...] = ()
) -> tuple[StepView, ...]:
    return tuple(
        StepView(
            text=c.method_text(s.class_name, s.method, s.offset),
            compact=c.method_text(s.class_name, s.method, compact=True),
            code=_code(code, _dex_of(s, ends), s.class_name, s.method, s.offset, lang),
        )
        for s in steps
    )


#: Hop kinds that keep the data on the device (the others hand it to another component).
_STORAGE_KINDS = frozenset({"sqlite", "shared_prefs", "file", "static_field", "database_file"})
#: Names that stand for the key a name is carried by: ``extra:K``, ``pref:K`` (``analysis.store_keys.KEYED``'s
#: symbols, repeated here because the report layer reads only the facts). Limit: a store really named
#: ``extra:K`` or ``pref:K`` (a file name may hold a colon) is shown as one named by that key; the
#: JSON's ``name`` is the same string either way.
_NAMED_BY = frozenset({"extra", "pref"})


def _via(hop: StoreHop, lang: str) -> str:
    """``via storage: sqlite table contacts_cache`` (a hop matched by type only says so)."""
    kind = t(f"via.kind.{hop.kind}", lang) if has(f"via.kind.{hop.kind}", lang) else hop.kind
    source, _, key = (hop.name or "").partition(":")
    if hop.kind in _STORAGE_KINDS and key and source in _NAMED_BY:  # a named symbol, not a value
        what = t(f"via.named_by.{source}", lang, kind=kind, name=key)
    else:
        what = f"{kind} {hop.name}" if hop.name is not None else kind
    line = t("via.storage" if hop.kind in _STORAGE_KINDS else "via.handoff", lang, what=what)
    return f"{line} ({t('via.type_only', lang)})" if hop.matched_by == "type" else line


def _chain(ch: HarvestChain, lang: str, code: CodeNotes) -> ChainView:
    owners = [o for o in (ch.read.owner, ch.sink.owner) if o is not None]
    return ChainView(
        channel=ch.channel,
        channel_label=c.channel_label(ch.channel, lang),
        confirmed=ch.dataflow == "confirmed",
        dataflow=ch.dataflow,
        dataflow_label=t(f"chain.dataflow.{ch.dataflow}", lang),
        read=_evidence(ch.read, lang, code),
        sink=_evidence(ch.sink, lang, code),
        steps=_steps(ch.steps, lang, code, (ch.read, ch.sink)),
        transformers=ch.transformers,
        urls=ch.urls,
        url_sources=tuple((u.url, c.resolved_label(u.how, lang)) for u in ch.url_sources),
        owners=tuple(dict.fromkeys(c.owner_label(o, lang) for o in owners)),
        via=tuple(_via(v, lang) for v in ch.via),
    )


def _startup(p: StartupPath, lang: str, code: CodeNotes) -> StartupView:
    label = c.trigger_label(p.trigger, lang)
    return StartupView(
        trigger_label=label,
        trigger_term=p.trigger if lang == "en" else label,
        entry=p.entry,
        steps=_steps(p.steps, lang, code),
        asks_first=p.asks_permission_first,
    )


def _trigger(p: StartupPath, lang: str, code: CodeNotes) -> TriggerView:
    label = c.trigger_label(p.trigger, lang)
    term = p.trigger if lang == "en" else label
    if p.origin is not None:
        label = t("trigger.by", lang, trigger=label, origin=c.trigger_label(p.origin, lang))
        term = f"{term}<-{p.origin}" if lang == "en" else label
    guard = None
    if p.guard is not None:
        guard = t("trigger.guard_at", lang, call=c.short_value(p.guard.kind, p.guard.value), site=c.site(p.guard))
    return TriggerView(
        trigger=p.trigger,
        label=label,
        term=term,
        entry=p.entry,
        read=c.site(p.read) if p.read is not None else "",
        guard=guard,
        asks_first=p.asks_permission_first,
        steps=_steps(p.steps, lang, code, tuple(e for e in (p.read,) if e is not None)),
    )


def _class(name: str, r: DataClassResult, lang: str, code: CodeNotes) -> ClassView:
    return ClassView(
        name=name,
        label=c.class_label(name, lang),
        level=r.level.value,
        level_label=c.level_label(r.level, lang),
        severity=r.severity,
        severity_label=c.severity_label(r.severity, lang),
        declared=r.declared,
        read=r.read,
        dormant=r.dormant,
        bulk=r.bulk,
        at_startup=r.at_startup,
        reads=c.reads_label(r, lang),
        exfiltrated=r.exfiltrated,
        exfiltrated_labels=tuple(c.channel_label(ch, lang) for ch in r.exfiltrated),
        permissions=r.permissions,
        owners=tuple(c.owner_label(o, lang) for o in r.owners),
        owners_text=c.owners_text(r.owners, lang),
        rule_ids=r.rule_ids,
        accesses=tuple(
            AccessView(
                uri=c.short_value("sget", a.uri),
                how=c.resolved_label(a.how, lang),
                bulk=a.bulk,
                why=t(f"bulk_reason.{a.bulk_reason}", lang),
                site=c.site(a.evidence),
            )
            for a in r.accesses[: c.SHOWN_CHAINS]
        ),
        more_accesses=max(0, len(r.accesses) - c.SHOWN_CHAINS),
        bulk_why=_bulk_why(r, lang),
        writes=tuple(
            t(
                "write.item",
                lang,
                op=t(f"write.{w.operation}", lang),
                uri=c.short_value("sget", w.uri),
                site=c.site(w.evidence),
            )
            for w in r.writes
        ),
        chains=tuple(_chain(ch, lang, code) for ch in r.chains),
        startup_paths=tuple(_startup(p, lang, code) for p in r.startup_paths),
        triggers=tuple(_trigger(p, lang, code) for p in r.triggers),
    )


def _bulk_why(r: DataClassResult, lang: str) -> str:
    """Each bulk reason of the class's queries with its count, bulk (``all_rows``) first, then those of
    its incoming-SMS decodes."""
    counts = Counter(a.bulk_reason for a in r.accesses)
    order = sorted(counts, key=lambda why: (why is not BulkReason.ALL_ROWS, list(BulkReason).index(why)))
    parts = [f"{t(f'bulk_reason.{why}', lang)} ×{counts[why]}" for why in order]
    incoming = Counter(i.reason for i in r.incoming)
    parts += [f"{t(f'incoming.{why}', lang)} ×{incoming[why]}" for why in IncomingReason if why in incoming]
    return "; ".join(parts)


def _query_sites(report: Report) -> dict[tuple[str, str, str], int]:
    """(URI as shown, class, method) -> offset of the provider query reading it there (the read site)."""
    sites: dict[tuple[str, str, str], int] = {}
    for r in report.data_classes.values():
        for a in r.accesses:
            e = a.evidence
            if e.class_name is not None and e.method is not None and e.offset is not None:
                sites.setdefault((c.short_value("sget", a.uri), e.class_name, e.method), e.offset)
    return sites


def _finding(f: Finding, lang: str, code: CodeNotes, reads: Mapping[tuple[str, str, str], int]) -> FindingView:
    return FindingView(
        rule_id=f.rule_id,
        title=f.title,
        message=f.message,
        severity=f.severity,
        severity_label=c.severity_label(f.severity, lang),
        data_class=f.data_class,
        data_class_label=c.class_label(f.data_class, lang),
        dormant=f.dormant,
        suppressed=f.suppressed,
        suppression=f.suppression,
        owners_text=c.owners_text(f.owners, lang),
        evidence=tuple(_evidence(e, lang, code, reads) for e in f.evidence),
        evidence_total=f.evidence_total,
    )


def _violation(v: PolicyViolation, lang: str) -> ViolationView:
    conf = v.confidence if v.confidence in ("V", "P", "U") else "U"
    translated = lang == "zh" and bool(v.paraphrase_zh)
    return ViolationView(
        provision=v.provision,
        instrument=v.instrument,
        article=v.article,
        paraphrase=v.paraphrase_zh if translated and v.paraphrase_zh else v.paraphrase,
        paraphrase_translated=translated,
        source=v.source,
        source_is_link=c.is_web_link(v.source),
        effective=v.effective,
        confidence=v.confidence,
        conf=conf,
        confidence_label=c.confidence_text(v.confidence, lang),
        conf_label=c.confidence_text(conf, lang),
        caveated=conf in c.CAVEATED,
        kind=v.kind,
        kind_label=c.policy_kind(v.kind, lang),
        triggered_by=tuple(c.trigger_text(x, lang) for x in v.triggered_by),
    )


def _pack(p: PolicyResult, lang: str) -> PackView:
    title = t("pol.pack", lang, name=p.name, jurisdiction=p.jurisdiction, id=p.id, version=p.version)
    return PackView(
        id=p.id, version=p.version, title=title, violations=tuple(_violation(v, lang) for v in p.violations)
    )


def _leaves(channel: str, lang: str) -> str:
    key = f"dvf.leaves.{channel}"
    return t(key, lang) if has(key, lang) else c.channel_label(channel, lang)


def _declarations(d: DeclarationReport, lang: str) -> DeclarationsView:
    def words(prefix: str, value: str) -> str:
        return t(f"dvf.{prefix}.{value.replace(' ', '_')}", lang)

    keys = ("col.data_class", "dvf.col.data_safety", "dvf.col.policy", "dvf.col.found", "col.leaves_by")
    return DeclarationsView(
        headers=tuple(t(k, lang) for k in (*keys, "dvf.col.sdks", "dvf.col.contradictions")),
        rows=tuple(
            DeclarationRowView(
                name=k.data_class,
                label=c.class_label(k.data_class, lang),
                declared=words("declared", k.declared),
                policy=words("policy", k.policy),
                found=t(f"level.{k.found}", lang) if has(f"level.{k.found}", lang) else k.found,
                leaves_by=c.join((_leaves(ch, lang) for ch in k.leaves_by), lang) or "-",
                sdks=c.join(k.sent_by_sdks, lang) or "-",
                contradictions=", ".join(k.rule_ids) or "-",
            )
            for k in d.classes
        ),
    )


def _provenance(report: Report, lang: str) -> ProvenanceView:
    app = report.app
    run = report.run
    return ProvenanceView(
        input_path=report.input_path,
        package=app.package or t("unknown", lang),
        label=app.label,
        version=f"{app.version_name or '?'} / {app.version_code or '?'}",
        sdk=f"{app.min_sdk if app.min_sdk is not None else '?'} / "
        f"{app.target_sdk if app.target_sdk is not None else '?'}",
        sha256=app.sha256,
        sha1=app.sha1,
        md5=app.md5,
        size=t("prov.size.bytes", lang, n=app.size),
        signers=app.signer_sha256,
        dex_files=app.dex_files,
        recovered=tuple(c.recovered_text(r, lang) for r in app.recovered),
        application_class=app.application_class,
        launchers=app.launcher_activities,
        tool=f"{report.tool_name} {report.tool_version}",
        ruleset=report.ruleset_sha256,
        options=json.dumps(report.options, sort_keys=True, ensure_ascii=False),
        policies=tuple(f"{p.id} {p.version}" for p in report.policies),
        run=t("prov.run.value", lang, started=run.started_at, seconds=run.duration_s) if run is not None else None,
    )


def build(report: Report, lang: str) -> ReportView:
    """The view of ``report`` in ``lang`` (ValueError for an unsupported language)."""
    check_lang(lang)
    app = report.app
    classes = tuple(_class(name, r, lang, report.code) for name, r in report.data_classes.items())
    by_name = {cv.name: cv for cv in classes}
    n, packs = c.violation_count(report)
    reads = _query_sites(report)
    return ReportView(
        lang=lang,
        tool=f"{report.tool_name} {report.tool_version}",
        package=app.package,
        version=f"{app.version_name or '?'} ({app.version_code or '?'})",
        min_sdk=app.min_sdk,
        target_sdk=app.target_sdk,
        verdict=report.verdict,
        verdict_label=t(f"verdict.{report.verdict.value}", lang),
        verdict_why=t(f"verdict.{report.verdict.value}.why", lang),
        summary=tuple(c.summary_lines(report, lang)),
        violations=n,
        violated_packs=packs,
        classes=classes,
        protected=tuple(by_name[name] for name in c.PROTECTED if name in by_name),
        neighbours=tuple(c.neighbour_rows(report, lang)),
        findings=tuple(_finding(f, lang, report.code, reads) for f in report.findings),
        suppressed=sum(f.suppressed for f in report.findings),
        packs_evaluated=bool(report.policies),
        violated=tuple(_pack(p, lang) for p in report.policies if p.violations),
        clean_packs=tuple(p.id for p in report.policies if not p.violations),
        coverage=report.coverage.status,
        coverage_label=c.coverage_status_text(report.coverage.status, lang),
        reasons=tuple(
            ReasonView(code=r.code, detail=r.detail, explain=c.coverage_reason_text(r.code, lang))
            for r in report.coverage.reasons
        ),
        errors=tuple((e.where, e.message) for e in report.errors),
        provenance=_provenance(report, lang),
        has_code=report.code.asked,
        declarations=_declarations(report.declarations, lang) if report.declarations is not None else None,
    )
