"""The debug_info_item decoder: exact events on the debug fixture, and bounded on hostile programs."""

from __future__ import annotations

import struct
import zipfile

import pytest

from appaudit.apk.dex import debuginfo
from appaudit.apk.dex.debuginfo import (
    DebugEvent,
    class_source_file,
    debug_info_offset,
    read_debug_info,
    sleb128,
)
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.structure import class_def_index, class_methods
from conftest import fixture_apk

H = "Lcom/example/fixture/Harvester;"


def _dex(name: str) -> DexFile:
    with zipfile.ZipFile(fixture_apk(name)) as zf:
        return DexFile(zf.read("classes.dex"), "classes.dex")


def _span(dex: DexFile, cls: str, method: str) -> CodeSpan:
    ci = class_def_index(dex, cls)
    assert ci is not None
    for entry in class_methods(dex, ci):
        if dex.method_ref(entry.method_idx).name == method:
            assert entry.span is not None
            return entry.span
    raise AssertionError(method)


def _with_program(program: bytes) -> tuple[DexFile, CodeSpan]:
    """The debug fixture with Harvester.harvest's debug_info_off pointing at ``program`` (appended)."""
    dex = _dex("contacts_debuginfo")
    span = _span(dex, H, "harvest")
    raw = bytearray(dex.data)
    struct.pack_into("<I", raw, span.start - 8, len(raw))
    return DexFile(bytes(raw) + program, "classes.dex"), span


def test_harvest_events_are_exact() -> None:
    dex = _dex("contacts_debuginfo")
    info = read_debug_info(dex, _span(dex, H, "harvest"))
    assert info is not None
    assert (info.line_start, info.parameter_names, info.damaged) == (21, ("ctx",), False)
    assert info.events[:3] == (
        DebugEvent(offset=0, kind="prologue_end"),
        DebugEvent(offset=0, kind="line", line=21),
        DebugEvent(offset=10, kind="start_local", register=7, name="sb", type_desc="Ljava/lang/StringBuilder;"),
    )
    assert info.events[-2:] == (
        DebugEvent(offset=138, kind="end_local", register=6),
        DebugEvent(offset=146, kind="epilogue_begin"),
    )
    assert info.line_at(0x12) == 23 and info.line_at(0x14) == 23 and info.line_at(0x16) == 24


def test_source_file_change_and_restart_local() -> None:
    dex = _dex("contacts_debuginfo")
    info = read_debug_info(dex, _span(dex, H, "label"))
    assert info is not None
    assert info.parameter_names == ("kind", "big")
    assert DebugEvent(offset=190, kind="source_file", name="Util.kt") in info.events
    assert DebugEvent(offset=194, kind="restart_local", register=2) in info.events
    assert info.source_file_at(188, "Harvester.java") == "Harvester.java"
    assert info.source_file_at(190, "Harvester.java") == "Util.kt"
    assert info.line_at(190) == 7


def test_no_debug_info_and_no_source_file() -> None:
    plain = _dex("contacts_const")
    assert read_debug_info(plain, _span(plain, H, "harvest")) is None
    ci = class_def_index(plain, H)
    assert ci is not None and class_source_file(plain, ci) == "Harvester.java"
    obfuscated = _dex("obfuscated_harvest")
    ci = class_def_index(obfuscated, "La/b/c;")
    assert ci is not None and class_source_file(obfuscated, ci) is None
    assert class_source_file(obfuscated, 10_000) is None


def test_sleb128() -> None:
    assert sleb128(b"\x7f", 0) == (-1, 1)
    assert sleb128(b"\x80\x7f", 0) == (-128, 2)
    assert sleb128(b"\x3f", 0) == (63, 1)
    assert sleb128(b"\xff\xff\xff\xff\x07", 0) == (0x7FFFFFFF, 5)
    assert sleb128(b"\x80\x80\x80\x80\x78", 0) == (-(1 << 31), 5)


def test_special_opcodes_and_advances() -> None:
    # line_start 5, no parameters; special 0x0a+4+15 = line +0, address +1; advance_line -2; special line +1
    dex, span = _with_program(bytes([5, 0, 0x0A + 4 + 15, 0x02, 0x7E, 0x0A + 5, 0x01, 3, 0x0A + 4, 0x00]))
    info = read_debug_info(dex, span)
    assert info is not None and not info.damaged
    assert info.positions == ((2, 5), (2, 4), (8, 4))
    assert debug_info_offset(dex, span) == len(_dex("contacts_debuginfo").data)


@pytest.mark.parametrize(
    ("program", "positions"),
    [
        pytest.param(bytes([1, 0, 0x0A + 4, 0x01]), ((0, 1),), id="runs-off-the-file"),
        pytest.param(bytes([1, 0, 0x0A + 4, 0x01, 0xFF, 0xFF, 0x03, 0x0A + 4, 0]), ((0, 1),), id="past-the-code"),
        pytest.param(bytes([1, 0, 0x0A + 4, 0x03, 0, 0xFF, 0xFF, 0x7F, 0, 0]), ((0, 1),), id="missing-string"),
        pytest.param(bytes([1, 0xFF, 0xFF, 0x03]), (), id="absurd-parameter-count"),
    ],
)
def test_hostile_programs_keep_what_decoded(program: bytes, positions: tuple[tuple[int, int], ...]) -> None:
    dex, span = _with_program(program)
    info = read_debug_info(dex, span)
    assert info is not None
    assert info.damaged
    assert info.positions == positions


def test_endless_program_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debuginfo, "MAX_DEBUG_OPS", 1000)
    dex, span = _with_program(bytes([1, 0]) + bytes([0x02, 0x00]) * 5000 + b"\x00")
    info = read_debug_info(dex, span)
    assert info is not None and info.damaged and info.events == ()


def test_implausible_lines_are_not_reported() -> None:
    # advance_line -5 from line_start 1: line -4, a position d8 never writes
    dex, span = _with_program(bytes([1, 0, 0x02, 0x7B, 0x0A + 4, 0x00]))
    info = read_debug_info(dex, span)
    assert info is not None and info.positions == ((0, -4),)
    assert info.line_at(0) is None


def test_offset_zero_and_outside_the_file() -> None:
    dex = _dex("contacts_debuginfo")
    span = _span(dex, H, "harvest")
    raw = bytearray(dex.data)
    struct.pack_into("<I", raw, span.start - 8, len(raw) + 100)
    assert read_debug_info(DexFile(bytes(raw), "classes.dex"), span) is None


def test_mutated_dex_never_breaks_excerpts() -> None:
    """Random byte changes in the code, debug info and try tables: excerpts and positions come back
    (or None), never an exception."""
    import random

    from appaudit.apk.dex.excerpt import excerpt_for, source_position
    from appaudit.apk.dex.index import DexCodeIndex

    base = _dex("contacts_debuginfo")
    lo = min(s.start for s in base.code_spans) - 16
    rng = random.Random(15)
    methods = [("com.example.fixture.Harvester", "harvest(Landroid/content/Context;)Ljava/lang/String;", 0x12)]
    methods.append(("com.example.fixture.Harvester", "label(IJ)Ljava/lang/String;", 0x6A))
    methods.append(("com.example.fixture.MainActivity", "onCreate(Landroid/os/Bundle;)V", 0x6))
    shown = 0
    for _ in range(300):
        raw = bytearray(base.data)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(lo, len(raw))] = rng.randrange(256)
        code = DexCodeIndex([DexFile(bytes(raw), "classes.dex")])
        for cls, method, offset in methods:
            excerpt = excerpt_for(code, "classes.dex", cls, method, offset, context=50)
            source_position(code, "classes.dex", cls, method, offset)
            shown += excerpt is not None
    assert shown > 0
