"""One JSON v1 pair: ``from_dict`` reads back exactly what ``to_dict`` wrote."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from appaudit.api import scan
from appaudit.history.snapshot import Snapshot, check_report_document
from appaudit.model import Owner
from appaudit.report.json_v1 import owner_ref, to_dict
from appaudit.report.json_v1_read import from_dict
from appaudit.report.model import RunInfo
from conftest import ALL_FIXTURES, fixture_apk


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_from_dict_inverts_to_dict(name: str) -> None:
    report = replace(scan(fixture_apk(name)), run=RunInfo(started_at="2026-01-01T00:00:00Z", duration_s=0.5))
    doc = json.loads(json.dumps(to_dict(report)))  # as a reader gets it: through JSON text
    check_report_document(doc, name)
    back = from_dict(doc, input_path=report.input_path)
    # the JSON carries everything but the zip entry list (coverage signals only) and the manifest's
    # label as written, split attribute, notes and incomplete flag
    manifest = replace(report.app.manifest, label=report.app.label, split=None, notes=(), incomplete=False)
    assert back == replace(report, app=replace(report.app, zip_entries=(), manifest=manifest))
    assert to_dict(back) == doc
    assert Snapshot.from_document(doc, "r.json") == Snapshot.from_report(report, "r.json")


def test_owner_ref_is_the_one_short_spelling() -> None:
    owners = [
        Owner(kind="first_party", name="com.example.app"),
        Owner(kind="sdk", name="Baiqishi", sdk_id="baiqishi", vendor="Baiqishi", category="risk_control"),
        Owner(kind="unknown", name="obfuscated"),
    ]
    assert [owner_ref(o) for o in owners] == ["first_party", "sdk:baiqishi", "unknown:obfuscated"]


def test_from_dict_reads_back_declarations() -> None:
    from appaudit.api import ScanOptions
    from conftest import ROOT

    decl = ROOT / "tests" / "declarations"
    options = ScanOptions(
        deterministic=True,
        data_safety=str(decl / "console_hides_contacts.csv"),
        privacy_policy=str(decl / "policy_en_discloses.txt"),
    )
    report = scan(fixture_apk("contacts_const"), options)
    assert report.declarations is not None and report.declarations.classes
    doc = json.loads(json.dumps(to_dict(report)))
    back = from_dict(doc)
    assert back.declarations is not None
    assert back.declarations.classes == report.declarations.classes
    assert back.fingerprints == report.fingerprints
    assert to_dict(back) == doc
