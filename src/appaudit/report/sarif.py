"""SARIF 2.1.0 for code-scanning views (GitHub, GitLab, IDEs); valid against the OASIS schema.

One result per finding, as in the JSON report; a harvest finding (read → sink)
also carries its chains as ``codeFlows`` (the ordered methods). Its locations are the evidence
(at most :data:`MAX_LOCATIONS`; the rest are counted in the message): the APK
as given on the command line is the artifact, and the class and method are
logical locations. ``partialFingerprints["appaudit/v1"]`` is the sha256 of the
rule id and the finding's sorted ``(class, method)`` sites (see
:attr:`appaudit.model.Evidence.site`), never of bytecode offsets or dex names,
so it is the same across runs and across rebuilds of the same code.
Deterministic: no timestamps, nothing from the ``run`` block.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from appaudit.analysis.facts import ChainStep, HarvestChain
from appaudit.model import PROTECTED_CLASSES, Confidence, Evidence, Severity
from appaudit.report.model import CodeNotes, Finding, Report, RuleInfo

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: The project's published home (None until it is published: no host is invented). When set,
#: the driver's informationUri and each bundled rule's helpUri (its docs/rules page) follow.
PROJECT_URL: str | None = None
FINGERPRINT = "appaudit/v1"
#: The base a source file's URI is relative to: the root of the app's source tree (its Java/Kotlin
#: source roots), which only the person running the scan knows (``--with-code`` locations).
SRCROOT = "SRCROOT"
SRCROOT_TEXT = "The root of the app's Java/Kotlin sources (package folders below it), as the DEX names files."
#: Evidence locations listed per result; the rest are counted in the message.
MAX_LOCATIONS = 10

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
_PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}
#: CWE-359: Exposure of Private Personal Information to an Unauthorized Actor.
CWE_PRIVATE_INFORMATION = "external/cwe/cwe-359"


def help_uri(rule_id: str) -> str | None:
    """The rule's documentation page in the repository (``docs/rules/<id>.md``); None while PROJECT_URL is."""
    return f"{PROJECT_URL}/docs/rules/{rule_id}.md" if PROJECT_URL else None


def fingerprint(finding: Finding) -> str:
    """sha256 of the rule id and the finding's sites: stable across runs and identical rebuilds."""
    text = "\n".join([finding.rule_id, *(f"{cls}\t{method}" for cls, method in finding.sites())])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tags(data_class: str, extra: tuple[str, ...]) -> list[str]:
    tags = ["security", "privacy", f"data-class/{data_class}"]
    if data_class in PROTECTED_CLASSES:
        tags.append(CWE_PRIVATE_INFORMATION)
    return tags + [t for t in extra if t not in tags]


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    level = LEVEL[rule.severity]
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": f"{rule.message}\n\n{rule.rationale}", "markdown": rule.help_markdown},
    }
    uri = help_uri(rule.id) if rule.documented else None
    if uri is not None:  # the rule's page is in `help` either way
        descriptor["helpUri"] = uri
    descriptor["defaultConfiguration"] = {"level": level}
    descriptor["properties"] = {
        "security-severity": SECURITY_SEVERITY[rule.severity],
        "problem.severity": _PROBLEM_SEVERITY[level],
        "precision": _PRECISION[rule.confidence],
        "tags": _tags(rule.data_class, rule.tags),
        "data_class": rule.data_class,
    }
    return descriptor


def _rule_from_finding(f: Finding) -> RuleInfo:
    """A descriptor for a finding whose rule the report does not describe (a report built without rules)."""
    return RuleInfo(
        id=f.rule_id,
        name=f.rule_id,
        title=f.title,
        severity=f.severity,
        confidence=f.confidence,
        data_class=f.data_class,
        message=f.message,
        rationale=f.message,
        help_markdown=f"# {f.rule_id}: {f.title}\n\n{f.message}\n",
    )


def _rules(report: Report) -> list[RuleInfo]:
    rules = {r.id: r for r in report.rules}
    for f in report.findings:
        rules.setdefault(f.rule_id, _rule_from_finding(f))
    return [rules[rule_id] for rule_id in sorted(rules)]


def artifact_uri(path: str) -> str:
    """The APK path as given, as a URI reference (only characters a URI cannot hold are escaped)."""
    return quote(path.replace("\\", "/"), safe="/:@!$&'()*+,;=-._~")


def source_uri(class_name: str, source_file: str) -> str:
    """Where the class's source file would sit in its project, relative to ``SRCROOT``: the package's
    folders and the DEX's ``.source`` (``com/example/Harvester.java``), as Java and Kotlin lay them out."""
    package = class_name.rsplit(".", 1)[0].replace(".", "/") if "." in class_name else ""
    name = source_file.replace("\\", "/").rsplit("/", 1)[-1]
    return quote(f"{package}/{name}" if package else name, safe="/:@!$&'()*+,;=-._~")


def _physical(
    code: CodeNotes, dex: str | None, class_name: str | None, method: str | None, offset: int | None, uri: str
) -> dict[str, Any]:
    """The source file and line when the DEX kept them (``--with-code``), with the smali excerpt as the
    region's snippet; else the APK itself."""
    pos = code.position(dex, class_name, method, offset)
    if pos is None or pos.source_file is None or class_name is None:
        return {"artifactLocation": {"uri": uri, "index": 0}}
    artifact = {"uri": source_uri(class_name, pos.source_file), "uriBaseId": SRCROOT}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if pos.line is not None:
        region: dict[str, Any] = {"startLine": pos.line}
        ex = code.excerpt(dex, class_name, method, offset)
        if ex is not None:
            region["snippet"] = {"text": ex.render_text()}
        physical["region"] = region
    return physical


def _location(e: Evidence, index: int, uri: str, code: CodeNotes) -> dict[str, Any]:
    location: dict[str, Any] = {
        "id": index,
        "physicalLocation": _physical(code, e.dex, e.class_name, e.method, e.offset, uri),
    }
    properties: dict[str, Any] = {"kind": e.kind, "value": e.text}
    if e.class_name is not None:
        method = e.method or ""
        location["logicalLocations"] = [
            {"name": e.class_name.rsplit(".", 1)[-1], "fullyQualifiedName": e.class_name, "kind": "type"},
            {"name": method.split("(", 1)[0], "fullyQualifiedName": f"{e.class_name}.{method}", "kind": "function"},
        ]
        where = f"{e.class_name}.{method.split('(', 1)[0]}() +{e.offset} [{e.dex}]"
        location["message"] = {"text": f"{e.kind} {e.text} in {where}"}
        properties |= {"dex": e.dex, "offset": e.offset}
    else:
        location["message"] = {"text": f"{e.kind}: {e.text}"}
    location["properties"] = properties
    return location


def _code_flow(chain: HarvestChain, uri: str, code: CodeNotes) -> dict[str, Any]:
    """A harvest chain as a SARIF code flow: the read's method first, the sink's method last."""
    locations = []
    for i, step in enumerate(chain.steps):
        name = step.method.split("(", 1)[0]
        location: dict[str, Any] = {
            "physicalLocation": _step_physical(chain, step, uri, code),
            "logicalLocations": [
                {"name": name, "fullyQualifiedName": f"{step.class_name}.{step.method}", "kind": "function"}
            ],
            "message": {"text": f"{step.class_name}.{name}() +{step.offset}"},
        }
        locations.append({"location": location, "executionOrder": i + 1})
    flow = "the data read was followed along it" if chain.dataflow == "confirmed" else "linked by calls only"
    return {
        "message": {"text": f"{chain.data_class} -> {chain.channel} ({flow})"},
        "threadFlows": [{"locations": locations}],
        "properties": {
            "channel": chain.channel,
            "dataflow": chain.dataflow,
            # the storage and named hand-offs on the way, only when there are some (as in the JSON report)
            **(
                {"via": [{"kind": v.kind, "name": v.name, "matched_by": v.matched_by} for v in chain.via]}
                if chain.via
                else {}
            ),
        },
    }


def _step_physical(chain: HarvestChain, step: ChainStep, uri: str, code: CodeNotes) -> dict[str, Any]:
    """A step's location; the read's and the sink's own when the step is theirs (their excerpts carry the note)."""
    for e in (chain.read, chain.sink):
        if (e.class_name, e.method, e.offset) == (step.class_name, step.method, step.offset):
            return _physical(code, e.dex, e.class_name, e.method, e.offset, uri)
    return _physical(code, None, step.class_name, step.method, step.offset, uri)


def _result(
    f: Finding, rule_index: int, uri: str, code: CodeNotes, chains: tuple[HarvestChain, ...] = ()
) -> dict[str, Any]:
    shown = f.evidence[:MAX_LOCATIONS]
    hidden = max(f.evidence_total, len(f.evidence)) - len(shown)
    text = f.message
    if hidden:
        text += f" ({hidden} more location{'s' if hidden != 1 else ''} not listed here; the JSON report has more.)"
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[f.severity],
        "message": {"text": text},
        "locations": [_location(e, i, uri, code) for i, e in enumerate(shown)]
        or [{"physicalLocation": {"artifactLocation": {"uri": uri, "index": 0}}}],
        "partialFingerprints": {FINGERPRINT: fingerprint(f)},
    }
    if chains:
        result["codeFlows"] = [_code_flow(c, uri, code) for c in chains]
    if f.suppression is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.suppression}]
    result["properties"] = {
        "severity": f.severity.label,
        "security-severity": SECURITY_SEVERITY[f.severity],
        "confidence": f.confidence.value,
        "data_class": f.data_class,
        "effect": f.effect,
        "dormant": f.dormant,
        "evidence_total": f.evidence_total,
    }
    return result


def _chains_of(f: Finding, report: Report) -> tuple[HarvestChain, ...]:
    """The chains behind a harvest finding: those of its data class to the channels its sinks name."""
    channels = {e.channel for e in f.evidence if e.channel is not None}
    if not channels or f.data_class not in report.data_classes:
        return ()
    return tuple(c for c in report.data_classes[f.data_class].chains if c.channel in channels)


def to_dict(report: Report) -> dict[str, Any]:
    """The SARIF log as plain data."""
    app = report.app
    uri = artifact_uri(report.input_path or f"{app.sha256}.apk")
    rules = _rules(report)
    index = {r.id: i for i, r in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": report.tool_name,
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                **({"informationUri": PROJECT_URL} if PROJECT_URL else {}),
                "rules": [_rule_descriptor(r) for r in rules],
            }
        },
        "automationDetails": {"id": f"{report.tool_name}/{app.package or app.sha256}/"},
        # only with --with-code, so that other logs keep their bytes
        **({"originalUriBaseIds": {SRCROOT: {"description": {"text": SRCROOT_TEXT}}}} if report.code.positions else {}),
        "artifacts": [
            {
                "location": {"uri": uri},
                "length": app.size,
                "mimeType": "application/vnd.android.package-archive",
                "hashes": {"sha-256": app.sha256, "sha-1": app.sha1, "md5": app.md5},
                "roles": ["analysisTarget"],
            }
        ],
        "results": [_result(f, index[f.rule_id], uri, report.code, _chains_of(f, report)) for f in report.findings],
        "properties": {
            "ruleset_sha256": report.ruleset_sha256,
            "package": app.package,
            "version_name": app.version_name,
            "version_code": app.version_code,
            "verdict": report.verdict.value,
            "coverage": report.coverage.status,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report, *, color: bool = False, lang: str = "en") -> str:
    """The SARIF text (``color`` is ignored)."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
