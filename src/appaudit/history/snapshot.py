"""What one version of an app looked like: from a fresh scan or from an earlier JSON report.

Diffs and baselines compare versions through this one shape, so an APK and a
saved report of it are interchangeable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from appaudit.errors import InputError
from appaudit.report.json_v1_read import from_dict
from appaudit.report.model import Finding, Report
from appaudit.resources import schema_path


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The facts of one scanned version that diffs and baselines compare."""

    source: str
    """The path as given (an APK or a JSON report)."""
    sha256: str
    """The APK's sha256."""
    package: str | None
    version_name: str | None
    version_code: str | None
    verdict: str
    permissions: tuple[str, ...]
    levels: tuple[tuple[str, str], ...]
    """(data class, level) in report order."""
    findings: tuple[Finding, ...]
    sdks: tuple[str, ...] = ()
    """Names of the SDKs whose code the findings are in, sorted."""
    violations: tuple[str, ...] = ()
    """Violated provisions as ``pack: provision``, sorted."""

    @classmethod
    def from_report(cls, report: Report, source: str | None = None) -> Snapshot:
        app = report.app
        return cls(
            source=report.input_path if source is None else source,
            sha256=app.sha256,
            package=app.package,
            version_name=app.version_name,
            version_code=app.version_code,
            verdict=report.verdict.value,
            permissions=app.permissions,
            levels=tuple((name, r.level.value) for name, r in report.data_classes.items()),
            findings=report.findings,
            sdks=tuple(sorted({o.name for f in report.findings for o in f.owners if o.kind == "sdk"})),
            violations=tuple(sorted(f"{p.id}: {v.provision}" for p in report.policies for v in p.violations)),
        )

    @classmethod
    def from_document(cls, doc: dict[str, Any], source: str) -> Snapshot:
        """From a JSON v1 report already checked by :func:`read_report_document` (read as the Report it was)."""
        return cls.from_report(from_dict(doc), source)


@cache
def _report_validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path("report-v1.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def looks_like_json(path: str) -> bool:
    """The file's first non-blank byte opens a JSON object (an APK starts with ``PK``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return head.lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"{")


def check_report_document(doc: Any, source: str) -> dict[str, Any]:
    """``doc`` if it is a JSON v1 report, else InputError naming the first bad key."""
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError(source, "not an APK or an appaudit JSON report")
    if doc["schema_version"] != "1":
        raise InputError(source, f"JSON report schema_version {doc['schema_version']!r} is not supported (need '1')")
    errors = sorted(_report_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        key = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise InputError(source, f"not a valid appaudit JSON report: {key}: {errors[0].message}")
    return doc


def read_report_document(path: str) -> dict[str, Any]:
    """Read and check a JSON v1 report (InputError when it is unreadable or not a report)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(path, "no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: line {exc.lineno}: {exc.msg}") from exc
    return check_report_document(doc, path)
