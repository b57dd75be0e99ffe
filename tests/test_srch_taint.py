"""The taint walk's register bits (appaudit.analysis.taint_rules.bit) on methods whose parameters fall below
register 0 (more ins than registers, as fuzzed or malformed DEX files have): answers as the set-based walk
gave them, and no error."""

from __future__ import annotations

import pytest

from appaudit.analysis.taint import Seeds, analyse
from appaudit.analysis.taint_rules import RESULT, bit
from appaudit.apk.dex.types import Insn, MethodCode

#: ``move-result-object v0; return-object v0``: returns the pending result, which no call made.
_INSNS = (
    Insn(offset=0, op="move-result-object", opcode=0x0C, length=1, regs=(0,)),
    Insn(offset=2, op="return-object", opcode=0x11, length=1, regs=(0,)),
)


def _body(registers: int, ins: int) -> MethodCode:
    return MethodCode(
        class_name="C",
        method="m()V",
        dex="classes.dex",
        registers_size=registers,
        ins_size=ins,
        is_static=True,
        param_types=(),
        insns=_INSNS,
    )


def test_register_bits() -> None:
    assert (bit(RESULT), bit(0), bit(3)) == (1, 2, 16)


@pytest.mark.parametrize(
    ("registers", "ins", "params", "tainted", "returns", "params_out"),
    [
        # registers -3..0: -3 and -2 are named by no instruction but tainted; -1 is the pending result slot
        (1, 4, {0, 1, 2, 3}, True, True, frozenset()),
        # parameter 1 is register -1, which move-result reads: v0 (parameter 2) is filled and returned
        (1, 3, {1}, True, True, frozenset({2})),
        (1, 3, {0}, True, False, frozenset()),
        (2, 1, {0}, True, False, frozenset()),
    ],
)
def test_parameters_below_register_zero(
    registers: int, ins: int, params: set[int], tainted: bool, returns: bool, params_out: frozenset[int]
) -> None:
    flow = analyse(_body(registers, ins), Seeds(params=frozenset(params)))
    assert (flow.tainted, flow.returns, flow.params_out) == (tainted, returns, params_out)
