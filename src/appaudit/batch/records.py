"""What one batch scan produces: a row for the store, built in the worker from a Report.

Records cross process (and, with Dask, machine) boundaries, so they are plain
frozen dataclasses of strings and numbers; the parent only writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from appaudit import __version__
from appaudit.batch.fingerprint_rows import EndpointRow, FingerprintRow, rows_from_report
from appaudit.model import Evidence
from appaudit.report.json_v1 import owner_ref, to_dict
from appaudit.report.model import Finding, Report


class ScanStatus(StrEnum):
    """How the scan of one APK ended."""

    OK = "ok"
    """A report was produced."""
    ERROR = "error"
    """The scan raised: not an APK, unreadable, memory cap reached, internal error."""
    TIMEOUT = "timeout"
    """No result within ``--timeout``: the worker was killed."""
    CRASHED = "crashed"
    """The worker process died (a signal, a hard crash) while scanning this APK."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanTask:
    """One APK to scan, identified by the content hash the parent computed."""

    apk_sha256: str
    path: str
    declarations_dir: str | None = None
    """Where to look for the app's declarations by package (``batch --declarations``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingRow:
    """One evidence location of one finding (a finding without evidence has one row of NULLs)."""

    rule_id: str
    severity: str
    severity_rank: int
    """``Severity`` as an integer (info 0 … critical 4), for ``>=`` in SQL."""
    data_class: str
    effect: str
    dormant: bool
    kind: str | None
    class_name: str | None
    method: str | None
    offset: int | None
    value: str | None
    component: str | None = None
    """Whose code, as :func:`appaudit.report.json_v1.owner_ref` spells it (``first_party``, ``sdk:<id>``,
    ``unknown:<why>``); None for manifest evidence."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataClassRow:
    """The report's answer for one data class."""

    data_class: str
    level: str
    declared: bool
    read: bool
    dormant: bool
    bulk: bool
    exfiltrated: str
    """Channels, comma-separated and sorted (``network,sms``); empty when none."""
    at_startup: bool
    severity: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainRow:
    """One harvest chain: where protected data is read and where it leaves the device."""

    data_class: str
    channel: str
    read_class: str | None
    read_method: str | None
    sink_class: str | None
    sink_method: str | None
    sink: str
    """The sink call or field, in smali notation."""
    urls: str
    """URL strings seen at the sink, as a JSON array."""
    dataflow: str = "unconfirmed"
    """``confirmed`` when the data read was followed along the chain, else ``unconfirmed``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredRow:
    """Code recovered from an encoded or encrypted entry of the APK."""

    entry: str
    steps: str
    """The transforms undone, outermost first, as a JSON array."""
    size: int
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanRecord:
    """Everything the store keeps about one (APK, ruleset) scan."""

    apk_sha256: str
    ruleset_sha256: str
    path: str
    status: ScanStatus
    duration_s: float
    tool_version: str = __version__
    verdict: str | None = None
    max_severity: str | None = None
    max_severity_rank: int | None = None
    package: str | None = None
    version_name: str | None = None
    version_code: str | None = None
    coverage: str | None = None
    error: str | None = None
    report_json: str | None = None
    """The JSON v1 report, compact; None unless status is ``ok``."""
    findings: tuple[FindingRow, ...] = ()
    data_classes: tuple[DataClassRow, ...] = ()
    chains: tuple[ChainRow, ...] = ()
    recovered: tuple[RecoveredRow, ...] = ()
    fingerprints: tuple[FingerprintRow, ...] = ()
    endpoints: tuple[EndpointRow, ...] = ()


def failure_record(
    task: ScanTask, ruleset_sha256: str, status: ScanStatus, error: str, duration_s: float
) -> ScanRecord:
    """The record of a scan that produced no report."""
    return ScanRecord(
        apk_sha256=task.apk_sha256,
        ruleset_sha256=ruleset_sha256,
        path=task.path,
        status=status,
        duration_s=round(duration_s, 3),
        error=error,
    )


def _finding_rows(report: Report) -> tuple[FindingRow, ...]:
    def row(f: Finding, e: Evidence | None) -> FindingRow:
        return FindingRow(
            rule_id=f.rule_id,
            severity=f.severity.label,
            severity_rank=int(f.severity),
            data_class=f.data_class,
            effect=f.effect,
            dormant=f.dormant,
            kind=e.kind if e else None,
            class_name=e.class_name if e else None,
            method=e.method if e else None,
            offset=e.offset if e else None,
            value=e.text if e else None,
            component=owner_ref(e.owner) if e is not None and e.owner is not None else None,
        )

    return tuple(row(f, e) for f in report.findings for e in (f.evidence or (None,)))


def record_from_report(report: Report, task: ScanTask, duration_s: float) -> ScanRecord:
    """The store's record of a successful scan."""
    worst = report.max_severity()
    doc = to_dict(report)
    fingerprints, endpoints = rows_from_report(doc)
    return ScanRecord(
        apk_sha256=task.apk_sha256,
        ruleset_sha256=report.ruleset_sha256,
        path=task.path,
        status=ScanStatus.OK,
        duration_s=round(duration_s, 3),
        tool_version=report.tool_version,
        verdict=report.verdict.value,
        max_severity=worst.label if worst is not None else None,
        max_severity_rank=int(worst) if worst is not None else None,
        package=report.app.package,
        version_name=report.app.version_name,
        version_code=report.app.version_code,
        coverage=report.coverage.status,
        report_json=json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        fingerprints=fingerprints,
        endpoints=endpoints,
        findings=_finding_rows(report),
        data_classes=tuple(
            DataClassRow(
                data_class=name,
                level=r.level.value,
                declared=r.declared,
                read=r.read,
                dormant=r.dormant,
                bulk=r.bulk,
                exfiltrated=",".join(r.exfiltrated),
                at_startup=r.at_startup,
                severity=r.severity.label if r.severity is not None else None,
            )
            for name, r in report.data_classes.items()
        ),
        chains=tuple(
            ChainRow(
                data_class=c.data_class,
                channel=c.channel,
                read_class=c.read.class_name,
                read_method=c.read.method,
                sink_class=c.sink.class_name,
                sink_method=c.sink.method,
                sink=c.sink.value,
                urls=json.dumps(list(c.urls), ensure_ascii=False),
                dataflow=c.dataflow,
            )
            for r in report.data_classes.values()
            for c in r.chains
        ),
        recovered=tuple(
            RecoveredRow(
                entry=p.entry, steps=json.dumps(list(p.steps), ensure_ascii=False), size=p.size, sha256=p.sha256
            )
            for p in report.app.recovered
        ),
    )
