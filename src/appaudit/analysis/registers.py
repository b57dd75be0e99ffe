"""Register tracking inside one method: what value a register holds at an instruction.

A single forward pass in program order (branches are not followed: the last
assignment before the instruction wins), which is how compiled code builds a
URI in practice. Values know about string constants, static fields, method
parameters, ``Uri.parse``, ``Uri.withAppendedPath``, ``Uri.Builder``,
``StringBuilder`` chains, ``String.concat`` and ``Intent.getData``.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    """One invoke of a class the pass knows, with what its registers hold."""

    ref: str
    name: str
    """The method name, without its prototype."""
    receiver: int | None
    """The receiver's register (None for a static call)."""
    recv: Value
    args: tuple[Value, ...]
    """The declared arguments' values."""


#: What a known call returns (None: nothing known, an opaque ``call`` value).
_CallRule = Callable[[_Call, dict[int, Value]], Value | None]


def _uri_call(call: _Call, env: dict[int, Value]) -> Value | None:
    args = call.args
    if call.name == "parse" and args:
        return Value("uri", _text(args[0]))
    if call.name == "withAppendedPath" and len(args) == 2 and _text(args[0]):
        seg = _text(args[1])
        return Value("uri", f"{_text(args[0])}/{seg if seg is not None else '*'}")
    if call.name == "toString":
        return Value("string", _text(call.recv))
    if call.name == "buildUpon":
        return _uri_to_builder(_text(call.recv))
    return None


def _content_uris_call(call: _Call, env: dict[int, Value]) -> Value | None:
    if call.name == "withAppendedId" and call.args and _text(call.args[0]):
        return Value("uri", f"{_text(call.args[0])}/#")
    return None


def _set_scheme(parts: list[str], arg: str) -> None:
    parts[0] = arg


def _set_authority(parts: list[str], arg: str) -> None:
    parts[1] = arg


def _append_path(parts: list[str], arg: str) -> None:
    parts[2] += "/" + arg


def _set_path(parts: list[str], arg: str) -> None:
    parts[2] = arg if arg.startswith("/") else "/" + arg


#: ``Uri.Builder`` setters: how each changes the (scheme, authority, path) parts.
_BUILDER_EDITS: dict[str, Callable[[list[str], str], None]] = {
    "scheme": _set_scheme,
    "authority": _set_authority,
    "encodedAuthority": _set_authority,
    "appendPath": _append_path,
    "appendEncodedPath": _append_path,
    "path": _set_path,
    "encodedPath": _set_path,
}
#: ``Uri.Builder`` calls that leave the parts the URI is matched on as they are.
_BUILDER_KEEPS = frozenset({"appendQueryParameter", "fragment", "query", "encodedQuery"})


def _uri_builder_call(call: _Call, env: dict[int, Value]) -> Value | None:
    if call.receiver is None:
        return None
    if call.name == "<init>":
        env[call.receiver] = Value("builder", "\0\0")
        return UNKNOWN
    parts = _builder_parts(call.recv)
    if not parts:
        return Value("builder", None)
    if call.name == "build":
        return Value("uri", _builder_uri(parts))
    arg = _text(call.args[0]) if call.args else None
    edit = _BUILDER_EDITS.get(call.name)
    if edit is not None and arg is not None:
        edit(parts, arg)
    elif call.name not in _BUILDER_KEEPS:  # anything else (or a part not known) loses the URI
        parts = []
    new = Value("builder", "\0".join(parts)) if parts else Value("builder", None)
    env[call.receiver] = new
    return new


def _string_builder_call(call: _Call, env: dict[int, Value]) -> Value | None:
    if call.receiver is None:
        return None
    if call.name == "<init>":
        takes_text = bool(call.args) and not call.ref.endswith("(I)V")
        env[call.receiver] = Value("sb", _text(call.args[0]) if takes_text else "")
        return UNKNOWN
    recv = call.recv
    if recv.kind != "sb":
        return UNKNOWN
    if call.name == "append":
        add = _text(call.args[0]) if call.args else None
        new = Value("sb", recv.text + add if recv.text is not None and add is not None else None)
        env[call.receiver] = new
        return new
    if call.name == "toString":
        return Value("string", recv.text)
    return None


def _string_call(call: _Call, env: dict[int, Value]) -> Value | None:
    recv, args = _text(call.recv), call.args
    if call.name == "concat" and recv is not None and args and _text(args[0]) is not None:
        return Value("string", f"{recv}{_text(args[0])}")
    if call.name == "valueOf" and args and _text(args[0]) is not None:
        return Value("string", _text(args[0]))
    if call.name in ("trim", "toString", "intern") and recv is not None:
        return Value("string", recv)
    return None


def _intent_call(call: _Call, env: dict[int, Value]) -> Value | None:
    return Value("intent_data") if call.name == "getData" else None


#: The classes whose calls the pass follows (class descriptor -> rule).
_CALL_RULES: dict[str, _CallRule] = {
    "Landroid/net/Uri;": _uri_call,
    "Landroid/content/ContentUris;": _content_uris_call,
    "Landroid/net/Uri$Builder;": _uri_builder_call,
    "Ljava/lang/StringBuilder;": _string_builder_call,
    "Ljava/lang/String;": _string_call,
    "Landroid/content/Intent;": _intent_call,
}


def _invoke_result(insn: Insn, env: dict[int, Value]) -> Value:
    """The value an invoke returns, updating mutated receivers (builders) in ``env``."""
    ref = insn.ref or ""
    owner, _, rest = ref.partition("->")
    rule = _CALL_RULES.get(owner)
    if rule is None:
        return Value("call", ref)
    receiver, params = argument_registers(insn)
    call = _Call(
        ref=ref,
        name=rest.split("(", 1)[0],
        receiver=receiver,
        recv=env.get(receiver, UNKNOWN) if receiver is not None else UNKNOWN,
        args=tuple(env.get(r, UNKNOWN) for r in params),
    )
    result = rule(call, env)
    return result if result is not None else Value("call", ref)


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
    return UNKNOWN


def values_at(code: MethodCode, offset: int) -> dict[int, Value]:
    """Register values just before the instruction at ``offset``."""
    env = _entry_values(code)
    pending = UNKNOWN
    for insn in code.insns:
        if insn.offset >= offset:
            break
        if insn.op.startswith("invoke"):
            pending = _invoke_result(insn, env) if insn.ref else UNKNOWN
        elif insn.regs and not insn.op.startswith(_NO_DEFINE):
            env[insn.regs[0]] = _defined(insn, env, pending)
    return env


def defines_register(insn: Insn) -> bool:
    """``insn`` writes its first register (a ``move-result`` writes the preceding invoke's result)."""
    return bool(insn.regs) and not insn.op.startswith(_NO_DEFINE)
