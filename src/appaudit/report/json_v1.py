"""JSON report, schema version 1 (schemas/report-v1.schema.json), written and read.

The JSON is kept apart from the internal model: this module is the contract,
one :func:`to_dict` here and its inverse ``from_dict`` in :mod:`appaudit.report.json_v1_read`,
which history (diffs, baselines) and the batch store reuse, so every field, owners
included, is spelled one way.
Everything outside ``run`` is deterministic for the same APK and rules.
"""

from __future__ import annotations

import json
from typing import Any

from appaudit.analysis.facts import ChainStep, HarvestChain, StartupPath
from appaudit.apk.dex.types import Excerpt
from appaudit.model import Evidence, EvidenceKind, Owner
from appaudit.report.json_declarations import declarations_dict
from appaudit.report.json_fingerprints import fingerprints_dict
from appaudit.report.model import CodeNotes, DataClassResult, Finding, Report

SCHEMA_VERSION = "1"


def _owner(o: Owner) -> dict[str, Any]:
    return {"kind": o.kind, "name": o.name, "sdk_id": o.sdk_id, "vendor": o.vendor, "category": o.category}


def owner_ref(o: Owner) -> str:
    """The owner as one short string (the batch store's ``component`` column, an index key).

    ``first_party``, ``sdk:<sdk_id>`` or ``unknown:<why>``: derived from the same
    fields the JSON ``component`` object carries, and the only place that spells it.
    """
    if o.kind == "sdk":
        return f"sdk:{o.sdk_id}"
    return "first_party" if o.kind == "first_party" else f"unknown:{o.name}"


def excerpt_dict(ex: Excerpt) -> dict[str, Any]:
    """An excerpt as the JSON ``code`` field carries it (docs/report-schema.md)."""
    return {
        "marked": ex.marked,
        "has_line_numbers": ex.has_line_numbers,
        "more_before": ex.more_before,
        "more_after": ex.more_after,
        "lines": [
            {"offset": ln.offset, "kind": ln.kind, "text": ln.text, "comment": ln.comment, "line": ln.line}
            for ln in ex.lines
        ],
    }


def _code_fields(
    code: CodeNotes, dex: str | None, class_name: str | None, method: str | None, offset: int | None
) -> dict[str, Any]:
    """``source_file``, ``line`` and ``code`` of a code location, only in a report scanned with code
    (null where unknown), so that other reports keep their exact bytes."""
    if not code.asked or class_name is None or method is None:
        return {}
    pos = code.position(dex, class_name, method, offset)
    ex = code.excerpt(dex, class_name, method, offset)
    return {
        "source_file": pos.source_file if pos is not None else None,
        "line": pos.line if pos is not None else None,
        "code": excerpt_dict(ex) if ex is not None else None,
    }


def _evidence(e: Evidence, code: CodeNotes) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "dex": e.dex,
        "class": e.class_name,
        "method": e.method,
        "offset": e.offset,
        "value": e.text,  # a sink's channel and call, packed as JSON v1 has always spelled them
        "component": _owner(e.owner) if e.owner is not None else None,
        **(_code_fields(code, e.dex, e.class_name, e.method, e.offset) if e.kind != EvidenceKind.TEXT else {}),
    }


def _steps(steps: tuple[ChainStep, ...], code: CodeNotes) -> list[dict[str, Any]]:
    return [
        {
            "class": s.class_name,
            "method": s.method,
            "offset": s.offset,
            **_code_fields(code, None, s.class_name, s.method, s.offset),
        }
        for s in steps
    ]


def _chain(c: HarvestChain, code: CodeNotes) -> dict[str, Any]:
    out: dict[str, Any] = {
        "channel": c.channel,
        "read": _evidence(c.read, code),
        "steps": _steps(c.steps, code),
        "sink": _evidence(c.sink, code),
        "transformers": list(c.transformers),
        "urls": list(c.urls),
        "dataflow": c.dataflow,
        "via": [{"kind": v.kind, "name": v.name, "matched_by": v.matched_by} for v in c.via],
    }
    if c.url_sources:  # only when a URL came from elsewhere, so other reports keep their bytes
        out["url_sources"] = [{"url": u.url, "how": u.how} for u in c.url_sources]
    return out


def _trigger(p: StartupPath, code: CodeNotes) -> dict[str, Any]:
    return {
        "trigger": p.trigger,
        "origin": p.origin,
        "entry": p.entry,
        "read": _evidence(p.read, code) if p.read is not None else None,
        "steps": _steps(p.steps, code),
        "asks_permission_first": p.asks_permission_first,
        "guard": _evidence(p.guard, code) if p.guard is not None else None,
    }


def _data_class(r: DataClassResult, code: CodeNotes) -> dict[str, Any]:
    return {
        "declared": r.declared,
        "permissions": list(r.permissions),
        "read": r.read,
        "dormant": r.dormant,
        "bulk": r.bulk,
        "exfiltrated": list(r.exfiltrated),
        "at_startup": r.at_startup,
        "level": r.level.value,
        "severity": r.severity.label if r.severity is not None else None,
        "rule_ids": list(r.rule_ids),
        "components": [_owner(o) for o in r.owners],
        "providers": [
            {
                "uri": a.uri,
                "how": a.how,
                "bulk": a.bulk,
                "bulk_reason": a.bulk_reason.value,
                "site": _evidence(a.evidence, code),
            }
            for a in r.accesses
        ],
        "incoming_sms": [
            {"bulk": i.bulk, "reason": i.reason.value, "site": _evidence(i.evidence, code)} for i in r.incoming
        ],
        "provider_writes": [
            {"uri": w.uri, "how": w.how, "operation": w.operation, "site": _evidence(w.evidence, code)}
            for w in r.writes
        ],
        "chains": [_chain(c, code) for c in r.chains],
        "startup_paths": [
            {
                "trigger": p.trigger,
                "entry": p.entry,
                "steps": _steps(p.steps, code),
                "asks_permission_first": p.asks_permission_first,
            }
            for p in r.startup_paths
        ],
        "triggers": [_trigger(p, code) for p in r.triggers],
    }


def _finding(f: Finding, code: CodeNotes) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "title": f.title,
        "severity": f.severity.label,
        "confidence": f.confidence.value,
        "data_class": f.data_class,
        "effect": f.effect,
        "dormant": f.dormant,
        "message": f.message,
        "evidence": [_evidence(e, code) for e in f.evidence],
        "evidence_total": f.evidence_total,
        "components": [_owner(o) for o in f.owners],
        "suppressed": f.suppressed,
        "suppression_reason": f.suppression,
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON v1 document as plain data."""
    app = report.app
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": report.tool_name, "version": report.tool_version},
        "ruleset": {"sha256": report.ruleset_sha256},
        "scan_options": report.options,
        "app": {
            "sha256": app.sha256,
            "sha1": app.sha1,
            "md5": app.md5,
            "size": app.size,
            "package": app.package,
            "label": app.label,
            "version_name": app.version_name,
            "version_code": app.version_code,
            "min_sdk": app.min_sdk,
            "target_sdk": app.target_sdk,
            "permissions": list(app.permissions),
            "signer_sha256": list(app.signer_sha256),
            "application_class": app.application_class,
            "launcher_activities": list(app.launcher_activities),
            "components": [
                {
                    "kind": c.kind,
                    "name": c.name,
                    "exported": c.exported,
                    "actions": list(c.actions),
                    "categories": list(c.categories),
                    "authorities": list(c.authorities),
                    "permission": c.permission,
                    "priority": c.priority,
                }
                for c in app.components
            ],
            "dex_files": list(app.dex_files),
            "input_format": app.input_format,
            "splits": list(app.splits),
            "recovered_payloads": [
                {
                    "entry": r.entry,
                    "steps": list(r.steps),
                    "size": r.size,
                    "sha256": r.sha256,
                    "dex_files": list(r.dex_files),
                }
                for r in app.recovered
            ],
        },
        "data_classes": {name: _data_class(r, report.code) for name, r in report.data_classes.items()},
        "verdict": report.verdict.value,
        "findings": [_finding(f, report.code) for f in report.findings],
        "coverage": {
            "status": report.coverage.status,
            "reasons": [{"code": r.code, "detail": r.detail} for r in report.coverage.reasons],
        },
        "policies": [
            {
                "id": p.id,
                "name": p.name,
                "jurisdiction": p.jurisdiction,
                "version": p.version,
                "violations": [
                    {
                        "provision": v.provision,
                        "instrument": v.instrument,
                        "article": v.article,
                        "paraphrase": v.paraphrase,
                        "paraphrase_zh": v.paraphrase_zh,
                        "source": v.source,
                        "effective": v.effective,
                        "confidence": v.confidence,
                        "kind": v.kind,
                        "data_classes": list(v.data_classes),
                        "triggered_by": list(v.triggered_by),
                    }
                    for v in p.violations
                ],
            }
            for p in report.policies
        ],
        # only when a declaration was given, so other reports keep their exact bytes
        **({"declarations": declarations_dict(report.declarations)} if report.declarations is not None else {}),
        "errors": [{"where": e.where, "message": e.message} for e in report.errors],
        "fingerprints": fingerprints_dict(report.fingerprints),
        # only with --with-code: how many excerpts the report carries and whether the cap cut them
        **(
            {"code": {"excerpts": len(report.code.excerpts), "truncated": report.code.truncated}}
            if report.code.asked
            else {}
        ),
        "run": (
            {"started_at": report.run.started_at, "duration_s": report.run.duration_s}
            if report.run is not None
            else None
        ),
    }


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The JSON text (``color`` and ``lang`` are ignored: JSON is never coloured, its keys stay English)."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
