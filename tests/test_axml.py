"""Binary XML: the tolerant reader agrees with androguard, and reads what androguard rejects."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from conftest import ALL_FIXTURES, CORPUS_CACHE, ROOT, fixture_apk

HOSTILE_WITH_MANIFEST = ["nested_payload.apk", "packer_stub.apk", "flutter_shell.apk", "react_native.apk"]


def manifest_of(path: str | Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("AndroidManifest.xml")


def both(raw: bytes):  # type: ignore[no-untyped-def]
    from androguard.core.axml import AXMLPrinter

    from appaudit.apk.axml import parse_axml
    from appaudit.apk.manifest import _facts

    return _facts(AXMLPrinter(raw).get_xml_obj()), _facts(parse_axml(raw).root)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_tolerant_reader_agrees_with_androguard_on_fixtures(name: str) -> None:
    ours, theirs = both(manifest_of(fixture_apk(name)))
    assert ours == theirs


@pytest.mark.parametrize("name", HOSTILE_WITH_MANIFEST)
def test_tolerant_reader_agrees_with_androguard_on_hostile_fixtures(name: str) -> None:
    ours, theirs = both(manifest_of(ROOT / "fixtures" / "hostile" / name))
    assert ours == theirs


@pytest.mark.corpus
def test_tolerant_reader_agrees_with_androguard_on_the_corpus() -> None:
    from conftest import corpus_samples

    folder = corpus_samples()
    compared = 0
    for apk in sorted(folder.glob("*.apk")):
        raw = manifest_of(apk)
        try:
            ours, theirs = both(raw)
        except Exception:  # the malformed-manifest sample: androguard cannot read it
            continue
        assert ours == theirs, apk.name
        compared += 1
    assert compared == 68


def _chunks(raw: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, type, header size, size) of the chunks after the file header."""
    out, pos = [], 8
    while pos + 8 <= len(raw):
        ctype, hsize, size = struct.unpack_from("<HHI", raw, pos)
        out.append((pos, ctype, hsize, size))
        pos += size
    return out


def _string_index(raw: bytes, text: str) -> int:
    from appaudit.apk.stringpool import StringPool

    pos, _t, hsize, size = _chunks(raw)[0]
    pool = StringPool(raw, pos, hsize, size)
    return next(i for i in range(len(pool.offsets)) if pool.get(i) == text)


CLEAN = manifest_of(fixture_apk("contacts_const"))


@pytest.mark.parametrize(
    ("what", "offset", "value", "note"),
    [
        ("file size larger than the file", 4, 0xFFFFFF, "androguard found no document"),
        ("string pool style count absurd", 20, 0x10000, "androguard's parser failed (error)"),
    ],
)
def test_tampered_headers_are_read_with_the_tolerant_reader(what: str, offset: int, value: int, note: str) -> None:
    from appaudit.apk.manifest import parse_manifest

    raw = bytearray(CLEAN)
    struct.pack_into("<I", raw, offset, value)
    facts = parse_manifest(bytes(raw))
    clean = parse_manifest(CLEAN)
    assert facts.notes == (f"{note}; read with the tolerant binary-XML reader",)
    assert (facts.package, facts.permissions, facts.components) == (clean.package, clean.permissions, clean.components)


def test_attribute_names_are_read_by_resource_id() -> None:
    """Malware renames attribute name strings; Android reads attributes by their resource id."""
    from appaudit.apk.axml import parse_axml
    from appaudit.apk.manifest import _facts

    utf16 = "name".encode("utf-16-le")
    pos = CLEAN.find(b"\x04\x00" + utf16)
    assert pos > 0
    raw = CLEAN[: pos + 2] + "zzzz".encode("utf-16-le") + CLEAN[pos + 2 + len(utf16) :]
    assert _facts(parse_axml(raw).root) == _facts(parse_axml(CLEAN).root)


def test_namespaced_elements_count_like_plain_ones() -> None:
    """``<android:uses-permission>`` is a uses-permission to Android (it ignores an element's namespace)."""
    from appaudit.apk.manifest import parse_manifest

    raw = bytearray(CLEAN)
    android = _string_index(CLEAN, "http://schemas.android.com/apk/res/android")
    name = _string_index(CLEAN, "uses-permission")
    for pos, ctype, hsize, _size in _chunks(CLEAN):
        if ctype == 0x0102 and struct.unpack_from("<I", CLEAN, pos + hsize + 4)[0] == name:
            struct.pack_into("<I", raw, pos + hsize, android)  # the element's namespace
    facts = parse_manifest(bytes(raw))
    assert facts.notes == ()  # androguard reads it (as '{ns}uses-permission') ...
    assert facts.permissions == parse_manifest(CLEAN).permissions  # ... and it still counts


def test_manifest_cut_short_is_incomplete_and_keeps_its_string_pool_permissions(tmp_path: Path) -> None:
    from appaudit.api import scan
    from appaudit.apk.manifest import parse_manifest

    cut = CLEAN[: int(len(CLEAN) * 0.75)]
    facts = parse_manifest(cut)
    assert facts.incomplete
    assert facts.permissions == ("android.permission.INTERNET", "android.permission.READ_CONTACTS")
    assert facts.notes[1] == (
        "the file ends before its <manifest> element does; permission names of its string pool added"
    )
    apk = tmp_path / "cut.apk"
    out = io.BytesIO()
    with zipfile.ZipFile(fixture_apk("contacts_const")) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, cut if info.filename == "AndroidManifest.xml" else zin.read(info))
    apk.write_bytes(out.getvalue())
    rep = scan(str(apk))
    assert [r.code for r in rep.coverage.reasons] == ["manifest_incomplete"]
    assert rep.data_classes["contacts"].read is True


def test_unreadable_binary_xml_falls_back_to_the_string_pool() -> None:
    from appaudit.apk.manifest import ManifestError, parse_manifest

    with pytest.raises(ManifestError, match="tolerant reader: no element could be read"):
        parse_manifest(CLEAN[:600])


@pytest.mark.corpus
def test_corpus_sample_with_namespaced_permissions() -> None:
    """InsecureBankv2 declares three permissions as <android:uses-permission>; Android grants them."""
    apk = CORPUS_CACHE / "b18af2a0e44d7634bbcdf93664d9c78a2695e050393fcfbb5e8b91f902d194a4.apk"
    if not apk.is_file():
        pytest.skip("corpus not extracted")
    from appaudit.apk.manifest import parse_manifest

    assert "android.permission.READ_CALL_LOG" in parse_manifest(manifest_of(apk)).permissions
