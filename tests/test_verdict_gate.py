"""When part of the code is hidden: `inconclusive` only where hidden code could reach protected data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import fixture_apk


@pytest.fixture(scope="module")
def benign():  # type: ignore[no-untyped-def]
    from appaudit.api import scan

    return scan(fixture_apk("benign"))


@pytest.mark.parametrize(
    ("permissions", "target_sdk", "granted"),
    [
        (("android.permission.INTERNET",), 30, set()),
        (("android.permission.READ_CONTACTS",), 30, {"contacts"}),
        # Android grants READ_CALL_LOG with READ_CONTACTS below SDK 16 (rules/split_permissions.yaml).
        (("android.permission.READ_CONTACTS",), 15, {"contacts", "call_log"}),
        (("android.permission.RECEIVE_SMS",), 30, {"sms"}),
        (("android.permission.PROCESS_OUTGOING_CALLS",), 30, {"call_log"}),
        (("android.permission.WRITE_CONTACTS", "android.permission.CAMERA"), 30, set()),
    ],
)
def test_granted_protected_classes(benign, permissions, target_sdk, granted) -> None:  # type: ignore[no-untyped-def]
    from appaudit.analysis.verdict import granted_protected_classes
    from appaudit.ruleset import load_ruleset

    app = replace(benign.app, manifest=replace(benign.app.manifest, permissions=permissions, target_sdk=target_sdk))
    assert granted_protected_classes(app, load_ruleset()) == frozenset(granted)


@pytest.mark.parametrize(
    ("reasons", "granted", "verdict"),
    [
        ((), frozenset(), "no_evidence"),
        ((("native_code", "x"),), frozenset(), "no_evidence"),
        ((("native_code", "x"),), frozenset({"sms"}), "inconclusive"),
        # An unreadable manifest makes the permissions themselves uncertain.
        ((("manifest_unreadable", "x"),), frozenset(), "inconclusive"),
    ],
)
def test_verdict_follows_what_was_seen_when_nothing_hidden_can_reach(benign, reasons, granted, verdict) -> None:  # type: ignore[no-untyped-def]
    from appaudit.analysis.verdict import coverage_from, overall_verdict
    from appaudit.report.model import CoverageReason

    coverage = coverage_from([CoverageReason(code=c, detail=d) for c, d in reasons], dex_count=1)
    assert overall_verdict(benign.data_classes, coverage, granted=granted).value == verdict


def test_partial_dormant_code_without_permission_is_dormant_code() -> None:
    from appaudit.analysis.verdict import coverage_from, overall_verdict
    from appaudit.api import scan
    from appaudit.report.model import CoverageReason

    dormant = scan(fixture_apk("dormant_contacts"))
    coverage = coverage_from([CoverageReason(code="dynamic_code_loading", detail="x")], dex_count=1)
    assert overall_verdict(dormant.data_classes, coverage, granted=frozenset()).value == "dormant_code"


@pytest.mark.parametrize("fail_on", ["info", "medium", "critical"])
def test_closing_line_fits_80_columns(fail_on: str) -> None:
    """The closing line of every fixture's scan, at every threshold, fits an 80-column terminal; an
    inconclusive one, which must also name its opt-out, is the one kept longer (one line, for CI logs)."""
    from appaudit.api import scan
    from appaudit.gate import Gate, batch_gate, scan_gate
    from appaudit.model import Severity
    from conftest import ALL_FIXTURES

    gate = Gate(fail_on=Severity.parse(fail_on))
    reports = [scan(fixture_apk(name)) for name in ALL_FIXTURES]
    lines = {scan_gate(r, gate).line for r in reports if r.verdict != "inconclusive"}
    lines.add(batch_gate([(r.verdict.value, 4) for r in reports if r.verdict != "inconclusive"], gate).line)
    assert {line for line in lines if len(line) > 80} == set()
