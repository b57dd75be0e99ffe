"""Hostile and real-world inputs: bundles, nested payloads, packers, frameworks, zip and DEX tricks.

The fixtures are in fixtures/hostile/ (built by fixtures/hostile/make.py; see its docstrings).
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT, fixture_apk, report_json, report_schema_validator, run_cli

HOSTILE = ROOT / "fixtures" / "hostile"


def hostile(name: str) -> str:
    path = HOSTILE / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


@cache
def report(name: str) -> dict:  # type: ignore[type-arg]
    from appaudit.api import scan
    from appaudit.report import render

    doc = json.loads(render(scan(hostile(name)), "json"))
    report_schema_validator().validate(doc)
    return doc


def reasons(doc: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(r["code"], r["detail"]) for r in doc["coverage"]["reasons"]]


def evidence_dexes(doc: dict, data_class: str) -> set[str]:  # type: ignore[type-arg]
    return {
        e["dex"]
        for f in doc["findings"]
        if f["data_class"] == data_class and f["effect"] == "reads"
        for e in f["evidence"]
        if e["dex"]
    }


def test_committed_fixtures_match_their_checksums() -> None:
    import hashlib

    sums = dict(reversed(line.split("  ", 1)) for line in (HOSTILE / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == sorted(p.name for p in HOSTILE.iterdir() if p.suffix in (".apk", ".apks", ".xapk"))
    for name, digest in sums.items():
        assert hashlib.sha256((HOSTILE / name).read_bytes()).hexdigest() == digest, name


# ------------------------------------------------------------------ bundles
def test_apks_bundle_is_analysed_as_one_app() -> None:
    doc = report("split_bundle.apks")
    app = doc["app"]
    assert app["input_format"] == "apks"
    assert app["splits"] == ["splits/base-master.apk", "splits/base-arm64_v8a.apk", "splits/sms-master.apk"]
    assert app["package"] == "com.example.fixture.multidex_split_chain"
    assert app["permissions"] == ["android.permission.INTERNET", "android.permission.READ_SMS"]
    assert app["dex_files"] == ["splits/base-master.apk!classes.dex", "splits/sms-master.apk!classes.dex"]
    assert doc["coverage"] == {"status": "complete", "reasons": []}
    assert doc["verdict"] == "harvests"
    (chain,) = doc["data_classes"]["sms"]["chains"]
    # The read is in the feature split, the caller and the network sink in the base APK.
    assert (chain["read"]["dex"], chain["read"]["class"]) == (
        "splits/sms-master.apk!classes.dex",
        "com.example.fixture.SmsReader",
    )
    assert (chain["sink"]["dex"], chain["channel"]) == ("splits/base-master.apk!classes.dex", "network")


def test_xapk_bundle_uses_the_base_named_after_the_package() -> None:
    doc = report("split_bundle.xapk")
    base = "com.example.fixture.multidex_split_chain.apk"
    assert doc["app"]["input_format"] == "xapk"
    assert doc["app"]["splits"] == [base, "config.arm64_v8a.apk", "sms.apk"]
    assert doc["app"]["dex_files"] == [f"{base}!classes.dex", "sms.apk!classes.dex"]
    assert doc["verdict"] == "harvests"
    assert evidence_dexes(doc, "sms") >= {"sms.apk!classes.dex"}


def test_plain_apk_has_no_splits() -> None:
    doc = report_json("contacts_const")
    assert (doc["app"]["input_format"], doc["app"]["splits"]) == ("apk", [])


def test_zip_of_non_apks_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    bad = tmp_path / "bundle.apks"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("base.apk", b"not a zip at all")
    res = run_cli(["scan", str(bad)], capsys)
    assert (res.code, res.err) == (
        3,
        f"appaudit: error: {bad}: zip has no AndroidManifest.xml and no readable APK inside: not an APK\n",
    )


# ---------------------------------------------------------- nested payloads
def test_payloads_nested_in_assets_and_res_raw_are_analysed() -> None:
    doc = report("nested_payload.apk")
    assert doc["app"]["dex_files"] == ["classes.dex", "assets/payload.jar!classes.dex", "res/raw/update.bin"]
    assert evidence_dexes(doc, "contacts") == {"assets/payload.jar!classes.dex"}
    assert evidence_dexes(doc, "sms") == {"res/raw/update.bin"}
    assert doc["verdict"] == "harvests"
    (chain,) = doc["data_classes"]["contacts"]["chains"]
    assert chain["read"]["dex"] == chain["sink"]["dex"] == "assets/payload.jar!classes.dex"
    # The dropper's own class loader stays a coverage reason: it may load code from elsewhere.
    assert [c for c, _ in reasons(doc)] == ["dynamic_code_loading"]


def test_payload_limits(tmp_path: Path) -> None:
    from appaudit.api import ScanOptions, scan
    from appaudit.apk.limits import Limits

    one = scan(hostile("nested_payload.apk"), ScanOptions(limits=Limits(max_payloads=1)))
    assert one.app.dex_files == ("classes.dex", "assets/payload.jar!classes.dex")
    assert [(r.code, r.detail) for r in one.coverage.reasons if r.code == "payload_limit"] == [
        (
            "payload_limit",
            "1 nested payloads beyond the first 1 were not analysed (limit max_payloads): res/raw/update.bin",
        )
    ]
    flat = scan(hostile("nested_payload.apk"), ScanOptions(limits=Limits(max_depth=0)))
    assert flat.app.dex_files == ("classes.dex",)


# ------------------------------------------------------- packers, frameworks
def test_packer_stub_is_inconclusive_with_reasons() -> None:
    doc = report("packer_stub.apk")
    assert doc["verdict"] == "inconclusive"
    assert doc["coverage"]["status"] == "partial"
    assert reasons(doc) == [
        (
            "classes_not_in_dex",
            "1 of 2 classes named in the manifest are not in any DEX: com.example.hostile.packed.MainActivity",
        ),
        ("packer", "application class is the stub of a known packer/protector: com.stub.StubApp"),
        ("packer", "encrypted code asset of a known packer/protector: assets/jiagu_data.bin"),
        (
            "packer",
            "native library of a known packer/protector (Jiagu, Bangcle/SecNeo, Legu, Ijiami, Baidu, Alibaba, "
            "APKProtect, DexProtector): lib/armeabi-v7a/libjiagu.so",
        ),
    ]


def test_flutter_shell_reports_plugin_reads_and_dart_strings() -> None:
    doc = report("flutter_shell.apk")
    assert reasons(doc) == [
        (
            "flutter",
            "DEX side of a Flutter plugin for contacts, SMS or call log (its reads are reported as findings); "
            "method channel: co.quis.flutter_contacts.FlutterContactsPlugin.onAttachedToEngine",
        ),
        (
            "flutter",
            "Flutter app; its own logic is compiled Dart (libapp.so), not analysed as code: "
            "lib/arm64-v8a/libapp.so, lib/arm64-v8a/libflutter.so",
        ),
        (
            "flutter",
            "the Dart snapshot holds upload-like URLs: lib/arm64-v8a/libapp.so: "
            "https://api.loan-example.invalid/v1/contacts/upload",
        ),
        (
            "flutter",
            "the Dart snapshot names contact, SMS or call-log plugins: "
            "lib/arm64-v8a/libapp.so: package:flutter_contacts/",
        ),
    ]
    # The plugin's Java side is DEX: its bulk read of every contact is proven even though coverage is
    # partial. Where the contacts go is Dart code, not seen: harvesting is not proven, so at_risk.
    contacts = doc["data_classes"]["contacts"]
    assert (contacts["level"], contacts["bulk"], doc["verdict"]) == ("bulk", True, "at_risk")
    classes = {e["class"] for f in doc["findings"] if f["effect"] == "reads" for e in f["evidence"]}
    assert classes == {"co.quis.flutter_contacts.FlutterContactsPlugin"}


def test_react_native_shell_is_never_reported_clean() -> None:
    doc = report("react_native.apk")
    assert doc["verdict"] == "inconclusive"  # would be declared_only if the JavaScript were ignored
    assert reasons(doc) == [
        (
            "react_native",
            "React Native app; its own logic is JavaScript (assets/index.android.bundle), not analysed as code: "
            "assets/index.android.bundle, lib/arm64-v8a/libreactnativejni.so",
        ),
        (
            "react_native",
            "the JavaScript bundle holds upload-like URLs: assets/index.android.bundle: "
            "https://api.loan-example.invalid/v2/upload_contacts",
        ),
        (
            "react_native",
            "the JavaScript bundle names contact, SMS or call-log modules: assets/index.android.bundle: "
            "react-native-contacts",
        ),
    ]


# ------------------------------------------------------------- zip tricks
def test_zip_bomb_is_bounded_and_costs_only_its_entry() -> None:
    from appaudit.api import scan

    tracemalloc.start()
    try:
        rep = scan(hostile("zip_bomb.apk"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024  # the bomb inflates to 64 MiB; the reader stops at 100:1
    # The unread classes2.dex would run with the manifest's permissions, and none grants contacts,
    # SMS or call log (only INTERNET): nothing hidden can reach them, so the verdict follows what was seen.
    assert rep.app.permissions == ("android.permission.INTERNET",)
    assert (rep.coverage.status, rep.verdict.value) == ("partial", "no_evidence")
    assert [(r.code, r.detail) for r in rep.coverage.reasons] == [
        ("zip_bomb", "classes2.dex: could not be extracted: inflates beyond 100:1 from 65232 bytes (limit max_ratio)")
    ]
    assert rep.app.dex_files == ("classes.dex",)


def test_manifest_bomb_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["scan", hostile("manifest_bomb.apk")], capsys)
    assert (res.code, res.err) == (
        3,
        f"appaudit: error: {hostile('manifest_bomb.apk')}: AndroidManifest.xml: "
        "inflates beyond 100:1 from 65232 bytes (limit max_ratio)\n",
    )


def test_traversal_names_are_reported_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir("/tmp"))
    res = run_cli(["scan", hostile("traversal.apk"), "-f", "json", "--fail-on", "never"], capsys)
    assert res.code == 0
    assert list(tmp_path.iterdir()) == []
    assert {n for n in set(os.listdir("/tmp")) - before if "appaudit" in n} == set()
    doc = json.loads(res.out)
    assert doc["errors"] == [
        {
            "where": "zip",
            "message": "5 entry names would escape an extraction folder (read in memory only): "
            "'../../../../tmp/appaudit-escape.txt', '/tmp/appaudit-absolute.txt', "
            "'C:\\\\Windows\\\\Temp\\\\appaudit.txt', +2 more",
        }
    ]
    # A DEX under a traversal name is still code in the APK: it is analysed, named as written.
    assert doc["app"]["dex_files"] == ["classes.dex", "assets/../../outside.dex"]


def test_duplicate_dex_entries_are_all_analysed() -> None:
    doc = report("duplicate_dex.apk")
    assert doc["app"]["dex_files"] == ["classes.dex", "classes.dex#2"]
    assert evidence_dexes(doc, "contacts") == {"classes.dex#2"}
    assert doc["data_classes"]["contacts"]["read"] is True
    detail = (
        "1 entry names occur more than once (Android refuses such an APK; every copy of a DEX is analysed, "
        "the first manifest is used): classes.dex"
    )
    assert reasons(doc) == [("duplicate_entries", detail)]


def test_encrypted_flag_and_unknown_methods_are_read_as_android_does() -> None:
    doc = report("tampered_zip.apk")
    clean = report_json("contacts_const")
    assert doc["findings"] == clean["findings"]
    assert doc["data_classes"] == clean["data_classes"]
    assert doc["errors"] == [
        {
            "where": "zip",
            "message": "2 entries name an unknown compression method (read as stored or deflated, as Android "
            "does): AndroidManifest.xml, classes.dex",
        },
        {
            "where": "zip",
            "message": "3 entries carry the encryption flag, which Android ignores (read as if it were clear): "
            "AndroidManifest.xml, classes.dex, resources.arsc",
        },
    ]


# ------------------------------------------------------------- DEX damage
def test_truncated_dex_is_partial_not_a_crash() -> None:
    doc = report("truncated_dex.apk")
    assert doc["verdict"] == "inconclusive"
    assert [c for c, _ in reasons(doc)] == ["classes_not_in_dex", "dex_damaged", "dex_damaged"]
    assert ("dex_damaged", "classes.dex: truncated: its header says 2640 bytes, the file has 1320") in reasons(doc)


# ----------------------------------------------------------------- limits
def test_limits_parse_and_reject(tmp_path: Path) -> None:
    from appaudit.apk.limits import MIB, Limits, parse_limit

    assert parse_limit("max_entry_size=512M").max_entry_size == 512 * MIB
    assert parse_limit("max-ratio=50").max_ratio == 50
    assert parse_limit("max_input_size = 2GiB", Limits(max_ratio=7)) == Limits(max_ratio=7, max_input_size=2 << 30)
    for bad, message in [
        ("max_entry_size", "expected NAME=VALUE with NAME one of"),
        ("nope=1", "expected NAME=VALUE with NAME one of"),
        ("max_ratio=ten", "max_ratio: 'ten' is not a whole number (K, M, G suffixes allowed)"),
        ("max_ratio=0", "max_ratio: must be positive"),
    ]:
        with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            parse_limit(bad)


def test_limits_on_input_and_entry_size() -> None:
    from appaudit.api import ScanOptions, scan
    from appaudit.apk.limits import Limits
    from appaudit.errors import InputError

    apk = fixture_apk("contacts_const")
    size = Path(apk).stat().st_size
    with pytest.raises(InputError) as exc:
        scan(apk, ScanOptions(limits=Limits(max_input_size=1000)))
    assert exc.value.reason == f"is {size} bytes, over the 1000-byte limit (max_input_size)"
    with pytest.raises(InputError) as exc:
        scan(apk, ScanOptions(limits=Limits(max_entry_size=1024)))
    assert exc.value.reason == "AndroidManifest.xml: larger than 1024 bytes uncompressed (limit max_entry_size)"
    small_dex = scan(apk, ScanOptions(limits=Limits(max_entry_size=2500)))
    assert small_dex.coverage.status == "blind"
    assert [(r.code, r.detail) for r in small_dex.coverage.reasons] == [
        (
            "entry_too_large",
            "classes.dex: could not be extracted: larger than 2500 bytes uncompressed (limit max_entry_size)",
        ),
        ("no_dex", "the APK contains no readable classes*.dex"),
    ]
    assert small_dex.verdict.value == "inconclusive"


def test_limit_and_timeout_options(capsys: pytest.CaptureFixture[str]) -> None:
    apk = fixture_apk("contacts_const")
    assert run_cli(["scan", apk, "--limit", "max_entry_size"], capsys).code == 2
    assert run_cli(["scan", apk, "--timeout", "0"], capsys).code == 2
    assert run_cli(["scan", apk, "--timeout", "soon"], capsys).code == 2
    res = run_cli(["scan", apk, "--limit", "max_entry_size=1K"], capsys)
    assert (res.code, res.err) == (
        3,
        f"appaudit: error: {apk}: AndroidManifest.xml: larger than 1024 bytes uncompressed (limit max_entry_size)\n",
    )
    res = run_cli(["scan", apk, "-f", "json", "--timeout", "60", "--limit", "max_ratio=50"], capsys)
    assert res.code == 1 and json.loads(res.out)["verdict"] == "harvests"


# ---------------------------------------------------------------- timeout
def test_timeout_stops_a_runaway_search_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from appaudit import deadline
    from appaudit.analysis import flows
    from appaudit.api import ScanOptions, scan

    def forever(self: object, data_class: str, read: object, budget: object = None, also: object = ()) -> list[object]:
        while True:  # a search that never ends on its own
            deadline.check()

    monkeypatch.setattr(flows.ChainFinder, "search", forever)
    t0 = time.perf_counter()
    rep = scan(fixture_apk("contacts_const"), ScanOptions(timeout=0.5))
    assert time.perf_counter() - t0 < 2.0
    timeout = [r for r in rep.coverage.reasons if r.code == "timeout"]
    assert [r.detail for r in timeout] == [
        "the 0.5 s time cap passed during: harvest chains; only what was found before it is reported"
    ]
    # The rules still ran in the time the harvest phase left them: the read is proven.
    assert rep.data_classes["contacts"].read is True
    # The bulk read was found before the cap, the chain to the upload was not: at_risk, not harvests.
    assert (rep.data_classes["contacts"].level.value, rep.verdict.value) == ("bulk", "at_risk")


def test_timeout_before_any_proof_is_inconclusive() -> None:
    from appaudit.api import ScanOptions, scan

    rep = scan(fixture_apk("contacts_const"), ScanOptions(timeout=1e-9))
    assert rep.coverage.status == "partial"
    assert [r.code for r in rep.coverage.reasons] == ["timeout"]
    assert rep.verdict.value == "inconclusive"


def test_no_timeout_means_no_cap() -> None:
    from appaudit import deadline

    deadline.check()  # outside a scan: never raises
    with deadline.time_cap(None) as cap:
        deadline.check()
        deadline.note("a search")  # no cap: nothing to record
    assert cap.stopped() == ()
