"""The in-memory zip reader (apk.container): Android's tolerance, bounded reads."""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT, fixture_apk


@cache
def make() -> ModuleType:
    """fixtures/hostile/make.py, for its zip writer."""
    spec = importlib.util.spec_from_file_location("hostile_make", ROOT / "fixtures" / "hostile" / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_make"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def open_zip(raw: bytes, **limits: int):  # type: ignore[no-untyped-def]
    from appaudit.apk.container import Budget, ZipContainer
    from appaudit.apk.limits import Limits

    lim = Limits(**limits)
    return ZipContainer(raw, limits=lim, budget=Budget(lim))


def test_reads_every_entry_like_zipfile() -> None:
    import zipfile

    raw = Path(fixture_apk("multidex")).read_bytes()
    z = open_zip(raw)
    with zipfile.ZipFile(fixture_apk("multidex")) as ref:
        assert z.names() == ref.namelist()
        for name in ref.namelist():
            assert z.read(name) == ref.read(name)
    assert (z.duplicates, z.unsafe_names, z.encrypted, z.odd_methods) == ((), (), (), ())


def test_prepended_data_shifts_offsets() -> None:
    raw = Path(fixture_apk("benign")).read_bytes()
    z = open_zip(b"#!/bin/sh\nexit 0\n" * 10 + raw)
    assert z.read("AndroidManifest.xml") == open_zip(raw).read("AndroidManifest.xml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"PK\x03\x04 no end record", "no end of central directory record"),
        (b"PK\x05\x06" + b"\x00" * 8 + struct.pack("<IIH", 0, 0xFFFFFFFF, 0), "zip64 archives are not supported"),
        (
            b"PK\x05\x06" + b"\x00" * 8 + struct.pack("<IIH", 46, 4, 0),
            "central directory not found where the end record says",
        ),
        (b"PK\x05\x06" + b"\x00" * 18, "the central directory lists no entries"),
    ],
)
def test_unreadable_containers(raw: bytes, message: str) -> None:
    from appaudit.apk.container import ZipError

    with pytest.raises(ZipError, match=f"^{message}$"):
        open_zip(raw)


def test_entry_count_limit() -> None:
    from appaudit.apk.container import ZipError

    with pytest.raises(ZipError, match=r"^more than 2 entries \(limit max_entries\)$"):
        open_zip(Path(fixture_apk("benign")).read_bytes(), max_entries=2)


def test_duplicates_unsafe_names_flags_and_methods_are_listed() -> None:
    m = make()
    deflated = zlib.compress(b"x" * 1000)[2:-4]
    raw = m.write_zip(
        [
            m.Item("a.txt", b"first"),
            m.Item("a.txt", b"second"),
            m.Item("../up.txt", b"u"),
            m.Item("/abs", b"a"),
            m.Item("C:\\win.txt", b"w"),
            m.Item("ok/..name", b"fine"),
            m.Item("enc.bin", b"secret?", flags=1),
            m.Item("odd-stored", b"same size", method_field=12),
            m.Item("odd-deflated", b"x" * 1000, method=8, method_field=99, payload=deflated),
        ]
    )
    z = open_zip(raw)
    assert z.duplicates == ("a.txt",)
    assert [z.read(e) for e in z.all("a.txt")] == [b"first", b"second"]
    assert z.read("a.txt") == b"first"
    assert z.unsafe_names == ("../up.txt", "/abs", "C:\\win.txt")
    assert z.encrypted == ("enc.bin",)
    assert z.read("enc.bin") == b"secret?"  # the flag is ignored, as Android ignores it
    assert z.odd_methods == ("odd-deflated", "odd-stored")
    assert z.read("odd-stored") == b"same size"
    assert z.read("odd-deflated") == b"x" * 1000


def test_entry_errors() -> None:
    from appaudit.apk.container import EntryError

    m = make()
    raw = m.write_zip(
        [m.Item("data.bin", b"y" * 100, method=8), m.Item("bad.bin", b"z" * 50, method=8, payload=b"\xff" * 20)]
    )
    z = open_zip(raw)
    with pytest.raises(EntryError, match=r"^bad.bin: corrupt compressed data \(Error -3 ") as exc:
        z.read("bad.bin")
    assert exc.value.code == "entry_unreadable"
    broken = bytearray(raw)
    broken[0:4] = b"XXXX"  # data.bin's local header
    with pytest.raises(EntryError, match="^data.bin: local header missing$"):
        open_zip(bytes(broken)).read("data.bin")
    with pytest.raises(EntryError, match="^nope: no such entry$"):
        z.read("nope")


def test_compression_ratio_and_sizes_are_bounded() -> None:
    from appaudit.apk.container import EntryError

    m = make()
    zeros = bytes(4 * 1024 * 1024)
    raw = m.write_zip(
        [
            m.Item("small-but-dense", bytes(100_000), method=8),  # 1000:1 but under the 1 MiB floor
            m.Item("bomb", zeros, method=8, payload=m.deflate(zeros)),
            m.Item("plain", b"p" * 5000),
        ]
    )
    z = open_zip(raw)
    assert z.read("small-but-dense") == bytes(100_000)
    with pytest.raises(EntryError) as exc:
        z.read("bomb")
    packed = len(m.deflate(zeros))
    assert (exc.value.code, exc.value.reason) == (
        "zip_bomb",
        f"inflates beyond 100:1 from {packed} bytes (limit max_ratio)",
    )
    with pytest.raises(EntryError) as exc:
        open_zip(raw, max_entry_size=4000).read("plain")
    assert exc.value.code == "entry_too_large"
    budget = open_zip(raw, max_total_size=104_000)
    budget.read("small-but-dense")
    with pytest.raises(EntryError) as exc:
        budget.read("plain")
    assert (exc.value.code, exc.value.reason) == (
        "size_limit",
        "the input's total uncompressed size would pass 104000 bytes (limit max_total_size)",
    )


def test_peek_reads_only_the_start() -> None:
    m = make()
    raw = m.write_zip([m.Item("a.dex", b"dex\n035\x00" + bytes(10_000), method=8), m.Item("b", b"PK\x03\x04rest")])
    z = open_zip(raw)
    assert z.peek(z.get("a.dex"), 4) == b"dex\n"  # type: ignore[arg-type]
    assert z.peek(z.get("b"), 4) == b"PK\x03\x04"  # type: ignore[arg-type]
    assert z.budget.used == 0


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("assets/x.bin", False),
        ("a/..b/c", False),
        ("../x", True),
        ("a/../../x", True),
        ("/etc/passwd", True),
        ("a\\b", True),
        ("D:x", True),
        ("nul\x00byte", True),
    ],
)
def test_unsafe_names(name: str, unsafe: bool) -> None:
    from appaudit.apk.container import is_unsafe_name

    assert is_unsafe_name(name) is unsafe
