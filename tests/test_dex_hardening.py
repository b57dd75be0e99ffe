"""The DEX reader on damaged and hostile files: DexFormatError, bounded work, never a crash."""

from __future__ import annotations

import struct
import time
import zipfile
from functools import cache

import pytest

from conftest import fixture_apk

HEADER_TABLES = {  # (size field offset, table name)
    0x38: "string_ids",
    0x40: "type_ids",
    0x48: "proto_ids",
    0x50: "field_ids",
    0x58: "method_ids",
    0x60: "class_defs",
}


@cache
def dex_bytes(name: str = "contacts_all_uris") -> bytes:
    with zipfile.ZipFile(fixture_apk(name)) as z:
        return z.read("classes.dex")


def patched(data: bytes, *fields: tuple[int, int]) -> bytes:
    buf = bytearray(data)
    for off, value in fields:
        struct.pack_into("<I", buf, off, value)
    return bytes(buf)


def open_dex(data: bytes):  # type: ignore[no-untyped-def]
    from appaudit.apk.dex.reader import DexFile

    return DexFile(data, "classes.dex")


@pytest.mark.parametrize("field", sorted(HEADER_TABLES))
def test_absurd_table_sizes_are_format_errors(field: int) -> None:
    from appaudit.errors import DexFormatError

    data = patched(dex_bytes(), (field, 0xFFFFFFFF))
    (off,) = struct.unpack_from("<I", data, field + 4)
    with pytest.raises(DexFormatError) as exc:
        open_dex(data)
    assert str(exc.value) == (
        f"classes.dex: {HEADER_TABLES[field]} table (4294967295 entries at {off:#x}) lies outside the file"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"dex\n035\x00", "classes.dex: not a DEX file"),
        (b"PK\x03\x04" + bytes(200), "classes.dex: not a DEX file"),
    ],
)
def test_not_a_dex(data: bytes, message: str) -> None:
    from appaudit.errors import DexFormatError

    with pytest.raises(DexFormatError, match=f"^{message}$"):
        open_dex(data)


def test_leb128_past_the_end_and_bad_mutf8() -> None:
    from appaudit.apk.dex.encoding import decode_mutf8, uleb128
    from appaudit.errors import DexFormatError

    assert uleb128(b"\xe5\x8e\x26", 0) == (624485, 3)
    with pytest.raises(DexFormatError, match="runs past the end of the file"):
        uleb128(b"\xe5\x8e", 0)
    assert decode_mutf8(b"ok\xc0\x80x") == "ok\x00x"
    assert decode_mutf8(b"\xc5A") == "\ufffdA"  # neither UTF-8 nor MUTF-8: replaced, not raised


def test_string_and_type_list_damage_are_format_errors() -> None:
    from appaudit.errors import DexFormatError

    dex = open_dex(dex_bytes())
    with pytest.raises(DexFormatError, match="string index 99999 out of range"):
        dex.string(99999)
    data = bytearray(dex_bytes())
    (string_ids_off,) = struct.unpack_from("<I", data, 0x3C)
    struct.pack_into("<I", data, string_ids_off, len(data) + 10)  # string 0's data outside the file
    with pytest.raises(DexFormatError, match="string 0 data outside the file"):
        open_dex(bytes(data)).string(0)
    with pytest.raises(DexFormatError, match="is outside the file or absurd"):
        open_dex(dex_bytes() + struct.pack("<I", 0xFFFFFF)).type_list(len(dex_bytes()))


def test_class_data_shared_by_every_class_is_read_once() -> None:
    data = dex_bytes()
    (count, off) = struct.unpack_from("<II", data, 0x60)
    first = struct.unpack_from("<I", data, off + 24)[0]
    shared = patched(data, *((off + 32 * i + 24, first) for i in range(count)))
    spans = open_dex(shared).code_spans
    assert {s.class_def_idx for s in spans} == {0}
    assert len({s.start for s in spans}) == len(spans)


def test_method_code_running_past_the_next_method_is_cut() -> None:
    dex = open_dex(dex_bytes())
    first = dex.code_spans[0]
    # insns_size of the first method's code item -> absurd
    data = patched(dex_bytes(), (first.start - 4, 0x7FFFFFFF))
    spans = open_dex(data).code_spans
    assert spans[0].end == spans[1].start
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))


def test_encoded_values_nested_too_deep_are_format_errors() -> None:
    from appaudit.apk.dex.structure import _read_encoded_value
    from appaudit.errors import DexFormatError

    base = dex_bytes()
    dex = open_dex(base + b"\x1c\x01" * 5000 + b"\x1e")  # 5000 nested one-item arrays, then null
    with pytest.raises(DexFormatError, match="nested more than 16 deep"):
        _read_encoded_value(dex, len(base))
    shallow = open_dex(base + b"\x1c\x01" * 3 + b"\x1e")
    assert _read_encoded_value(shallow, len(base)) == ([[[None]]], len(base) + 7)


def test_damaged_dex_costs_coverage_not_the_report() -> None:
    from appaudit.apk.dex.index import DexCodeIndex

    data = bytearray(dex_bytes())
    (string_ids_off,) = struct.unpack_from("<I", data, 0x3C)
    for i in range(0, 40):  # point many strings outside the file
        struct.pack_into("<I", data, string_ids_off + 4 * i, len(data) + 1)
    index = DexCodeIndex([open_dex(bytes(data))])
    t0 = time.perf_counter()
    index.invocations("Landroid/content/ContentResolver;", ["query"])
    index.defined_classes()
    assert time.perf_counter() - t0 < 1
    assert index.errors and all("Error" not in msg for _, msg in index.errors)
    (reason,) = index.damage_reasons()
    assert reason.code == "dex_damaged" and reason.detail.startswith("classes.dex: ")


def test_decode_method_payloads_truncation_and_unresolvable_references() -> None:
    """One Insn per instruction: a payload by its name and size, an instruction running past the method's end
    by its mnemonic only (and the walk stops there), a pool index out of range left unresolved."""
    from appaudit.apk.dex.code import decode_method
    from appaudit.apk.dex.reader import CodeSpan
    from appaudit.apk.dex.types import Insn

    dex = open_dex(dex_bytes())
    body = (
        b"\x12\xf1"  # const/4 v1, #-1
        + b"\x1a\x00\xff\xff"  # const-string v0, string@65535 (out of range)
        + b"\x00\x01\x01\x00" + b"\x05\x00\x00\x00" + b"\x04\x00\x00\x00"  # packed-switch-payload, 1 target (6 units)
        + b"\x18\x02\x01\x00"  # const-wide v2: 5 units, only 2 present
    )
    start = len(dex.data)
    dex.data = dex.data + body
    insns = decode_method(dex, CodeSpan(start, start + len(body), 0, 0))
    assert insns == (
        Insn(offset=0, op="const/4", opcode=0x12, length=1, regs=(1,), literal=-1),
        Insn(offset=2, op="const-string", opcode=0x1A, length=2, regs=(0,), index=0xFFFF),
        Insn(offset=6, op="packed-switch-payload", opcode=0x0100, length=6),
        Insn(offset=18, op="const-wide", opcode=0x18, length=5),
    )
