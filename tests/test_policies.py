"""Policy packs: validation, triggers, citations, selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from appaudit.errors import ConfigError, RuleError
from appaudit.policy import load_policy_packs, select_packs
from conftest import ROOT, fixture_apk, report_json, run_cli

PACKS = ["china", "eu-gdpr", "google-play", "india", "indonesia", "kenya", "nigeria", "pakistan", "philippines"]


def _violations(name: str) -> dict[str, list[str]]:
    return {p["id"]: [v["provision"] for v in p["violations"]] for p in report_json(name)["policies"]}


def test_all_packs_load_and_validate() -> None:
    assert [p.id for p in load_policy_packs()] == PACKS
    for pack in load_policy_packs():
        for prov in pack.provisions:
            assert prov.confidence in ("V", "P", "U") and prov.source.startswith("http")


def test_bulk_upload_of_contacts_cites_play_and_china() -> None:
    found = _violations("contacts_const")
    assert "GP-PL-SENSITIVE" in found["google-play"]
    assert "CN-NECESSARY-LENDING" in found["china"]
    assert "CN-PIPL-6" in found["china"]  # sent off the device
    assert found["pakistan"] == ["PK-SECP-15-2022"]


@pytest.mark.parametrize("name", ["picker", "otp_retriever", "benign"])
def test_picker_and_otp_only_apps_break_nothing(name: str) -> None:
    assert all(not v for v in _violations(name).values())


def test_reasons_and_confidence_are_reported() -> None:
    (china,) = [p for p in report_json("startup_harvest")["policies"] if p["id"] == "china"]
    (rending,) = [v for v in china["violations"] if v["provision"] == "CN-RENDING-3"]
    assert rending["triggered_by"] == ["contacts: read at start-up without user action"]
    assert (rending["confidence"], rending["kind"]) == ("P", "separate_consent")


def test_camera_microphone_are_not_violations() -> None:
    # neighbours declares CAMERA and RECORD_AUDIO: allowed for KYC, so no provision names them
    for pack in report_json("neighbours")["policies"]:
        for v in pack["violations"]:
            assert "camera_microphone" not in v["data_classes"]


def test_permission_only_triggers_declared_provisions_only() -> None:
    found = _violations("permission_only")
    assert "GP-SMS-CALLLOG" in found["google-play"]
    assert "CN-PIPL-6" not in found["china"]  # nothing leaves the device


def test_select_packs_and_unknown_id() -> None:
    packs = load_policy_packs()
    assert [p.id for p in select_packs(packs, ["india", "china"])] == ["india", "china"]
    with pytest.raises(ConfigError):
        select_packs(packs, ["atlantis"])


def test_cli_policy_option(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["scan", fixture_apk("contacts_const"), "-f", "json", "--policy", "kenya"], capsys)
    assert res.code == 1 and '"id": "kenya"' in res.out and '"id": "china"' not in res.out
    res = run_cli(["scan", fixture_apk("contacts_const"), "--policy", "atlantis"], capsys)
    assert res.code == 4 and "unknown policy pack(s): atlantis" in res.err


def test_invalid_pack_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        (ROOT / "rules" / "policies" / "kenya.yaml").read_text().replace("kind: prohibited", "kind: forbidden", 1)
    )
    with pytest.raises(RuleError) as exc:
        load_policy_packs(directory=tmp_path)
    assert exc.value.source == "policies/bad.yaml" and exc.value.key == "provisions.0.kind"


def test_chinese_provisions_have_a_chinese_paraphrase_in_every_report() -> None:
    china = load_policy_packs(["china"])[0]
    assert all(p.paraphrase_zh and any("\u4e00" <= ch <= "\u9fff" for ch in p.paraphrase_zh) for p in china.provisions)
    cited = report_json("contacts_const")["policies"]
    by_id = {p.id: p for p in china.provisions}
    violations = [v for pack in cited if pack["id"] == "china" for v in pack["violations"]]
    assert violations and all(v["paraphrase_zh"] == by_id[v["provision"]].paraphrase_zh for v in violations)
    others = [v for pack in cited if pack["id"] != "china" for v in pack["violations"]]
    assert others and all(v["paraphrase_zh"] is None for v in others)


def test_no_citation_hedges_in_what_a_report_prints() -> None:
    # P and U already say how sure a citation is; a report never says "from memory" or the like.
    hedges = ("memory", "recalled", "secondary", "inferred", "not confirmed", "not retrieved", "unconfirmed")
    texts = [
        f"{pack.id} {p.id}: {text}"
        for pack in load_policy_packs()
        for p in pack.provisions
        for text in (p.instrument, p.article, p.paraphrase, p.paraphrase_zh or "", p.source)
    ]
    assert [t for t in texts if any(h in t.lower() for h in hedges)] == []
