"""Register tracking inside one method: what value a register holds at an instruction.

A single forward pass in program order (branches are not followed: the last
assignment before the instruction wins), which is how compiled code builds a
URI in practice. Values know about string constants, static fields, method
parameters, ``Uri.parse``, ``Uri.withAppendedPath``, ``Uri.Builder``,
``StringBuilder`` chains, ``String.concat`` and ``Intent.getData``. Given a
``resolve`` callback (``analysis.values``), the pass also puts in the value a
static field, an instance field or an app method's return value holds, where a
URI or string call consumes it, so a concatenation of such parts is resolved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from appaudit.analysis.value_calls import (
    CALL_RULES,
    RESOLVABLE,
    UNKNOWN,
    VALUE_BUILDERS,
    Call,
    Resolve,
    Value,
    first_how,
    resolved,
    with_how,
)
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import split_params

__all__ = [
    "RESOLVABLE",
    "UNKNOWN",
    "VALUE_BUILDERS",
    "Resolve",
    "Value",
    "argument_registers",
    "defines_register",
    "invoke_arguments",
    "values_at",
]


_NO_DEFINE = (
    "if-",
    "goto",
    "return",
    "throw",
    "invoke",
    "aput",
    "iput",
    "sput",
    "monitor",
    "fill-array-data",
    "packed-switch",
    "sparse-switch",
    "nop",
    "check-cast",
    "filled-new-array",
)
_WIDE = ("J", "D")
_INT_CONSTS = frozenset({"const/4", "const/16", "const", "const/high16"})


def argument_registers(insn: Insn) -> tuple[int | None, list[int]]:
    """(receiver register or None, first register of each declared parameter) of an invoke."""
    assert insn.ref is not None
    _owner, _, rest = insn.ref.partition("->")
    proto = rest[rest.find("(") :] if "(" in rest else "()V"
    static = insn.op.startswith("invoke-static")
    pos = 0 if static else 1
    receiver = None if static or not insn.regs else insn.regs[0]
    out = []
    for p in split_params(proto):
        out.append(insn.regs[pos] if pos < len(insn.regs) else -1)
        pos += 2 if p in _WIDE else 1
    return receiver, out


def _invoke_result(insn: Insn, env: dict[int, Value], resolve: Resolve | None = None) -> Value:
    """The value an invoke returns, updating mutated receivers (builders) in ``env``.

    With ``resolve``, a field or call value the call consumes is first replaced by what it holds,
    and the result (and a mutated receiver) says where that part came from (``Value.how``).
    """
    ref = insn.ref or ""
    owner, _, rest = ref.partition("->")
    rule = CALL_RULES.get(owner)
    if rule is None:
        if resolve is None:
            return Value("call", ref)
        return Value("call", ref, args=tuple(env.get(r, UNKNOWN) for r in argument_registers(insn)[1]))
    receiver, params = argument_registers(insn)
    recv = resolved(env.get(receiver, UNKNOWN), resolve) if receiver is not None else UNKNOWN
    call = Call(
        ref=ref,
        name=rest.split("(", 1)[0],
        receiver=receiver,
        recv=recv,
        args=tuple(resolved(env.get(r, UNKNOWN), resolve) for r in params),
    )
    result = rule(call, env)
    how = first_how((call.recv, *call.args)) if resolve is not None else None
    if how is not None and receiver is not None and receiver in env:
        env[receiver] = with_how(env[receiver], how)
    return with_how(result, how) if result is not None else Value("call", ref)


def _entry_values(code: MethodCode) -> dict[int, Value]:
    """``this`` and the parameters, in their registers, as the method is entered."""
    env: dict[int, Value] = {}
    reg = code.first_param_register
    if not code.is_static:
        env[reg] = Value("this", code.class_name)
        reg += 1
    for i, p in enumerate(code.param_types):
        env[reg] = Value("param", str(i))
        reg += 2 if p in _WIDE else 1
    return env


def _param_values(code: MethodCode, params: tuple[Value, ...]) -> dict[int, Value]:
    """The registers of the first ``len(params)`` parameters, holding ``params``."""
    out: dict[int, Value] = {}
    reg = code.first_param_register + (0 if code.is_static else 1)
    for value, p in zip(params, code.param_types, strict=False):
        out[reg] = value
        reg += 2 if p in _WIDE else 1
    return out


def _defined(insn: Insn, env: dict[int, Value], pending: Value) -> Value:
    """The value an instruction that defines its first register puts there."""
    op = insn.op
    if op.startswith("const-string"):
        return Value("string", insn.ref)
    if op.startswith("move-result"):
        return pending
    if op.startswith("move") and len(insn.regs) == 2 and op != "move-exception":
        return env.get(insn.regs[1], UNKNOWN)
    if op.startswith("sget"):
        return Value("field", insn.ref)
    if op.startswith("iget-object"):
        return Value("ifield", insn.ref)
    if op == "new-instance":
        return Value("new", insn.ref)
    if op in _INT_CONSTS and insn.literal is not None:  # a resource id handed to getString(int)
        return Value("int", str(insn.literal))
    return UNKNOWN


def _pass(
    code: MethodCode,
    stop: int,
    resolve: Resolve | None,
    params: tuple[Value, ...],
    on_invoke: Callable[[Insn, dict[int, Value]], None] | None = None,
) -> dict[int, Value]:
    """The one forward pass: register values just before ``stop``; ``on_invoke`` sees each invoke first."""
    env = _entry_values(code)
    if params:
        env.update(_param_values(code, params))
    _walk(code, env, UNKNOWN, 0, stop, resolve, on_invoke)
    return env


def _walk(
    code: MethodCode,
    env: dict[int, Value],
    pending: Value,
    start: int,
    stop: int,
    resolve: Resolve | None,
    on_invoke: Callable[[Insn, dict[int, Value]], None] | None = None,
) -> tuple[Value, int]:
    """The pass from instruction ``start`` (index) to just before offset ``stop``, updating ``env``; the
    pending invoke result and the index of the instruction it stopped at."""
    insns = code.insns
    i = start
    while i < len(insns):
        insn = insns[i]
        if insn.offset >= stop:
            break
        if insn.op.startswith("invoke"):
            if on_invoke is not None and insn.ref:
                on_invoke(insn, env)
            pending = _invoke_result(insn, env, resolve) if insn.ref else UNKNOWN
        elif insn.regs and not insn.op.startswith(_NO_DEFINE):
            env[insn.regs[0]] = _defined(insn, env, pending)
        i += 1
    return pending, i


class _Cursor(threading.local):
    """Where the last plain pass (no ``resolve``, no parameter values) stopped, per thread: callers ask
    for many offsets of one method in code order (each reflective call of a method), and each pass
    then goes on from where the last one stopped instead of from the start."""

    def __init__(self) -> None:
        self.code: MethodCode | None = None
        self.stop = 0
        self.env: dict[int, Value] = {}
        self.pending = UNKNOWN
        self.index = 0


_CURSOR = _Cursor()


def _plain_pass(code: MethodCode, stop: int) -> dict[int, Value]:
    """:func:`_pass` without ``resolve`` or parameter values, going on from the last one where it can (the
    same values: without ``resolve`` an instruction's values depend only on those before it)."""
    c = _CURSOR
    if c.code is not code or c.stop > stop:
        c.code, c.env, c.pending, c.index = code, _entry_values(code), UNKNOWN, 0
    c.pending, c.index = _walk(code, c.env, c.pending, c.index, stop, None)
    c.stop = stop
    return dict(c.env)


def values_at(
    code: MethodCode, offset: int, *, resolve: Resolve | None = None, params: tuple[Value, ...] = ()
) -> dict[int, Value]:
    """Register values just before the instruction at ``offset``.

    ``resolve`` looks into fields and calls whose value a URI or string call consumes (see
    :data:`Resolve`); ``params`` are the values the parameters hold on entry, when a caller
    knows them (a parameter beyond them is a ``param`` value).
    """
    if resolve is None and not params:
        return _plain_pass(code, offset)
    return _pass(code, offset, resolve, params)


def invoke_arguments(code: MethodCode, *, resolve: Resolve | None = None) -> list[tuple[Insn, tuple[Value, ...]]]:
    """Each invoke of ``code`` (in code order) with its declared arguments' values; a ``String``
    argument that is a ``String`` field or call is looked into with ``resolve`` (see :func:`values_at`)."""
    out: list[tuple[Insn, tuple[Value, ...]]] = []

    def record(insn: Insn, env: dict[int, Value]) -> None:
        assert insn.ref is not None
        values = tuple(env.get(r, UNKNOWN) for r in argument_registers(insn)[1])
        if resolve is not None and _STRING in insn.ref.partition("->")[2].partition(")")[0]:
            types = split_params(insn.ref[insn.ref.find("(") :])
            holds = (":" + _STRING, ")" + _STRING)  # a String field, or a call returning a String
            values = tuple(
                resolved(v, resolve) if t == _STRING and (v.text or "").endswith(holds) else v
                for v, t in zip(values, types, strict=False)
            )
        out.append((insn, values))

    _pass(code, 1 << 62, resolve, (), record)
    return out


_STRING = "Ljava/lang/String;"


def defines_register(insn: Insn) -> bool:
    """``insn`` writes its first register (a ``move-result`` writes the preceding invoke's result)."""
    return bool(insn.regs) and not insn.op.startswith(_NO_DEFINE)
