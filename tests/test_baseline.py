"""Baselines: only new findings gate; accepted ones stay in the report, marked suppressed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from appaudit.api import ScanOptions, scan
from appaudit.errors import ConfigError
from appaudit.history.baseline import (
    Baseline,
    Suppression,
    baseline_from_snapshot,
    load_baseline,
    render_baseline,
)
from appaudit.history.snapshot import Snapshot
from appaudit.report import render
from conftest import fixture_apk, report_schema_validator, run_cli

H = "com.example.fixture.Harvester"
HARVEST = "harvest(Landroid/content/Context;)Ljava/lang/String;"
SITE = (H, HARVEST)


def _make_baseline(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    out = tmp_path / f"{name}.baseline.yaml"
    res = run_cli(["baseline", fixture_apk(name), "-o", str(out), *extra], capsys)
    assert (res.code, res.out, res.err) == (0, "", "")
    return out


# --- the gate, end to end -------------------------------------------------------------------


def test_new_harvest_fails_the_gate_unchanged_version_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # v1 only declares the permissions; v2 (contacts_const) adds a contacts harvest.
    # The two fixtures have different package names, so this baseline opts out of pinning.
    v1 = _make_baseline("permission_only", tmp_path, capsys, "--any-package")
    assert (
        run_cli(["scan", fixture_apk("permission_only"), "--baseline", str(v1), "--fail-on", "info"], capsys).code == 0
    )
    res = run_cli(["scan", fixture_apk("contacts_const"), "--baseline", str(v1), "-f", "json"], capsys)
    assert res.code == 1
    suppressed = {f["rule_id"]: f["suppressed"] for f in json.loads(res.out)["findings"]}
    assert suppressed == {
        "AA-CON-001": True,  # READ_CONTACTS was already declared in v1
        "AA-CON-002": False,
        "AA-CON-010": False,
        "AA-CON-011": False,
        "AA-CON-012": False,
        "AA-CON-013": False,
    }


def test_baseline_of_contacts_const_passes_it_and_its_rebuild(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = _make_baseline("contacts_const", tmp_path, capsys, "--any-package")
    assert run_cli(["scan", fixture_apk("contacts_const")], capsys).code == 1
    # signed.apk: same DEX, rebuilt and signed (under another package name, hence --any-package)
    for name in ("contacts_const", "signed"):
        res = run_cli(["scan", fixture_apk(name), "--baseline", str(base), "--fail-on", "info"], capsys)
        assert (res.code, res.err) == (0, ""), name
        assert "Findings (6, 6 suppressed)" in res.out
    # a different harvest (a helper class) is new
    assert run_cli(["scan", fixture_apk("chain_helper_class"), "--baseline", str(base)], capsys).code == 1


def test_earlier_json_report_is_a_baseline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", f"json:{old}"], capsys).code == 1
    res = run_cli(["scan", fixture_apk("contacts_const"), "--baseline", str(old), "-f", "json"], capsys)
    assert (res.code, res.err) == (0, "")
    doc = json.loads(res.out)
    report_schema_validator().validate(doc)
    sha = json.loads(old.read_text())["app"]["sha256"]
    assert {(f["suppressed"], f["suppression_reason"]) for f in doc["findings"]} == {
        (True, f"in the baseline report of {sha}")
    }
    assert run_cli(["scan", fixture_apk("sms_inbox"), "--baseline", str(old)], capsys).code == 1


def test_baselines_are_pinned_to_the_package_by_default(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = _make_baseline("contacts_const", tmp_path, capsys)
    entries = load_baseline(base).suppressions
    assert {s.package for s in entries} == {"com.example.fixture.contacts_const"}
    assert run_cli(["scan", fixture_apk("contacts_const"), "--baseline", str(base)], capsys).code == 0
    res = run_cli(["scan", fixture_apk("signed"), "--baseline", str(base)], capsys)
    assert res.code == 1
    assert res.err == (
        f"appaudit: warning: baseline {base} is for package com.example.fixture.contacts_const, "
        "not com.example.fixture.signed: its entries for that package suppress nothing here\n"
    )
    assert "Findings (6)" in res.out


def test_earlier_report_of_another_package_suppresses_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = tmp_path / "old.json"
    assert run_cli(["scan", fixture_apk("contacts_const"), "-f", f"json:{old}"], capsys).code == 1
    res = run_cli(["scan", fixture_apk("signed"), "--baseline", str(old), "-f", "json"], capsys)
    assert res.code == 1
    assert not any(f["suppressed"] for f in json.loads(res.out)["findings"])
    assert res.err.startswith(f"appaudit: warning: baseline {old} is for package com.example.fixture.contacts_const")


def test_any_package_and_the_deprecated_pin_package(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    anywhere = _make_baseline("contacts_const", tmp_path, capsys, "--any-package")
    assert {s.package for s in load_baseline(anywhere).suppressions} == {None}
    res = run_cli(["baseline", fixture_apk("contacts_const"), "--pin-package"], capsys)
    assert res.code == 0
    assert res.err == (
        "appaudit: warning: --pin-package is deprecated: entries are pinned to the package by default "
        "(--any-package to opt out)\n"
    )
    assert res.out == run_cli(["baseline", fixture_apk("contacts_const")], capsys).out
    assert run_cli(["baseline", fixture_apk("benign"), "--pin-package", "--any-package"], capsys).code == 2


def test_sarif_carries_the_suppressions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = _make_baseline("permission_only", tmp_path, capsys, "--any-package")
    res = run_cli(["scan", fixture_apk("contacts_const"), "--baseline", str(base), "-f", "sarif"], capsys)
    results = {r["ruleId"]: r for r in json.loads(res.out)["runs"][0]["results"]}
    sha = scan(fixture_apk("permission_only")).app.sha256
    assert results["AA-CON-001"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": f"baseline of {sha}"}
    ]
    assert "suppressions" not in results["AA-CON-002"]


# --- the baseline file ------------------------------------------------------------------------


def test_generated_baseline_is_exact_and_deterministic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first = _make_baseline("sms_receiver", tmp_path, capsys).read_text()
    res = run_cli(["baseline", fixture_apk("sms_receiver")], capsys)
    assert res.out == first
    sha = scan(fixture_apk("sms_receiver")).app.sha256
    doc = load_baseline(tmp_path / "sms_receiver.baseline.yaml")
    assert {s.reason for s in doc.suppressions} == {f"baseline of {sha}"}
    entries = [(s.rule_id, s.class_name, s.method, s.evidence) for s in doc.suppressions]
    assert entries == sorted(entries, key=lambda e: tuple(x or "" for x in e))
    assert ("AA-SMS-001", None, None, "permission: android.permission.RECEIVE_SMS") in entries
    assert any(e[0] == "AA-SMS-004" and e[1] == "com.example.fixture.SmsReceiver" for e in entries)


def test_json_output_when_file_ends_in_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    assert run_cli(["baseline", fixture_apk("contacts_const"), "-o", str(out)], capsys).code == 0
    doc = json.loads(out.read_text())
    assert doc["version"] == 1 and doc["suppressions"][0]["rule_id"] == "AA-CON-001"
    yaml_file = _make_baseline("contacts_const", tmp_path, capsys)
    assert load_baseline(out).suppressions == load_baseline(yaml_file).suppressions


def test_hand_written_entries(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        "suppressions:\n"
        "  - rule_id: AA-CON-002\n    class: com.example.fixture.Harvester\n    method: harvest\n"
        "    reason: reviewed, ticket 12\n"
        "  - rule_id: AA-CON-012\n    reason: bulk read accepted everywhere\n"
    )
    report = scan(fixture_apk("contacts_const"), ScanOptions(baseline=load_baseline(f)))
    reasons = {x.rule_id: x.suppression for x in report.findings}
    assert reasons["AA-CON-002"] == "reviewed, ticket 12"  # bare method name matches any overload
    assert reasons["AA-CON-012"] == "bulk read accepted everywhere"
    assert reasons["AA-CON-010"] is None
    assert report.max_severity() is not None and report.gating_severity() == report.max_severity()


def test_every_site_must_be_covered() -> None:
    report = scan(fixture_apk("contacts_const"))
    harvest = next(f for f in report.findings if f.rule_id == "AA-CON-010")
    assert harvest.sites() == (SITE, ("com.example.fixture.Uploader", "upload(Ljava/lang/String;)V"))
    only_read = Baseline(suppressions=(Suppression(rule_id="AA-CON-010", reason="r", class_name=H),))
    assert only_read.reason_for(harvest, report.app.package) is None
    both = Baseline(
        suppressions=(
            Suppression(rule_id="AA-CON-010", reason="read ok", class_name=H, method=HARVEST),
            Suppression(rule_id="AA-CON-010", reason="sink ok", class_name="com.example.fixture.Uploader"),
        )
    )
    assert both.reason_for(harvest, report.app.package) == "read ok; sink ok"
    other_pkg = Baseline(suppressions=(Suppression(rule_id="AA-CON-010", reason="r", package="com.other"),))
    assert other_pkg.reason_for(harvest, report.app.package) is None


def test_suppressed_findings_do_not_gate_but_are_reported() -> None:
    report = scan(fixture_apk("contacts_const"))
    snapshot = Snapshot.from_report(report)
    accepted = scan(fixture_apk("contacts_const"), ScanOptions(baseline=baseline_from_snapshot(snapshot)))
    assert len(accepted.findings) == len(report.findings)
    # the same findings, each made once with its suppression
    assert [replace(f, suppression=None) for f in accepted.findings] == list(report.findings)
    assert accepted.gating_severity() is None and accepted.max_severity() == report.max_severity()
    text = render(accepted, "text")
    assert text.count("(suppressed)") == len(report.findings)
    assert text.count(f"         suppressed: baseline of\n         {report.app.sha256}\n") == len(report.findings)
    assert f"Findings ({len(report.findings)}, {len(report.findings)} suppressed)" in text


def test_render_round_trip(tmp_path: Path) -> None:
    base = baseline_from_snapshot(Snapshot.from_report(scan(fixture_apk("neighbours"))))
    for fmt, name in (("yaml", "b.yaml"), ("json", "b.json")):
        (tmp_path / name).write_text(render_baseline(base, fmt=fmt))
        assert load_baseline(tmp_path / name).suppressions == base.suppressions


# --- invalid baselines: exit 4, naming file and key -------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suppressions:\n  - rule_id: AA-CON-001\n", "suppressions.0: 'reason' is a required property"),
        ("suppressions:\n  - rule_id: AA-CON-001\n    reason: '  '\n", "suppressions.0.reason: '  ' does not match"),
        ("suppressions:\n  - rule_id: nope\n    reason: x\n", "suppressions.0.rule_id: 'nope' does not match"),
        (
            "suppressions:\n  - rule_id: AA-CON-001\n    method: m\n    reason: x\n",
            "suppressions.0: 'class' is a dependency of 'method'",
        ),
        ("version: 1\n", "(top level): 'suppressions' is a required property"),
        (
            "suppressions: []\nrules: []\n",
            "(top level): Additional properties are not allowed ('rules' was unexpected)",
        ),
        ("suppressions: [\n", "line 2: invalid YAML"),
        ('{"suppressions": [}', "line 1: invalid JSON"),
        ('{"schema_version": "1", "findings": []}', "not a valid appaudit JSON report: (top level):"),
    ],
)
def test_invalid_baseline_exit_4(text: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_baseline(bad)
    assert str(exc.value).startswith(f"{bad}: ") and message in str(exc.value)
    res = run_cli(["scan", fixture_apk("benign"), "--baseline", str(bad)], capsys)
    assert res.code == 4 and res.err == f"appaudit: error: {exc.value}\n"


def test_missing_baseline_exit_4(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    res = run_cli(["scan", fixture_apk("benign"), "--baseline", str(tmp_path / "nope.yaml")], capsys)
    assert (res.code, res.err) == (
        4,
        f"appaudit: error: {tmp_path / 'nope.yaml'}: cannot read --baseline: No such file or directory\n",
    )


def test_baseline_command_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(["baseline", str(tmp_path / "nope.apk")], capsys).code == 3
    assert run_cli(["baseline"], capsys).code == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli(["baseline", fixture_apk("benign"), "-o", str(blocker / "b.yaml")], capsys)
    assert res.code == 4 and "cannot write" in res.err


def test_readme_example_is_a_valid_baseline(tmp_path: Path) -> None:
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = readme.split("  ```yaml\n", 1)[1].split("  ```\n", 1)[0]
    example = tmp_path / "example.yaml"
    example.write_text("\n".join(line.removeprefix("  ") for line in block.splitlines()) + "\n")
    entries = load_baseline(example).suppressions
    assert [(s.rule_id, s.class_name, s.method, s.package, s.evidence) for s in entries] == [
        ("AA-CON-002", "com.example.app.Harvester", "harvest", "com.example.app", None),
        ("AA-CON-001", None, None, None, "permission: android.permission.READ_CONTACTS"),
    ]
