"""Reading a JSON v1 report back into the model: the inverse of :func:`appaudit.report.json_v1.to_dict`.

Keys the schema does not require (added after the first v1 reports) fall back to
the model's defaults, so an older v1 report still reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appaudit.analysis.facts import (
    BulkReason,
    ChainStep,
    HarvestChain,
    IncomingRead,
    IncomingReason,
    ProviderAccess,
    ProviderWrite,
    StartupPath,
    StoreHop,
    UrlSource,
)
from appaudit.model import (
    Channel,
    Confidence,
    CoverageStatus,
    Dataflow,
    Effect,
    Evidence,
    EvidenceKind,
    Level,
    Owner,
    OwnerKind,
    Severity,
    Trigger,
    Verdict,
)
from appaudit.report.json_declarations import declarations_from_dict
from appaudit.report.json_fingerprints import fingerprints_from_dict
from appaudit.report.model import (
    Citation,
    Coverage,
    CoverageReason,
    DataClassResult,
    Finding,
    PolicyResult,
    PolicyViolation,
    ProvisionKind,
    Report,
    RunInfo,
    ScanErrorEntry,
)

if TYPE_CHECKING:
    from appaudit.apk.app import AppInfo


def _owner_from(d: dict[str, Any] | None) -> Owner | None:
    if d is None:
        return None
    return Owner(
        kind=OwnerKind(d["kind"]),
        name=d["name"],
        sdk_id=d.get("sdk_id"),
        vendor=d.get("vendor"),
        category=d.get("category"),
    )


def _owners_from(items: list[dict[str, Any]] | None) -> tuple[Owner, ...]:
    return tuple(o for o in (_owner_from(d) for d in items or ()) if o is not None)


def _evidence_from(d: dict[str, Any]) -> Evidence:
    kind, value, channel = EvidenceKind(d["kind"]), d["value"], None
    if kind == EvidenceKind.SINK and ": " in value:  # JSON v1 packs a sink as "channel: call"
        head, value = value.split(": ", 1)
        channel = Channel(head)
    return Evidence(
        kind=kind,
        value=value,
        channel=channel,
        dex=d.get("dex"),
        class_name=d.get("class"),
        method=d.get("method"),
        offset=d.get("offset"),
        owner=_owner_from(d.get("component")),
    )


def _steps_from(items: list[dict[str, Any]]) -> tuple[ChainStep, ...]:
    return tuple(ChainStep(class_name=s["class"], method=s["method"], offset=s.get("offset")) for s in items)


def _severity_from(label: str | None) -> Severity | None:
    return Severity.parse(label) if label is not None else None


def _trigger_from(name: str, p: dict[str, Any]) -> StartupPath:
    return StartupPath(
        data_class=name,
        trigger=Trigger(p["trigger"]),
        entry=p["entry"],
        steps=_steps_from(p["steps"]),
        asks_permission_first=bool(p.get("asks_permission_first")),
        origin=Trigger(p["origin"]) if p.get("origin") else None,
        read=_evidence_from(p["read"]) if p.get("read") else None,
        guard=_evidence_from(p["guard"]) if p.get("guard") else None,
    )


def _data_class_from(name: str, d: dict[str, Any]) -> DataClassResult:
    return DataClassResult(
        declared=d["declared"],
        permissions=tuple(d.get("permissions") or ()),
        read=d["read"],
        dormant=bool(d.get("dormant")),
        level=Level(d["level"]),
        severity=_severity_from(d.get("severity")),
        rule_ids=tuple(d.get("rule_ids") or ()),
        bulk=bool(d.get("bulk")),
        exfiltrated=tuple(Channel(ch) for ch in d.get("exfiltrated") or ()),
        at_startup=bool(d.get("at_startup")),
        chains=tuple(
            HarvestChain(
                data_class=name,
                channel=Channel(c["channel"]),
                read=_evidence_from(c["read"]),
                steps=_steps_from(c["steps"]),
                sink=_evidence_from(c["sink"]),
                transformers=tuple(c["transformers"]),
                urls=tuple(c["urls"]),
                url_sources=tuple(UrlSource(url=u["url"], how=u["how"]) for u in c.get("url_sources") or ()),
                dataflow=Dataflow(c.get("dataflow", "unconfirmed")),
                via=tuple(
                    StoreHop(kind=v["kind"], name=v.get("name"), matched_by=v["matched_by"]) for v in c.get("via") or ()
                ),
            )
            for c in d.get("chains") or ()
        ),
        startup_paths=tuple(
            StartupPath(
                data_class=name,
                trigger=Trigger(p["trigger"]),
                entry=p["entry"],
                steps=_steps_from(p["steps"]),
                asks_permission_first=bool(p.get("asks_permission_first")),
            )
            for p in d.get("startup_paths") or ()
        ),
        triggers=tuple(_trigger_from(name, p) for p in d.get("triggers") or ()),
        accesses=tuple(
            ProviderAccess(
                data_class=name,
                uri=a["uri"],
                how=a["how"],
                evidence=_evidence_from(a["site"]),
                # reports made before bulk_reason: bulk meant "the cursor is iterated in a loop"
                bulk_reason=BulkReason(a.get("bulk_reason") or ("all_rows" if a["bulk"] else "no_loop")),
            )
            for a in d.get("providers") or ()
        ),
        incoming=tuple(
            IncomingRead(evidence=_evidence_from(i["site"]), reason=IncomingReason(i["reason"]))
            for i in d.get("incoming_sms") or ()
        ),
        writes=tuple(
            ProviderWrite(
                data_class=name,
                uri=w["uri"],
                how=w["how"],
                operation=w["operation"],
                evidence=_evidence_from(w["site"]),
            )
            for w in d.get("provider_writes") or ()
        ),
        owners=_owners_from(d.get("components")),
    )


def finding_from_dict(f: dict[str, Any]) -> Finding:
    """One finding of a JSON v1 report (``findings[i]``) as the model's Finding."""
    evidence = tuple(_evidence_from(e) for e in f["evidence"])
    return Finding(
        rule_id=f["rule_id"],
        title=f.get("title") or f["rule_id"],
        severity=Severity.parse(f["severity"]),
        confidence=Confidence(f["confidence"]),
        data_class=f["data_class"],
        effect=Effect(f.get("effect") or "reads"),
        message=f["message"],
        dormant=bool(f.get("dormant")),
        evidence=evidence,
        evidence_total=f.get("evidence_total", len(evidence)),
        owners=_owners_from(f.get("components")),
        suppression=(f.get("suppression_reason") or "suppressed") if f.get("suppressed") else None,
    )


def _app_from(a: dict[str, Any]) -> AppInfo:
    # Imported here, not at the top: the package appaudit.apk loads androguard, so only a report
    # read back whole pays for it, never a format or a module that merely imports this one.
    from appaudit.apk.app import AppInfo, Component, Manifest, RecoveredPayload

    manifest = Manifest(
        package=a["package"],
        # the JSON has the label as resolved (AppInfo.label), not as the manifest writes it
        label=a.get("label"),
        version_name=a["version_name"],
        version_code=a["version_code"],
        min_sdk=a["min_sdk"],
        target_sdk=a["target_sdk"],
        permissions=tuple(a["permissions"]),
        application_class=a.get("application_class"),
        launcher_activities=tuple(a.get("launcher_activities") or ()),
        components=tuple(
            Component(
                kind=c["kind"],
                name=c["name"],
                exported=c["exported"],
                actions=tuple(c["actions"]),
                categories=tuple(c["categories"]),
                authorities=tuple(c["authorities"]),
                permission=c["permission"],
                priority=c["priority"],
            )
            for c in a.get("components") or ()
        ),
    )
    return AppInfo(
        sha256=a["sha256"],
        sha1=a.get("sha1", ""),
        md5=a.get("md5", ""),
        size=a["size"],
        manifest=manifest,
        label=a.get("label"),
        signer_sha256=tuple(a["signer_sha256"]),
        dex_files=tuple(a.get("dex_files") or ()),
        input_format=a.get("input_format", "apk"),
        splits=tuple(a.get("splits") or ()),
        recovered=tuple(
            RecoveredPayload(
                entry=r["entry"],
                steps=tuple(r["steps"]),
                size=r["size"],
                sha256=r["sha256"],
                dex_files=tuple(r["dex_files"]),
            )
            for r in a.get("recovered_payloads") or ()
        ),
    )


def from_dict(doc: dict[str, Any], input_path: str = "") -> Report:
    """The Report a JSON v1 document (already schema-checked) was written from.

    ``to_dict(from_dict(d)) == d`` for every document :func:`to_dict` writes. The
    JSON leaves out ``AppInfo.zip_entries``, the manifest's label as written and its
    split, notes and incomplete flag, and the rule metadata (``Report.rules``): those
    come back empty (the label as resolved); ``input_path`` is the report file's path if given.
    """
    run = doc.get("run")
    return Report(
        tool_name=doc["tool"]["name"],
        tool_version=doc["tool"]["version"],
        ruleset_sha256=doc["ruleset"]["sha256"],
        app=_app_from(doc["app"]),
        data_classes={name: _data_class_from(name, d) for name, d in doc["data_classes"].items()},
        verdict=Verdict(doc["verdict"]),
        findings=tuple(finding_from_dict(f) for f in doc["findings"]),
        coverage=Coverage(
            status=CoverageStatus(doc["coverage"]["status"]),
            reasons=tuple(CoverageReason(code=r["code"], detail=r["detail"]) for r in doc["coverage"]["reasons"]),
        ),
        errors=tuple(ScanErrorEntry(where=e["where"], message=e["message"]) for e in doc["errors"]),
        policies=tuple(
            PolicyResult(
                id=p["id"],
                name=p["name"],
                jurisdiction=p.get("jurisdiction", ""),
                version=p["version"],
                violations=tuple(
                    PolicyViolation(
                        provision=v["provision"],
                        instrument=v["instrument"],
                        article=v["article"],
                        paraphrase=v.get("paraphrase", ""),
                        paraphrase_zh=v.get("paraphrase_zh"),
                        source=v["source"],
                        effective=v.get("effective", ""),
                        confidence=Citation(v["confidence"]),
                        kind=ProvisionKind(v["kind"]),
                        data_classes=tuple(v["data_classes"]),
                        triggered_by=tuple(v["triggered_by"]),
                    )
                    for v in p["violations"]
                ),
            )
            for p in doc.get("policies") or ()
        ),
        options=dict(doc.get("scan_options") or {}),
        run=RunInfo(started_at=run["started_at"], duration_s=run["duration_s"]) if run is not None else None,
        input_path=input_path,
        fingerprints=fingerprints_from_dict(doc.get("fingerprints")),
        declarations=declarations_from_dict(doc["declarations"]) if doc.get("declarations") is not None else None,
    )
