"""Declared vs actual: exact contradiction findings for fixture APKs and the declarations in tests/declarations/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from appaudit.api import ScanOptions, scan
from appaudit.declarations.form import data_safety_to_form, form_to_data_safety, read_form, validate_form
from appaudit.declarations.play_csv import CLASS_TYPES, DATA_TYPES, read_play_csv
from appaudit.report import render
from appaudit.report.model import Report
from appaudit.ruleset import load_ruleset
from conftest import ROOT, fixture_apk
from pdfwrite import image_only_pdf, text_pdf

D = "tests/declarations/"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # declaration paths appear in the evidence as given


def _scan(apk: str, data_safety: str | None = None, policy: str | None = None) -> Report:
    return scan(fixture_apk(apk), ScanOptions(deterministic=True, data_safety=data_safety, privacy_policy=policy))


def _contradictions(report: Report) -> list[tuple[str, str, str]]:
    return [(f.rule_id, f.data_class, f.severity.label) for f in report.findings if f.rule_id.startswith("AA-DEC-")]


CASES = [
    # a declaration and a policy that match what the code does: nothing
    ("contacts_const", "console_matches_contacts.csv", "policy_en_discloses.txt", []),
    # the contacts upload left out of the Data safety form
    ("contacts_const", "console_hides_contacts.csv", None, [("AA-DEC-001", "contacts", "critical")]),
    # ... and a Chinese (HTML) policy that denies collecting the address book
    (
        "startup_harvest",
        "console_hides_contacts.csv",
        "policy_zh_denies.html",
        [("AA-DEC-001", "contacts", "critical"), ("AA-DEC-007", "contacts", "critical")],
    ),
    # an SDK's upload declared "not shared"
    ("sdk_harvest", "sdk_not_shared.yaml", None, [("AA-DEC-002", "contacts", "high")]),
    # an SDK asked to collect contacts and call log, declared "not shared"
    (
        "sdk_api_baiqishi",
        "baiqishi_not_shared.json",
        None,
        [("AA-DEC-002", "call_log", "high"), ("AA-DEC-002", "contacts", "high")],
    ),
    # "No data collected"; the Spanish policy does name SMS, so it is not silent
    ("sms_inbox", "no_data_collected.yaml", "policy_es_discloses.txt", [("AA-DEC-005", "sms", "critical")]),
    # "No data collected" and a Swahili policy denying the call log
    (
        "calllog",
        "no_data_collected.yaml",
        "policy_sw_denies.txt",
        [("AA-DEC-005", "call_log", "critical"), ("AA-DEC-007", "call_log", "critical")],
    ),
    # declared optional, read at start-up before any permission request; Hindi policy denies it
    (
        "startup_harvest",
        "optional_contacts.yaml",
        "policy_hi_denies.txt",
        [("AA-DEC-007", "contacts", "critical"), ("AA-DEC-003", "contacts", "high")],
    ),
    # the same declaration where the start-up path asks for the permission first; Tagalog policy discloses
    ("startup_asks_first", "optional_contacts.yaml", "policy_tl_discloses.txt", []),
    # a policy that names SMS but never the contacts the code uploads
    ("contacts_const", None, "policy_es_discloses.txt", [("AA-DEC-006", "contacts", "high")]),
    # neighbour classes read, never sent: "No data collected" holds
    ("neighbours", "no_data_collected.yaml", None, []),
    ("benign", "no_data_collected.yaml", None, []),
]


@pytest.mark.parametrize(("apk", "data_safety", "policy", "expected"), CASES)
def test_contradictions_exact(apk: str, data_safety: str | None, policy: str | None, expected: list) -> None:
    report = _scan(apk, data_safety and D + data_safety, policy and D + policy)
    assert _contradictions(report) == expected
    assert report.declarations is not None and report.declarations.complete
    rows = {c.data_class: c.rule_ids for c in report.declarations.classes}
    assert sorted((r, dc) for dc, ids in rows.items() for r in ids) == sorted((r, dc) for r, dc, _ in expected)


def test_hidden_contacts_upload_shows_the_row_beside_the_code() -> None:
    report = _scan("contacts_const", D + "console_hides_contacts.csv")
    (finding,) = [f for f in report.findings if f.rule_id == "AA-DEC-001"]
    kinds = [e.kind for e in finding.evidence]
    assert kinds == ["declaration", "invoke", "sink"]
    assert finding.evidence[0].value == (
        "tests/declarations/console_hides_contacts.csv:34: PSL_DATA_TYPES_CONTACTS,PSL_CONTACTS,(blank)"
    )
    assert finding.evidence[2].channel == "network" and finding.evidence[2].text.startswith("network: L")
    assert finding.message.endswith("Found: harvested, sent by network.")
    # cited by the Data safety provision and the consent provisions
    cited = {
        v.provision for p in report.policies for v in p.violations if any("AA-DEC-001" in t for t in v.triggered_by)
    }
    assert cited == {"GP-DATA-SAFETY", "CN-RENDING-3", "CN-PIPL-28-29", "EU-GDPR-14"}


def test_sdk_finding_names_the_sdk_and_its_code() -> None:
    report = _scan("sdk_harvest", D + "sdk_not_shared.yaml")
    (finding,) = [f for f in report.findings if f.rule_id == "AA-DEC-002"]
    assert [o.name for o in finding.owners] == ["LenddoEFL data SDK"]
    assert {e.class_name for e in finding.evidence if e.kind != "declaration"} == {
        "com.lenddo.data.AndroidData",
        "com.lenddo.data.Uploader",
    }
    assert finding.evidence[0].value.startswith(
        'tests/declarations/sdk_not_shared.yaml: data.contacts = {"collected": true'
    )


def test_policy_denial_quotes_the_sentence() -> None:
    report = _scan("startup_harvest", None, D + "policy_zh_denies.html")
    (finding,) = [f for f in report.findings if f.rule_id == "AA-DEC-007"]
    assert finding.evidence[0].value == (
        "tests/declarations/policy_zh_denies.html [zh]: 我们不会收集您的通讯录，也不会读取您的短信"
    )
    policy = report.declarations.privacy_policy if report.declarations else None
    assert policy is not None and policy.format == "html"
    # the script's "通讯录" is not policy text
    assert [(m.data_class, m.stance) for m in policy.mentions] == [
        ("contacts", "denied"),
        ("location", "collected"),
        ("sms", "denied"),
    ]


def test_pdf_policy_in_indonesian(tmp_path: Path) -> None:
    pdf = tmp_path / "kebijakan.pdf"
    lines = ["Kebijakan Privasi.", "Kami mengumpulkan lokasi Anda untuk verifikasi.", "Kami tidak mengakses kontak."]
    pdf.write_bytes(text_pdf(lines))
    report = _scan("sms_inbox", None, str(pdf))
    assert _contradictions(report) == [("AA-DEC-006", "sms", "high")]
    policy = report.declarations.privacy_policy if report.declarations else None
    assert policy is not None and policy.format == "pdf" and policy.text_found
    assert [(m.data_class, m.stance, m.language) for m in policy.mentions] == [
        ("contacts", "denied", "id"),
        ("location", "collected", "id"),
    ]


def test_pdf_without_text_layer_is_said_and_not_compared(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(image_only_pdf())
    report = _scan("contacts_const", None, str(pdf))
    assert _contradictions(report) == []
    assert report.declarations is not None and not report.declarations.complete
    assert report.declarations.incomplete == (
        f"{pdf}: no text could be read from the privacy policy (a scanned PDF without a text layer?); "
        "it was not compared",
    )
    doc = json.loads(render(report, "json"))
    assert doc["declarations"]["complete"] is False
    assert doc["declarations"]["classes"]["contacts"]["policy"] == "unreadable"


def test_console_csv_with_every_data_type() -> None:
    ds = read_play_csv(D + "console_every_type.csv")
    assert ds.format == "play_console_csv" and ds.collects_any is True and ds.warnings == ()
    got = {u.data_class: (u.collected, u.shared, u.ephemeral, u.optional, u.purposes) for u in ds.uses}
    assert got == {
        "contacts": (True, True, True, True, ("app_functionality",)),
        "sms": (True, False, True, True, ("app_functionality",)),
        "call_log": (True, False, True, True, ("app_functionality",)),
        "phone_identity": (True, False, True, True, ("app_functionality",)),
        "accounts": (True, False, True, True, ("app_functionality",)),
        # precise says ephemeral, approximate says stored: the class is not declared ephemeral
        "location": (True, False, False, True, ("app_functionality",)),
        "photos_media": (True, False, True, True, ("app_functionality",)),
        "installed_apps": (True, False, True, True, ("app_functionality",)),
        "calendar": (True, False, True, True, ("app_functionality",)),
    }
    rows = Path(D + "console_every_type.csv").read_text().splitlines()
    types = {line.split(",")[1] for line in rows if line.startswith("PSL_DATA_TYPES_")}
    assert types == {t for ts in DATA_TYPES.values() for t in ts}
    assert {t for ts in CLASS_TYPES.values() for t in ts} <= types


def test_form_round_trips_through_its_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "declaration.schema.json").read_text())
    for name in ("sdk_not_shared.yaml", "no_data_collected.yaml", "optional_contacts.yaml", "baiqishi_not_shared.json"):
        doc = yaml.safe_load(Path(D + name).read_text())
        jsonschema.validate(doc, schema)
        again = data_safety_to_form(read_form(D + name))
        jsonschema.validate(again, schema)
        assert form_to_data_safety(again, D + name) == read_form(D + name)
    # a Console CSV, restated as the form, states the same facts
    csv_ds = read_play_csv(D + "console_every_type.csv")
    form = data_safety_to_form(csv_ds)
    validate_form(form, "restated")
    assert [(u.data_class, u.collected, u.shared, u.ephemeral, u.optional, u.purposes) for u in csv_ds.uses] == [
        (u.data_class, u.collected, u.shared, u.ephemeral, u.optional, u.purposes)
        for u in form_to_data_safety(form, "restated").uses
    ]


def test_no_declaration_no_block_and_same_json() -> None:
    report = _scan("contacts_const")
    assert report.declarations is None
    doc = json.loads(render(report, "json"))
    assert "declarations" not in doc and "data_safety" not in doc["scan_options"]
    assert not any(r.id.startswith("AA-DEC-") for r in report.rules)


def test_json_and_sarif_carry_the_declaration() -> None:

    report = _scan("contacts_const", D + "console_hides_contacts.csv", D + "policy_es_discloses.txt")
    doc = json.loads(render(report, "json"))
    jsonschema.validate(doc, json.loads((ROOT / "schemas" / "report-v1.schema.json").read_text()))
    assert doc["declarations"]["classes"]["contacts"] == {
        "declared": "not collected",
        "policy": "silent",
        "found": "harvested",
        "leaves_by": ["network"],
        "sent_by_sdks": [],
        "rule_ids": ["AA-DEC-001", "AA-DEC-006"],
    }
    sarif = json.loads(render(report, "sarif"))
    run = sarif["runs"][0]
    assert {r["ruleId"] for r in run["results"] if r["ruleId"].startswith("AA-DEC-")} == {"AA-DEC-001", "AA-DEC-006"}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"AA-DEC-001", "AA-DEC-007"}


def test_declaration_rules_and_phrase_lists_are_loaded_apart() -> None:
    rs = load_ruleset()
    assert [r.id for r in rs.declaration_rules] == [f"AA-DEC-00{i}" for i in range(1, 8)]
    assert not any(r.id.startswith("AA-DEC-") for r in rs.rules)
    assert [p.language for p in rs.policy_phrases] == ["en", "es", "hi", "id", "sw", "tl", "zh"]


def test_every_declaration_rule_fires_and_stays_quiet_somewhere() -> None:
    positive = {r for *_, expected in CASES for r, _dc, _sev in expected} | {"AA-DEC-004"}  # 004: unit test
    assert positive == {r.id for r in load_ruleset().declaration_rules}
    # the matching declaration (first case) is the negative for every rule
    assert CASES[0][3] == []
