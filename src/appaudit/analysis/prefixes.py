"""How a string built in one method starts: enough to tell ``"javascript:" + data`` from a web address.

``registers.values_at`` knows a string only when all of it is constant. A sink
that may stay inside the app (``WebView.loadUrl``) needs less and more: the
known start of a string whose tail is data, through ``StringBuilder`` chains
(``new StringBuilder("javascript:").append(x)``, also what ``"a" + x``
compiles to), ``String.concat`` and moves. One forward pass in program order,
like ``values_at`` (branches are not followed: the last assignment wins).
"""

from __future__ import annotations

from appaudit.apk.dex.types import Insn, MethodCode

_SB = "Ljava/lang/StringBuilder;"
_TEXT_INITS = ("<init>(Ljava/lang/String;", "<init>(Ljava/lang/CharSequence;")
#: Instructions that define no register (or whose first register is read, not written).
_NO_DEST = ("if-", "goto", "return", "throw", "aput", "iput", "sput", "monitor", "filled-new-array")
#: A register's string so far: (text, the text is all of it). ``("javascript:", False)`` is a string
#: known to start with ``javascript:``.
_Known = tuple[str, bool]


def _append(head: _Known | None, tail: _Known | None) -> _Known | None:
    """``head + tail``: what is known of the start of the result."""
    if head is None:
        return None
    text, whole = head
    if not whole:
        return head
    if tail is None:
        return (text, False) if text else None
    return (text + tail[0], tail[1])


def _call_result(ins: Insn, env: dict[int, _Known]) -> _Known | None:
    """What an invoke returns as a string start (and updates a builder it appends to)."""
    ref = ins.ref or ""
    owner, _, rest = ref.partition("->")
    name = rest.split("(", 1)[0]
    regs = ins.regs
    if owner == _SB and regs:
        if name == "<init>":
            takes_text = len(regs) > 1 and rest.startswith(_TEXT_INITS)
            known = env.get(regs[1]) if takes_text else ("", True)
            if known is None:
                env.pop(regs[0], None)
            else:
                env[regs[0]] = known
            return None
        if name == "append":
            new = _append(env.get(regs[0]), env.get(regs[1]) if len(regs) > 1 else None)
            if new is None:
                env.pop(regs[0], None)
            else:
                env[regs[0]] = new
            return new
        return env.get(regs[0]) if name == "toString" else None
    if owner == "Ljava/lang/String;" and regs:
        if name == "concat" and len(regs) > 1:
            return _append(env.get(regs[0]), env.get(regs[1]))
        if name in ("valueOf", "trim", "toString", "intern", "toLowerCase"):
            return env.get(regs[0])
    return None


def string_prefixes(code: MethodCode, offset: int) -> dict[int, str]:
    """Register -> the known start of the string it holds just before the instruction at ``offset``
    (all of it when the string is constant); registers whose start is not known are absent."""
    env: dict[int, _Known] = {}
    pending: _Known | None = None
    for ins in code.insns:
        if ins.offset >= offset:
            break
        op = ins.op
        if op.startswith("invoke"):
            pending = _call_result(ins, env)
            continue
        if not ins.regs or op.startswith(_NO_DEST):
            continue
        dest = ins.regs[0]
        if op.startswith("const-string"):
            value: _Known | None = (ins.ref or "", True)
        elif op.startswith("move-result"):
            value = pending
        elif op.startswith("move") and op != "move-exception" and len(ins.regs) == 2:
            value = env.get(ins.regs[1])
        elif op.startswith(("check-cast", "fill-array-data", "packed-switch", "sparse-switch", "nop")):
            continue  # the register keeps its value
        else:
            value = None
        if value is None:
            env.pop(dest, None)
        else:
            env[dest] = value
    return {reg: text for reg, (text, _whole) in env.items()}
