"""`appaudit diff OLD NEW`: what appeared or disappeared between versions, and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import fixture_apk, run_cli

H = "com.example.fixture.Harvester"
HARVEST = "harvest(Landroid/content/Context;)Ljava/lang/String;"
UPLOAD = ("com.example.fixture.Uploader", "upload(Ljava/lang/String;)V")


def _diff(old: str, new: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    res = run_cli(["diff", old, new, "--format", "json", *extra], capsys)
    doc = json.loads(res.out)
    # The fixtures are different packages: diff says so on stderr, and nothing else.
    warning = (
        f"appaudit: warning: {old} is package {doc['old']['package']}, {new} is {doc['new']['package']}: "
        "comparing two different apps\n"
    )
    assert res.err == ("" if doc["same_package"] else warning)
    return res.code, doc


def _json_report(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out = tmp_path / f"{name}.json"
    run_cli(["scan", fixture_apk(name), "-f", f"json:{out}", "--fail-on", "never"], capsys)
    return str(out)


def test_new_harvest_appears_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _diff(fixture_apk("permission_only"), fixture_apk("contacts_const"), capsys)
    assert code == 1
    assert doc["verdict"] == {"old": "declared_only", "new": "harvests", "changed": True}
    assert doc["permissions"] == {
        "added": [],
        "removed": [
            "android.permission.READ_CALL_LOG",
            "android.permission.READ_PHONE_STATE",
            "android.permission.READ_SMS",
            "android.permission.RECEIVE_SMS",
        ],
    }
    assert doc["data_classes"] == [
        {"data_class": "contacts", "old": "declared", "new": "harvested"},
        {"data_class": "sms", "old": "declared", "new": "none"},
        {"data_class": "call_log", "old": "declared", "new": "none"},
        {"data_class": "phone_identity", "old": "declared", "new": "none"},
    ]
    appeared = [(f["severity"], f["rule_id"], f["class"], f["method"]) for f in doc["findings"]["appeared"]]
    assert appeared == [
        ("critical", "AA-CON-010", H, HARVEST),
        ("critical", "AA-CON-010", *UPLOAD),
        ("high", "AA-CON-002", H, HARVEST),
        ("high", "AA-CON-011", H, HARVEST),
        ("high", "AA-CON-011", *UPLOAD),
        ("high", "AA-CON-012", H, HARVEST),
        ("high", "AA-CON-013", None, None),
    ]
    assert doc["findings"]["appeared"][-1]["where"] == "entry_point: startup: com.example.fixture.MainActivity.onCreate"
    gone = [(f["rule_id"], f["where"]) for f in doc["findings"]["disappeared"]]
    assert gone == [
        ("AA-CLG-001", "permission: android.permission.READ_CALL_LOG"),
        ("AA-SMS-001", "permission: android.permission.READ_SMS"),
        ("AA-SMS-001", "permission: android.permission.RECEIVE_SMS"),
        ("AA-PID-001", "permission: android.permission.READ_PHONE_STATE"),
    ]
    assert doc["findings"]["severity_changed"] == []
    assert doc["old"]["package"] == "com.example.fixture.permission_only"


def test_unchanged_code_passes(capsys: pytest.CaptureFixture[str]) -> None:
    # signed.apk: the same DEX and permissions as contacts_const, rebuilt and signed
    res = run_cli(["diff", fixture_apk("contacts_const"), fixture_apk("signed"), "--fail-on", "info"], capsys)
    assert res.code == 0
    assert res.out.endswith("\nVerdict: harvests\n\nNo changes.\n")


def test_removed_harvest_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _diff(fixture_apk("contacts_const"), fixture_apk("permission_only"), capsys)
    assert code == 0
    assert [f["rule_id"] for f in doc["findings"]["appeared"]] == [
        "AA-CLG-001",
        "AA-SMS-001",
        "AA-SMS-001",
        "AA-PID-001",
    ]
    assert len(doc["findings"]["disappeared"]) == 7


def test_dormant_code_made_live_is_a_severity_rise(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _diff(fixture_apk("dormant_contacts"), fixture_apk("contacts_const"), capsys)
    assert code == 1
    assert [f["rule_id"] for f in doc["findings"]["appeared"]] == ["AA-CON-001"]
    rose = {(f["rule_id"], f["old_severity"], f["new_severity"]) for f in doc["findings"]["severity_changed"]}
    assert ("AA-CON-002", "low", "high") in rose and ("AA-CON-010", "low", "critical") in rose
    assert doc["permissions"]["added"] == ["android.permission.READ_CONTACTS"]


@pytest.mark.parametrize(
    ("old", "new", "fail_on", "code"),
    [
        ("permission_only", "contacts_const", None, 1),
        ("permission_only", "contacts_const", "critical", 1),
        ("permission_only", "contacts_const", "never", 0),
        ("contacts_const", "permission_only", None, 0),
        ("contacts_const", "permission_only", "medium", 1),  # SMS permissions appeared (medium)
        ("benign", "neighbours", None, 0),
        ("benign", "neighbours", "medium", 1),
        ("contacts_const", "signed", "info", 0),
        ("sms_inbox", "sms_inbox", "info", 0),
    ],
)
def test_exit_codes(old: str, new: str, fail_on: str | None, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["diff", fixture_apk(old), fixture_apk(new)]
    if fail_on:
        args += ["--fail-on", fail_on]
    assert run_cli(args, capsys).code == code


def test_json_reports_and_apks_mix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old_json = _json_report("permission_only", tmp_path, capsys)
    new_json = _json_report("contacts_const", tmp_path, capsys)
    _, apks = _diff(fixture_apk("permission_only"), fixture_apk("contacts_const"), capsys)
    for old, new in (
        (old_json, new_json),
        (old_json, fixture_apk("contacts_const")),
        (fixture_apk("permission_only"), new_json),
    ):
        code, doc = _diff(old, new, capsys)
        assert code == 1
        assert (doc["old"]["source"], doc["new"]["source"]) == (old, new)
        for key in ("verdict", "permissions", "data_classes", "findings"):
            assert doc[key] == apks[key]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["diff", fixture_apk("permission_only"), fixture_apk("contacts_const")], capsys)
    lines = res.out.splitlines()
    assert lines[0] == (
        "appaudit diff: com.example.fixture.permission_only 1.0 (1) -> com.example.fixture.contacts_const 1.0 (1)"
    )
    assert "Verdict: declared_only -> harvests" in lines
    assert "  - android.permission.READ_SMS" in lines
    assert "  contacts: declared -> harvested" in lines
    # counted per finding, as scan counts them (AA-CON-001 is in both versions: scan says "Findings (6)")
    i = lines.index("Findings appeared (5, 7 places)")
    assert lines[i + 1 : i + 5] == [
        "  + CRITICAL AA-CON-010 [contacts] Contacts read in bulk and sent off the device",
        f"      in {H}.{HARVEST}",
        f"      in {UPLOAD[0]}.{UPLOAD[1]}",
        "  + HIGH     AA-CON-002 [contacts] Code reads a contacts provider URI constant",
    ]
    j = lines.index("Findings gone (3, 4 places)")
    assert lines[j + 3 : j + 6] == [
        "  - MEDIUM   AA-SMS-001 [sms] Declares an SMS read or receive permission",
        "      in permission: android.permission.READ_SMS",
        "      in permission: android.permission.RECEIVE_SMS",
    ]
    assert res.err == (
        f"appaudit: warning: {fixture_apk('permission_only')} is package com.example.fixture.permission_only, "
        f"{fixture_apk('contacts_const')} is com.example.fixture.contacts_const: comparing two different apps\n"
    )


def test_json_counts_per_finding_and_same_package(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = _diff(fixture_apk("permission_only"), fixture_apk("contacts_const"), capsys)
    assert doc["finding_counts"] == {"appeared": 5, "disappeared": 3, "severity_changed": 0}
    assert doc["same_package"] is False
    _, same = _diff(fixture_apk("contacts_const"), fixture_apk("contacts_const"), capsys)
    assert (same["same_package"], same["finding_counts"]) == (
        True,
        {"appeared": 0, "disappeared": 0, "severity_changed": 0},
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    apk = fixture_apk("benign")
    assert run_cli(["diff", apk], capsys).code == 2
    assert run_cli(["diff", apk, apk, "--format", "sarif"], capsys).code == 2
    assert run_cli(["diff", apk, apk, "--fail-on", "severe"], capsys).code == 2


def test_input_errors_exit_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    apk = fixture_apk("benign")
    res = run_cli(["diff", apk, str(tmp_path / "nope.apk")], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {tmp_path / 'nope.apk'}: no such file\n")
    not_report = tmp_path / "other.json"
    not_report.write_text('{"hello": 1}')
    res = run_cli(["diff", str(not_report), apk], capsys)
    assert (res.code, res.err) == (3, f"appaudit: error: {not_report}: not an APK or an appaudit JSON report\n")
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": "1",')
    res = run_cli(["diff", apk, str(broken)], capsys)
    assert res.code == 3 and res.err.startswith(f"appaudit: error: {broken}: not valid JSON: line 1")
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"schema_version": "1", "findings": []}')
    res = run_cli(["diff", apk, str(invalid)], capsys)
    assert res.code == 3 and res.err.startswith(f"appaudit: error: {invalid}: not a valid appaudit JSON report: ")
    text = tmp_path / "notes.txt"
    text.write_text("just text")
    assert run_cli(["diff", apk, str(text)], capsys).code == 3


def test_rule_error_exit_4(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: AA-XXX-001\n")
    apk = fixture_apk("benign")
    assert run_cli(["diff", apk, apk, "--rules", str(tmp_path)], capsys).code == 4


def test_internal_error_exit_5(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import appaudit.history.diff

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(appaudit.history.diff, "compare", boom)
    apk = fixture_apk("benign")
    res = run_cli(["diff", apk, apk], capsys)
    assert res.code == 5 and res.err.startswith("appaudit: error: internal error: RuntimeError: kaboom")


def test_diff_reports_sdks_and_policy_violations(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["diff", fixture_apk("permission_only"), fixture_apk("sdk_harvest"), "--format", "json"], capsys)
    doc = json.loads(res.out)
    assert doc["sdks"] == {"added": ["LenddoEFL data SDK"], "removed": []}
    assert "google-play: GP-CONTACTS-PICKER" in doc["policy_violations"]["added"]  # deprecated strings
    assert {"policy": "google-play", "provision": "GP-CONTACTS-PICKER"} in doc["policies"]["added"]
    assert [f"{p['policy']}: {p['provision']}" for p in doc["policies"]["added"]] == doc["policy_violations"]["added"]
    # READ_CALL_LOG, READ_SMS and RECEIVE_SMS are no longer declared
    assert doc["policy_violations"]["removed"] == ["google-play: GP-PL-2025", "google-play: GP-SMS-CALLLOG"]
    assert doc["policies"]["removed"] == [
        {"policy": "google-play", "provision": "GP-PL-2025"},
        {"policy": "google-play", "provision": "GP-SMS-CALLLOG"},
    ]
    assert res.code == 1
