"""Recovering payloads that packers hide encoded or encrypted (appaudit.apk.recover).

Fixtures: fixtures/hostile/encrypted_payloads.apk and encoded_payloads.apk (built by
fixtures/hostile/make.py from src/crypt_host, whose key1()/key2() hold the RC4 keys as
byte arrays, and from the committed fixture DEX files).
"""

from __future__ import annotations

import base64
import gzip
import json
import zipfile
import zlib
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT, fixture_apk, report_schema_validator, run_cli

HOSTILE = ROOT / "fixtures" / "hostile"
STUB_KEY1 = bytes(b ^ (0x2C, 0x5F, 0x91)[i % 3] for i, b in enumerate((0x4B, 0x72, 0x9A, 0x10, 0x3E, 0xD5, 0x61, 0x07)))
STUB_KEY2 = bytes.fromhex("1337c0de5ea10f8821436587a9cbed0f")


def dex_of(fixture: str) -> bytes:
    with zipfile.ZipFile(fixture_apk(fixture)) as z:
        return z.read("classes.dex")


@cache
def report(name: str, trials: int | None = None) -> dict:  # type: ignore[type-arg]
    from appaudit.api import ScanOptions, scan
    from appaudit.apk.limits import Limits
    from appaudit.report import render

    limits = Limits() if trials is None else Limits(max_key_trials=trials)
    doc = json.loads(render(scan(str(HOSTILE / name), ScanOptions(limits=limits)), "json"))
    report_schema_validator().validate(doc)
    return doc


# ----------------------------------------------------------------------- units
def test_rc4_matches_published_test_vectors() -> None:
    from appaudit.apk.recover import rc4

    # Test vectors of the original RC4 description (as listed by Wikipedia / RFC 6229's keystreams).
    assert rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"
    assert rc4(b"Wiki", b"pedia").hex() == "1021bf0420"
    assert rc4(b"Secret", b"Attack at dawn").hex() == "45a01f645fc35b383552544b9bf5"
    assert rc4(bytes(range(1, 6)), bytes(16)).hex() == "b2396305f03dc027ccc3524a0a1118a8"  # RFC 6229, 40-bit key


def test_dex_header_recogniser_needs_all_twenty_known_bytes() -> None:
    from appaudit.apk.recover import is_dex_header

    head = dex_of("contacts_const")[:0x2C]
    assert is_dex_header(head)
    assert not is_dex_header(b"dex\n035\x00" + bytes(36))  # magic alone is not enough
    assert not is_dex_header(head[:0x24] + b"\x71" + head[0x25:])  # wrong header size
    assert not is_dex_header(b"dex\n099\x00" + head[8:])


@pytest.mark.parametrize(
    ("encode", "steps"),
    [
        (lambda d: base64.b64encode(d), ("base64",)),
        (lambda d: base64.encodebytes(d), ("base64",)),  # wrapped in lines
        (lambda d: zlib.compress(d), ("zlib",)),
        (lambda d: gzip.compress(d, mtime=0), ("gzip",)),
        (lambda d: base64.b64encode(zlib.compress(d)), ("base64", "zlib")),
        (lambda d: zlib.compress(base64.b64encode(d)), ("zlib", "base64")),
    ],
)
def test_plain_encodings_are_undone_layer_by_layer(encode, steps) -> None:  # type: ignore[no-untyped-def]
    from appaudit.apk.recover import plan, unwrap

    dex = dex_of("sms_inbox")
    blob = encode(dex)
    how = plan(blob[:4096])
    assert how is not None
    got = unwrap(blob, how, cap=1 << 20)
    assert got is not None and got.data == dex and got.steps == steps


@pytest.mark.parametrize("key", [b"\x5a", b"\xa7\x1c\x5e", bytes(range(1, 9))])
def test_repeating_xor_key_is_derived_from_the_dex_header(key: bytes) -> None:
    from appaudit.apk.recover import plan, unwrap

    dex = dex_of("calllog")
    blob = bytes(b ^ key[i % len(key)] for i, b in enumerate(dex))
    how = plan(blob[:4096])
    assert how is not None and how.how == "xor" and how.key is not None and how.key.value == key
    got = unwrap(blob, how, cap=1 << 20)
    assert got is not None and got.data == dex
    assert got.steps == (f"xor key {key.hex()} (derived from the DEX header's known bytes)",)


def test_random_bytes_and_media_yield_nothing_and_cost_only_the_budget() -> None:
    from appaudit.apk.keys import Key
    from appaudit.apk.recover import TrialBudget, plan, rc4_search, worth_rc4

    noise = bytes((i * 7919 + (i >> 3) * 104729) % 251 for i in range(8192))
    assert plan(noise[:4096]) is None
    assert worth_rc4(noise[:4096], len(noise))
    assert not worth_rc4(b"\x89PNG\r\n\x1a\n" + noise[:4088], len(noise))  # a known media format
    assert not worth_rc4(noise[:512], 512)  # too small
    assert not worth_rc4(dex_of("calllog")[:4096], 4096)  # not random-looking
    keys = [Key(bytes([k, k + 1]), "test") for k in range(50)]
    budget = TrialBudget(30)
    assert rc4_search({"a": noise[:4096], "b": noise[4096:]}, keys, budget) == {}
    assert budget.left == 0  # stopped at the budget, not at the end of the keys


def test_rc4_key_found_among_candidates_with_and_without_a_length_prefix() -> None:
    from appaudit.apk.keys import Key
    from appaudit.apk.recover import Plan, TrialBudget, rc4, rc4_search, unwrap

    dex = dex_of("contacts_const")
    other = dex_of("sms_inbox")
    keys = [Key(b"decoy-%d" % i, "decoy") for i in range(20)] + [Key(b"kc", "test key"), Key(b"Mlm", "second")]
    plain = rc4(b"kc", dex)
    prefixed = len(other).to_bytes(4, "little") + rc4(b"Mlm", other) + b"trailing padding"
    noise = bytes((i * 31 + 7) % 256 for i in range(4096))
    budget = TrialBudget(100)
    found = rc4_search({"plain": plain[:4096], "prefixed": prefixed[:4096], "noise": noise}, keys, budget)
    assert found == {"plain": Plan("rc4", Key(b"kc", "test key"), 0), "prefixed": Plan("rc4", Key(b"Mlm", "second"), 4)}
    assert budget.left == 100 - 22  # one trial per key, whatever the number of entries
    got = unwrap(prefixed, found["prefixed"], cap=1 << 20)
    assert got is not None and got.data == other
    assert got.steps == ("rc4 after a 4-byte length, key 4d6c6d (second)",)
    whole = unwrap(plain, found["plain"], cap=1 << 20)
    assert whole is not None and whole.data == dex


def test_key_candidates_are_the_stubs_arrays_and_their_xor() -> None:
    from appaudit.apk.dex.reader import DexFile
    from appaudit.apk.keys import key_candidates

    with zipfile.ZipFile(HOSTILE / "encrypted_payloads.apk") as z:
        stub = DexFile(z.read("classes.dex"), "classes.dex")
    keys = list(key_candidates([stub]))
    arrays = [(k.value, k.source) for k in keys if "array" in k.source]
    k1 = "Lcom/example/hostile/crypt/MainActivity;->key1()[B"
    assert arrays == [
        (bytes([0x4B, 0x72, 0x9A, 0x10, 0x3E, 0xD5, 0x61, 0x07]), f"byte array in {k1}"),
        (bytes([0x2C, 0x5F, 0x91]), f"byte array in {k1}"),
        (STUB_KEY1, f"XOR of two byte arrays in {k1}"),
        (STUB_KEY2, "byte array in Lcom/example/hostile/crypt/MainActivity;->key2()[B"),
    ]
    strings = [k.value for k in keys if k.source == "string constant in classes.dex"]
    assert b"com.example.hostile.crypt" not in strings  # not in this DEX: the manifest holds it
    assert b"/data/data/com.example.hostile.crypt/files/p.dex" in strings
    assert len({k.value for k in keys}) == len(keys)  # each value once


# -------------------------------------------------------------------- fixtures
def test_encrypted_payloads_are_recovered_and_analysed() -> None:
    doc = report("encrypted_payloads.apk")
    app = doc["app"]
    assert app["dex_files"] == ["classes.dex", "assets/config.json[rc4]", "assets/update.bin[rc4]!classes.dex"]
    k1 = "Lcom/example/hostile/crypt/MainActivity;->key1()[B"
    k2 = "Lcom/example/hostile/crypt/MainActivity;->key2()[B"
    recovered = {(r["entry"], tuple(r["steps"]), tuple(r["dex_files"])) for r in app["recovered_payloads"]}
    assert recovered == {
        (
            "assets/config.json",
            (f"rc4 key {STUB_KEY1.hex()} (XOR of two byte arrays in {k1})",),
            ("assets/config.json[rc4]",),
        ),
        (
            "assets/update.bin",
            (f"rc4 after a 4-byte length, key {STUB_KEY2.hex()} (byte array in {k2})",),
            ("assets/update.bin[rc4]!classes.dex",),
        ),
    }
    by_entry = {r["entry"]: r for r in app["recovered_payloads"]}
    import hashlib

    contacts = dex_of("contacts_const")
    assert by_entry["assets/config.json"]["sha256"] == hashlib.sha256(contacts).hexdigest()
    assert by_entry["assets/config.json"]["size"] == len(contacts)
    # contacts_const's upload, found in the decrypted code, makes the stub a harvester.
    assert doc["verdict"] == "harvests"
    assert doc["data_classes"]["contacts"]["level"] == "harvested"
    assert doc["data_classes"]["contacts"]["exfiltrated"] == ["network"]
    dexes = {e["dex"] for f in doc["findings"] if f["data_class"] == "contacts" for e in f["evidence"] if e["dex"]}
    assert dexes == {"assets/config.json[rc4]"}
    assert doc["data_classes"]["sms"]["read"] is True
    sms_dexes = {e["dex"] for f in doc["findings"] if f["data_class"] == "sms" for e in f["evidence"] if e["dex"]}
    assert sms_dexes == {"assets/update.bin[rc4]!classes.dex"}
    # The random asset yields nothing; the broken base64 is reported, once.
    assert doc["errors"] == [
        {"where": "assets/broken.b64", "message": "looked base64-encoded, but did not decode to a DEX or zip"}
    ]
    # Still a packer stub that loads code: the coverage stays partial.
    assert doc["coverage"]["status"] == "partial"
    assert [r["code"] for r in doc["coverage"]["reasons"]] == ["dynamic_code_loading"]


def test_encoded_payloads_base64_zlib_and_xor() -> None:
    doc = report("encoded_payloads.apk")
    app = doc["app"]
    assert app["dex_files"] == ["classes.dex", "assets/db[base64]", "res/raw/skin.dat[xor]"]
    assert [(r["entry"], r["steps"]) for r in app["recovered_payloads"]] == [
        ("assets/db", ["base64", "zlib"]),
        ("res/raw/skin.dat", ["xor key a71c5e (derived from the DEX header's known bytes)"]),
    ]
    assert doc["data_classes"]["call_log"]["level"] == "harvested"
    assert doc["data_classes"]["sms"]["level"] == "harvested"
    assert doc["errors"] == []


def test_key_trials_limit_turns_the_rc4_search_off_only() -> None:
    off = report("encrypted_payloads.apk", trials=0)
    assert off["app"]["dex_files"] == ["classes.dex"]
    assert off["app"]["recovered_payloads"] == []
    assert off["data_classes"]["contacts"]["level"] == "declared"
    assert off["verdict"] == "inconclusive"
    still = report("encoded_payloads.apk", trials=0)
    assert len(still["app"]["recovered_payloads"]) == 2


def test_packer_stub_noise_is_not_recovered() -> None:
    doc = report("packer_stub.apk")
    assert doc["app"]["recovered_payloads"] == []
    assert doc["app"]["dex_files"] == ["classes.dex"]


def test_recovered_payloads_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apk = str(HOSTILE / "encrypted_payloads.apk")
    out = tmp_path / "r"
    res = run_cli(
        ["scan", apk, "--format", "text", "--format", f"html:{out}.html", "--format", f"markdown:{out}.md"], capsys
    )
    stdout = res.out
    assert res.code == 1  # harvests, default --fail-on
    assert "Recovered payloads assets/config.json: rc4 key 672d0b3c61444d58" in stdout.replace("\n", " ")
    assert "dex    classes.dex, assets/config.json[rc4], assets/update.bin[rc4]!classes.dex" in stdout
    html = Path(f"{out}.html").read_text()
    assert "Recovered payloads" in html and "assets/config.json: rc4 key 672d0b3c61444d58" in html
    md = Path(f"{out}.md").read_text()
    assert "Recovered payloads" in md and "assets/update.bin: rc4 after a 4-byte length" in md
