"""Who owns the code: first party, a named SDK, or unknown."""

from __future__ import annotations

from appaudit.analysis.attribution import Attributor
from appaudit.apk.app import AppInfo, Manifest
from appaudit.ruleset import load_ruleset
from conftest import report_json


def _app(package: str, app_class: str | None = None, launchers: tuple[str, ...] = ()) -> AppInfo:
    return AppInfo(
        sha256="0" * 64,
        sha1="0" * 40,
        md5="0" * 32,
        size=0,
        manifest=Manifest(package=package, application_class=app_class, launcher_activities=launchers),
        label=None,
        signer_sha256=(),
        dex_files=(),
    )


def test_owner_kinds() -> None:
    attributor = Attributor(_app("com.loan.fast", launchers=("com.loanapp.ui.Main",)), load_ruleset().sdks)
    assert attributor.owner("com.loan.fast.data.Contacts").kind == "first_party"
    assert attributor.owner("com.loanapp.net.Uploader").kind == "first_party"  # launcher's package
    baiqishi = attributor.owner("com.bqs.risk.df.android.BqsDF")
    assert (baiqishi.kind, baiqishi.sdk_id, baiqishi.category) == ("sdk", "baiqishi", "risk_control")
    assert attributor.owner("com.google.android.gms.ads.AdView").sdk_id == "admob"  # longest prefix wins
    assert attributor.owner("com.google.android.gms.common.Api").sdk_id == "play_services"
    assert (attributor.owner("a.b.c").kind, attributor.owner("a.b.c").name) == ("unknown", "obfuscated")
    assert attributor.owner("org.somevendor.lib.X").name == "unrecognised"
    assert attributor.owner("com.loan.fastx.Y").kind == "unknown"  # prefix match is on whole segments


def test_first_party_harvest() -> None:
    entry = report_json("contacts_const")["data_classes"]["contacts"]
    assert [(c["kind"], c["name"]) for c in entry["components"]] == [
        ("first_party", "com.example.fixture.contacts_const")
    ]


def _components(name: str, dc: str) -> list[tuple[str, str | None]]:
    return [(c["kind"], c["sdk_id"] or c["name"]) for c in report_json(name)["data_classes"][dc]["components"]]


def test_harvest_in_sdk_package_is_attributed_to_the_sdk() -> None:
    assert _components("sdk_harvest", "contacts") == [("sdk", "lenddo")]
    (chain,) = report_json("sdk_harvest")["data_classes"]["contacts"]["chains"]
    assert chain["read"]["component"]["vendor"] == "LenddoEFL"


def test_harvest_in_obfuscated_code_is_unknown() -> None:
    assert _components("obfuscated_harvest", "contacts") == [("unknown", "obfuscated")]


def test_sdk_api_collection_without_contactscontract() -> None:
    report = report_json("sdk_api_baiqishi")
    assert _components("sdk_api_baiqishi", "contacts") == [("sdk", "baiqishi")]
    assert _components("sdk_api_baiqishi", "call_log") == [("sdk", "baiqishi")]
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "AA-SDK-001"]
    assert [(e["class"], e["offset"], e["value"]) for e in finding["evidence"]] == [
        ("com.example.fixture.MainActivity", 26, "Lcom/bqs/risk/df/android/BqsParams;->setGatherContact(Z)V"),
        ("com.example.fixture.MainActivity", 44, "Lcom/bqs/risk/df/android/BqsDF;->commitContactsAndCallRecords()V"),
    ]
