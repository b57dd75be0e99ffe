"""The rule pack: schema-valid, every rule has a positive and a negative fixture, loader errors are exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appaudit.declarations import CONTRADICTIONS
from appaudit.engine.matchers import MATCHERS
from appaudit.errors import RuleError
from appaudit.ruleset import load_ruleset
from conftest import ROOT, report_json

# rule id -> (fixture where it must fire, fixture where it must not)
RULE_FIXTURES = {
    "AA-CON-001": ("contacts_const", "benign"),
    "AA-CON-002": ("contacts_const", "picker"),
    "AA-CON-003": ("contacts_uri", "contacts_const"),
    "AA-SMS-001": ("sms_inbox", "contacts_const"),
    "AA-SMS-002": ("sms_const", "sms_inbox"),
    "AA-SMS-003": ("sms_inbox", "sms_const"),
    "AA-SMS-004": ("sms_receiver", "sms_inbox"),
    "AA-SMS-005": ("sms_receiver", "permission_only"),
    "AA-CLG-001": ("calllog", "contacts_const"),
    "AA-CLG-002": ("calllog", "permission_only"),
    "AA-CLG-003": ("calllog", "permission_only"),
    "AA-PID-001": ("neighbours", "benign"),
    "AA-PID-002": ("neighbours", "benign"),
    "AA-ACC-001": ("neighbours", "benign"),
    "AA-ACC-002": ("neighbours", "benign"),
    "AA-APP-001": ("neighbours", "benign"),
    "AA-APP-002": ("neighbours", "benign"),
    "AA-LOC-001": ("neighbours", "benign"),
    "AA-LOC-002": ("neighbours", "benign"),
    "AA-MED-001": ("neighbours", "benign"),
    "AA-MED-002": ("neighbours", "benign"),
    "AA-MED-003": ("media_uri", "neighbours"),
    "AA-CAL-001": ("neighbours", "benign"),
    "AA-CAL-002": ("neighbours", "benign"),
    "AA-CAL-003": ("neighbours", "benign"),
    "AA-CAM-001": ("neighbours", "contacts_const"),
    # harvest chains
    "AA-CON-010": ("contacts_const", "contacts_local_only"),
    "AA-CON-011": ("sink_sms_body", "sms_blast"),  # contacts in an SMS text, not only its destination
    "AA-CON-012": ("contacts_uri", "picker"),
    "AA-CON-013": ("contacts_const", "benign"),
    "AA-CON-020": ("sms_blast", "sink_sms_body"),  # SMS to each contact, not the contacts in the text
    "AA-SMS-010": ("sms_inbox", "permission_only"),
    "AA-SMS-011": ("sms_receiver", "otp_receiver_code_only"),
    "AA-SMS-012": ("sms_const", "otp_receiver_code_only"),
    "AA-SMS-013": ("sms_inbox", "sms_receiver"),  # an SMS_RECEIVED receiver is an event, not start-up
    "AA-SMS-014": ("bulk_delete", "sms_inbox"),  # the inbox read, no delete
    "AA-CLG-010": ("calllog", "permission_only"),
    "AA-CLG-011": ("calllog", "benign"),
    "AA-CLG-012": ("calllog", "permission_only"),
    "AA-CLG-013": ("calllog", "permission_only"),
    "AA-CLG-014": ("bulk_delete", "calllog"),  # the call log read, never deleted
    # SDK APIs that collect on the host's behalf
    "AA-SDK-001": ("sdk_api_baiqishi", "contacts_const"),
    "AA-SDK-002": ("sdk_api_baiqishi", "calllog"),
}


def _rule_ids(name: str) -> set[str]:
    return {f["rule_id"] for f in report_json(name)["findings"]}


def test_every_rule_has_fixtures() -> None:
    ids = {r.id for r in load_ruleset().rules}
    assert ids == set(RULE_FIXTURES), "add a positive and a negative fixture for each rule"


@pytest.mark.parametrize("rule_id", sorted(RULE_FIXTURES))
def test_rule_positive_and_negative(rule_id: str) -> None:
    positive, negative = RULE_FIXTURES[rule_id]
    assert rule_id not in _rule_ids(negative)
    assert rule_id in _rule_ids(positive)


def test_schema_match_kinds_equal_registry() -> None:
    schema = json.loads((ROOT / "schemas" / "rule.schema.json").read_text())
    # ``declaration`` rules are evaluated by appaudit.declarations after the data-class results, not the engine
    assert set(schema["$defs"]["match"]["properties"]) == set(MATCHERS) | {"declaration"}
    kinds = schema["$defs"]["match"]["properties"]["declaration"]["properties"]["contradiction"]["enum"]
    assert set(kinds) == set(CONTRADICTIONS)


def test_ruleset_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    a, b = load_ruleset(), load_ruleset()
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    extra = tmp_path / "extra"
    extra.mkdir()
    src = ROOT / "rules" / "contacts" / "contacts-permission.yaml"
    text = src.read_text().replace("AA-CON-001", "AA-XTR-001")
    (extra / "x.yaml").write_text(text)
    c = load_ruleset([extra])
    assert c.sha256 != a.sha256
    assert c.by_id("AA-XTR-001") is not None


GOOD = (ROOT / "rules" / "contacts" / "contacts-permission.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (GOOD.replace("severity: medium", "severity: severe"), "severity", "'severe' is not one of"),
        (GOOD.replace("  permission:\n", "  telepathy:\n"), "match", "Additional properties are not allowed"),
        (GOOD.replace("id: AA-CON-001", "id: contacts-1"), "id", "does not match"),
        (GOOD + "bogus: 1\n", "(top level)", "Additional properties are not allowed ('bogus'"),
        ("id: [unclosed\n", "line 2", "invalid YAML"),
    ],
)
def test_invalid_rule_names_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(RuleError) as exc:
        load_ruleset([tmp_path], bundled=False)
    assert exc.value.source == f"{tmp_path.name}/r.yaml"
    assert exc.value.key == key
    assert reason in exc.value.reason


def test_invalid_regex_is_a_rule_error(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "sms" / "sms-provider-uri-string.yaml").read_text()
    text = text.replace("regex: content://(sms|mms|mms-sms)(/[^\\x00]*)?", "regex: content://(sms")
    (tmp_path / "r.yaml").write_text(text.replace("AA-SMS-003", "AA-TST-001"))
    with pytest.raises(RuleError) as exc:
        load_ruleset([tmp_path], bundled=False)
    assert exc.value.key == "match.string.regex"


def test_duplicate_id_is_a_rule_error(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(GOOD)
    with pytest.raises(RuleError) as exc:
        load_ruleset([tmp_path])
    assert exc.value.key == "id" and "duplicate rule id AA-CON-001" in exc.value.reason


def test_missing_rules_dir_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError):
        load_ruleset([tmp_path / "absent"])


def test_user_rule_directory_adds_findings(tmp_path: Path) -> None:
    from appaudit.api import ScanOptions, scan
    from conftest import fixture_apk

    rule = GOOD.replace("AA-CON-001", "AA-USR-001").replace(
        "android.permission.READ_CONTACTS", "android.permission.INTERNET"
    )
    (tmp_path / "internet.yaml").write_text(rule)
    report = scan(fixture_apk("benign"), ScanOptions(rules_dirs=[tmp_path]))
    (finding,) = report.findings
    assert finding.rule_id == "AA-USR-001"
    assert [e.value for e in finding.evidence] == ["android.permission.INTERNET"]
