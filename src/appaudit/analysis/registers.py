"""Register tracking inside one method: what value a register holds at an instruction.

A single forward pass in program order (branches are not followed: the last
assignment before the instruction wins), which is how compiled code builds a
URI in practice. Values know about string constants, static fields, method
parameters, ``Uri.parse``, ``Uri.withAppendedPath``, ``Uri.Builder``,
``StringBuilder`` chains, ``String.concat`` and ``Intent.getData``.
"""

from __future__ import annotations

from dataclasses import dataclass

from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import split_params


@dataclass(frozen=True, slots=True)
class Value:
    """What a register holds, as far as a static pass can tell."""

    kind: str
    """string, uri, builder, sb, field, ifield, param, this, intent_data, call, new, unknown."""
    text: str | None = None
    """The string / URI text, the field, the parameter index, the called method or the type."""


UNKNOWN = Value("unknown")
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


def _text(v: Value) -> str | None:
    return v.text if v.kind in ("string", "uri") else None


def _builder_parts(v: Value) -> list[str]:
    return (v.text or "\0\0").split("\0") if v.kind == "builder" and v.text is not None else []


def _builder_uri(parts: list[str]) -> str | None:
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    return f"{parts[0]}://{parts[1]}{parts[2]}"


def _uri_to_builder(text: str | None) -> Value:
    if not text or "://" not in text:
        return Value("builder", None)
    scheme, rest = text.split("://", 1)
    authority, _, path = rest.partition("/")
    return Value("builder", f"{scheme}\0{authority}\0" + (f"/{path}" if path else ""))


def _invoke_result(insn: Insn, env: dict[int, Value]) -> Value:
    """The value an invoke returns, updating mutated receivers (builders) in ``env``."""
    ref = insn.ref or ""
    owner, _, rest = ref.partition("->")
    name = rest.split("(", 1)[0]
    receiver, params = argument_registers(insn)
    args = [env.get(r, UNKNOWN) for r in params]
    recv = env.get(receiver, UNKNOWN) if receiver is not None else UNKNOWN
    if owner == "Landroid/net/Uri;":
        if name == "parse" and args:
            return Value("uri", _text(args[0]))
        if name == "withAppendedPath" and len(args) == 2 and _text(args[0]):
            seg = _text(args[1])
            return Value("uri", f"{_text(args[0])}/{seg if seg is not None else '*'}")
        if name == "toString":
            return Value("string", _text(recv))
        if name == "buildUpon":
            return _uri_to_builder(_text(recv))
    if owner == "Landroid/content/ContentUris;" and name == "withAppendedId" and args and _text(args[0]):
        return Value("uri", f"{_text(args[0])}/#")
    if owner == "Landroid/net/Uri$Builder;" and receiver is not None:
        parts = _builder_parts(recv)
        if name == "<init>":
            env[receiver] = Value("builder", "\0\0")
            return UNKNOWN
        if not parts:
            return Value("builder", None)
        arg = _text(args[0]) if args else None
        if name == "build":
            return Value("uri", _builder_uri(parts))
        if name in ("scheme", "authority", "encodedAuthority") and arg is not None:
            parts[0 if name == "scheme" else 1] = arg
        elif name in ("appendPath", "appendEncodedPath") and arg is not None:
            parts[2] += "/" + arg
        elif name in ("path", "encodedPath") and arg is not None:
            parts[2] = arg if arg.startswith("/") else "/" + arg
        elif name not in ("appendQueryParameter", "fragment", "query", "encodedQuery"):
            parts = []
        new = Value("builder", "\0".join(parts)) if parts else Value("builder", None)
        env[receiver] = new
        return new
    if owner == "Ljava/lang/StringBuilder;" and receiver is not None:
        if name == "<init>":
            takes_text = bool(args) and not ref.endswith("(I)V")
            env[receiver] = Value("sb", _text(args[0]) if takes_text else "")
            return UNKNOWN
        if recv.kind != "sb":
            return UNKNOWN
        if name == "append":
            add = _text(args[0]) if args else None
            new = Value("sb", recv.text + add if recv.text is not None and add is not None else None)
            env[receiver] = new
            return new
        if name == "toString":
            return Value("string", recv.text)
    if owner == "Ljava/lang/String;":
        if name == "concat" and _text(recv) is not None and args and _text(args[0]) is not None:
            return Value("string", f"{_text(recv)}{_text(args[0])}")
        if name == "valueOf" and args and _text(args[0]) is not None:
            return Value("string", _text(args[0]))
        if name in ("trim", "toString", "intern") and _text(recv) is not None:
            return Value("string", _text(recv))
    if owner == "Landroid/content/Intent;" and name == "getData":
        return Value("intent_data")
    return Value("call", ref)


def values_at(code: MethodCode, offset: int) -> dict[int, Value]:
    """Register values just before the instruction at ``offset``."""
    env: dict[int, Value] = {}
    reg = code.first_param_register
    if not code.is_static:
        env[reg] = Value("this", code.class_name)
        reg += 1
    for i, p in enumerate(code.param_types):
        env[reg] = Value("param", str(i))
        reg += 2 if p in _WIDE else 1
    pending = UNKNOWN
    for insn in code.insns:
        if insn.offset >= offset:
            break
        op = insn.op
        r0 = insn.regs[0] if insn.regs else None
        if op.startswith("invoke"):
            pending = _invoke_result(insn, env) if insn.ref else UNKNOWN
            continue
        if r0 is None or op.startswith(_NO_DEFINE):
            continue
        if op.startswith("const-string"):
            env[r0] = Value("string", insn.ref)
        elif op.startswith("move-result"):
            env[r0] = pending
        elif op.startswith("move") and len(insn.regs) == 2 and op != "move-exception":
            env[r0] = env.get(insn.regs[1], UNKNOWN)
        elif op.startswith("sget"):
            env[r0] = Value("field", insn.ref)
        elif op.startswith("iget-object"):
            env[r0] = Value("ifield", insn.ref)
        elif op == "new-instance":
            env[r0] = Value("new", insn.ref)
        else:
            env[r0] = UNKNOWN
    return env
