"""A 64-bit value fills a register pair (taint_rules.writes_wide): writing a long or double into
``vN`` also overwrites ``vN+1``, so what ``vN+1`` held before (the rows) no longer taints it."""

from __future__ import annotations

import pytest

from appaudit.analysis.taint import Seeds, analyse
from appaudit.analysis.taint_rules import writes_wide
from appaudit.apk.dex.opcodes import LENGTHS, OPCODES
from appaudit.apk.dex.types import Insn, MethodCode
from conftest import contacts_chains, report_json

OPCODE = {name: op for op, (name, _fmt, _kind) in enumerate(OPCODES)}
SINK = "Ljava/net/HttpURLConnection;->getOutputStream()Ljava/io/OutputStream;"


@pytest.mark.parametrize(
    ("op", "wide"),
    [
        ("move-result-wide", True),
        ("move-wide/from16", True),
        ("const-wide/16", True),
        ("const-wide/high16", True),
        ("iget-wide", True),
        ("sget-wide", True),
        ("aget-wide", True),
        ("int-to-long", True),
        ("float-to-double", True),
        ("add-long/2addr", True),
        ("shl-long", True),
        ("mul-double", True),
        ("neg-long", True),
        ("long-to-int", False),
        ("double-to-float", False),
        ("cmp-long", False),
        ("cmpl-double", False),
        ("iput-wide", False),
        ("aput-wide", False),
        ("return-wide", False),
        ("move-result", False),
        ("add-int", False),
    ],
)
def test_which_instructions_write_a_register_pair(op: str, wide: bool) -> None:
    assert writes_wide(op) is wide


def _method(*ops: tuple[str, tuple[int, ...], str | None]) -> MethodCode:
    """A static method of one String parameter (``v3`` of 4 registers) made of ``ops`` (mnemonic,
    registers, reference), laid out at the offsets their lengths give."""
    insns, offset = [], 0
    for op, regs, ref in ops:
        code = OPCODE[op]
        kind = "method" if op.startswith("invoke") else ""
        insns.append(Insn(offset=offset, op=op, opcode=code, length=LENGTHS[code], regs=regs, ref=ref, ref_kind=kind))
        offset += 2 * LENGTHS[code]
    return MethodCode(
        class_name="com.x.A",
        method="m(Ljava/lang/String;)Ljava/lang/String;",
        dex="classes.dex",
        registers_size=4,
        ins_size=1,
        is_static=True,
        param_types=("Ljava/lang/String;",),
        insns=tuple(insns),
    )


SAVE = "Lcom/x/Store;->save(Ljava/lang/String;)J"
VALUE_OF = "Ljava/lang/String;->valueOf(J)Ljava/lang/String;"


def test_a_wide_result_clears_the_high_register_of_the_pair() -> None:
    # v1 = the data; v0/v1 = save(v1), a row id (a fresh result); return String.valueOf(v0/v1)
    body = _method(
        ("move-object", (1, 3), None),
        ("invoke-static", (1,), SAVE),
        ("move-result-wide", (0,), None),
        ("invoke-static", (0, 1), VALUE_OF),
        ("move-result-object", (0,), None),
        ("return-object", (0,), None),
    )
    flow = analyse(body, Seeds(params=frozenset({0})), fresh=lambda ref: ref == SAVE)
    assert (flow.returns, flow.calls) == (False, {2: frozenset({0})})


def test_a_wide_value_made_from_the_data_taints_both_registers() -> None:
    # v1 = data.hashCode(); v0 = 0; v1/v2 = (long) v1; pass (v0, v1/v2): the long's registers at 1 and 2
    body = _method(
        ("invoke-virtual", (3,), "Ljava/lang/String;->hashCode()I"),
        ("move-result", (1,), None),
        ("const/4", (0,), None),
        ("int-to-long", (1, 1), None),
        ("invoke-static", (0, 1, 2), "Lcom/x/Sink;->put(IJ)V"),
        ("return-object", (3,), None),
    )
    flow = analyse(body, Seeds(params=frozenset({0})))
    assert (flow.returns, flow.calls) == (True, {0: frozenset({0}), 12: frozenset({1, 2})})


def test_uploaded_row_id_in_the_rows_register_pair_is_not_the_rows() -> None:
    assert contacts_chains("dbf_wide_rowid") == [
        (
            "network",
            "unconfirmed",
            [("Harvester.harvest", 54), ("MainActivity.onCreate", 30), ("Uploader.upload", 44)],
            SINK,
            [],
        )
    ]
    entry = report_json("dbf_wide_rowid")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"]) == ("harvested", ["network"])


def test_uploaded_long_made_from_the_rows_is_confirmed() -> None:
    assert contacts_chains("dbf_wide_value") == [
        (
            "network",
            "confirmed",
            [("Harvester.harvest", 54), ("MainActivity.onCreate", 34), ("Uploader.upload", 44)],
            SINK,
            [],
        )
    ]
    entry = report_json("dbf_wide_value")["data_classes"]["contacts"]
    assert (entry["level"], entry["exfiltrated"], entry["at_startup"]) == ("harvested", ["network"], True)
