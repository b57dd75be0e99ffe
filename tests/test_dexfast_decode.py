"""decode_method's per-DEX cache of instruction forms and its direct Insn construction give the
instructions a fresh, uncached decode gives (androguard is the oracle of both in test_dex_oracle.py)."""

from __future__ import annotations

import dataclasses
import struct
import zipfile

import pytest

from appaudit.apk.dex import code
from appaudit.apk.dex.code import decode_method, instruction_starts, payload_units
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.types import Insn
from conftest import fixture_apk

_HEADER = struct.Struct("<8sI20s20I")


def _bare_dex(insns: bytes) -> tuple[DexFile, CodeSpan]:
    """A DEX of empty tables whose only content is ``insns`` right after the header."""
    header = _HEADER.pack(b"dex\n035\x00", 0, bytes(20), 0x70 + len(insns), 0x70, 0x12345678, *([0] * 17))
    data = header + insns
    return DexFile(data, "classes.dex"), CodeSpan(0x70, len(data), 0, 0)


def test_insn_built_from_slots_equals_the_dataclass_constructor() -> None:
    form = ("invoke-virtual", 0x6E, 3, (1, 2), "La;->b()V", "method", None, -4, 5, None)
    built = code._insn(10, form)  # type: ignore[arg-type]
    expected = Insn(
        offset=10,
        op="invoke-virtual",
        opcode=0x6E,
        length=3,
        regs=(1, 2),
        ref="La;->b()V",
        ref_kind="method",
        literal=None,
        target=6,
        index=5,
        proto_index=None,
    )
    assert built == expected
    assert hash(built) == hash(expected)
    # every field of Insn is set: a field added to Insn must be added to _insn too
    assert {f.name: getattr(built, f.name) for f in dataclasses.fields(Insn)} == dataclasses.asdict(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.offset = 0  # type: ignore[misc]


def test_same_branch_bytes_at_two_offsets_keep_their_own_targets() -> None:
    # goto +1 at 0 and at 2 are the same bytes; their targets are 2 and 4. Then return-void.
    dex, span = _bare_dex(bytes.fromhex("280128010e00"))
    assert [(i.offset, i.op, i.target) for i in decode_method(dex, span)] == [
        (0, "goto", 2),
        (2, "goto", 4),
        (4, "return-void", None),
    ]
    # a second decode, served from the cache, is the same
    assert [(i.offset, i.target) for i in decode_method(dex, span)] == [(0, 2), (2, 4), (4, None)]


def test_truncated_instruction_keeps_its_mnemonic_only() -> None:
    # const-string v0 needs 2 units; only 1 is left before the end of the method
    dex, span = _bare_dex(bytes.fromhex("0e001a00"))
    assert decode_method(dex, span) == (
        Insn(offset=0, op="return-void", opcode=0x0E, length=1),
        Insn(offset=2, op="const-string", opcode=0x1A, length=2),
    )


def _fresh(dex: DexFile, span: CodeSpan) -> list[Insn]:
    """Each instruction decoded on its own, nothing shared: the reference decode_method must match."""
    data = dex.data
    out = []
    for pos in instruction_starts(data, span.start, span.end):
        rel = pos - span.start
        op, hi = data[pos], data[pos + 1]
        if op == 0 and hi != 0:
            out.append(
                Insn(
                    offset=rel,
                    op=code._PAYLOAD_NAMES.get(hi, "nop"),
                    opcode=hi << 8,
                    length=payload_units(data, pos, span.end),
                )
            )
            continue
        name, units, read, kind = code._TABLE[op]
        if pos + 2 * units > span.end:
            out.append(Insn(offset=rel, op=name, opcode=op, length=units))
            break
        regs, index, literal, target, proto = read(data, pos, hi, rel)
        ref, ref_kind = code._ref(dex, kind, index) if index is not None else (None, "")
        out.append(
            Insn(
                offset=rel,
                op=name,
                opcode=op,
                length=units,
                regs=regs,
                ref=ref,
                ref_kind=ref_kind,
                literal=literal,
                target=target,
                index=index,
                proto_index=proto,
            )
        )
    return out


@pytest.mark.parametrize("name", ["contacts_all_uris", "obfuscated_harvest", "multidex"])
def test_cached_decode_equals_a_fresh_decode_of_every_method(name: str) -> None:
    with zipfile.ZipFile(fixture_apk(name)) as z:
        dex = DexFile(z.read("classes.dex"), "classes.dex")
    spans = dex.code_spans
    assert spans
    for _round in range(2):  # cold, then served from the cache
        for span in spans:
            assert list(decode_method(dex, span)) == _fresh(dex, span)
