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

from collections.abc import Callable
from dataclasses import dataclass

from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import split_params


@dataclass(frozen=True, slots=True)
class Value:
    """What a register holds, as far as a static pass can tell."""

    kind: str
    """string, uri, builder, sb, field, ifield, param, this, intent_data, call, new, int, unknown."""
    text: str | None = None
    """The string / URI text, the field, the parameter index, the called method, the type or the
    integer constant (decimal)."""
    how: str | None = None
    """For a string, URI or builder: where a part that was not a literal in this method came from
    (``static_field``, ``instance_field``, ``helper``, ``resource``); None when all of it was."""
    args: tuple[Value, ...] = ()
    """For a ``call`` of a method the pass does not know: its declared arguments' values (kept only
    when the pass was given a ``resolve`` callback, which may look into the callee)."""


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
#: Puts in the string or URI a ``field``, ``ifield`` or ``call`` value holds (None: not known).
Resolve = Callable[[Value], Value | None]
#: The value kinds a ``resolve`` callback is asked about.
RESOLVABLE = frozenset({"field", "ifield", "call"})
_CARRIERS = frozenset({"string", "uri", "sb", "builder"})


def _uri_call(call: _Call, env: dict[int, Value]) -> Value | None:
    args = call.args
    if call.name == "parse" and args:
        return Value("uri", _text(args[0]))
    if call.name == "withAppendedPath" and len(args) == 2 and (_text(args[0]) or args[0].kind == "field"):
        seg = _text(args[1])
        base = _text(args[0]) or args[0].text  # an SDK URI field keeps its name: ``Lc;->F:T/segment``
        return Value("uri", f"{base}/{seg if seg is not None else '*'}")
    if call.name == "toString":
        return Value("string", _text(call.recv))
    if call.name == "buildUpon":
        return _uri_to_builder(_text(call.recv))
    return None


def _content_uris_call(call: _Call, env: dict[int, Value]) -> Value | None:
    if call.name == "withAppendedId" and call.args and (_text(call.args[0]) or call.args[0].kind == "field"):
        return Value("uri", f"{_text(call.args[0]) or call.args[0].text}/#")  # an SDK field keeps its name
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


def _resolved(value: Value, resolve: Resolve | None) -> Value:
    if resolve is None or value.kind not in RESOLVABLE:
        return value
    return resolve(value) or value


def _first_how(values: tuple[Value, ...]) -> str | None:
    return next((v.how for v in values if v.how is not None and v.kind in _CARRIERS), None)


def _with_how(value: Value, how: str | None) -> Value:
    if how is None or value.how is not None or value.kind not in _CARRIERS or value.text is None:
        return value
    return Value(value.kind, value.text, how)


#: Classes whose calls build strings and URIs (their arguments are parts, not what the value is for).
VALUE_BUILDERS = frozenset(_CALL_RULES)


def _invoke_result(insn: Insn, env: dict[int, Value], resolve: Resolve | None = None) -> Value:
    """The value an invoke returns, updating mutated receivers (builders) in ``env``.

    With ``resolve``, a field or call value the call consumes is first replaced by what it holds,
    and the result (and a mutated receiver) says where that part came from (``Value.how``).
    """
    ref = insn.ref or ""
    owner, _, rest = ref.partition("->")
    rule = _CALL_RULES.get(owner)
    if rule is None:
        if resolve is None:
            return Value("call", ref)
        return Value("call", ref, args=tuple(env.get(r, UNKNOWN) for r in argument_registers(insn)[1]))
    receiver, params = argument_registers(insn)
    recv = _resolved(env.get(receiver, UNKNOWN), resolve) if receiver is not None else UNKNOWN
    call = _Call(
        ref=ref,
        name=rest.split("(", 1)[0],
        receiver=receiver,
        recv=recv,
        args=tuple(_resolved(env.get(r, UNKNOWN), resolve) for r in params),
    )
    result = rule(call, env)
    how = _first_how((call.recv, *call.args)) if resolve is not None else None
    if how is not None and receiver is not None and receiver in env:
        env[receiver] = _with_how(env[receiver], how)
    return _with_how(result, how) if result is not None else Value("call", ref)


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
    pending = UNKNOWN
    for insn in code.insns:
        if insn.offset >= stop:
            break
        if insn.op.startswith("invoke"):
            if on_invoke is not None and insn.ref:
                on_invoke(insn, env)
            pending = _invoke_result(insn, env, resolve) if insn.ref else UNKNOWN
        elif insn.regs and not insn.op.startswith(_NO_DEFINE):
            env[insn.regs[0]] = _defined(insn, env, pending)
    return env


def values_at(
    code: MethodCode, offset: int, *, resolve: Resolve | None = None, params: tuple[Value, ...] = ()
) -> dict[int, Value]:
    """Register values just before the instruction at ``offset``.

    ``resolve`` looks into fields and calls whose value a URI or string call consumes (see
    :data:`Resolve`); ``params`` are the values the parameters hold on entry, when a caller
    knows them (a parameter beyond them is a ``param`` value).
    """
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
                _resolved(v, resolve) if t == _STRING and (v.text or "").endswith(holds) else v
                for v, t in zip(values, types, strict=False)
            )
        out.append((insn, values))

    _pass(code, 1 << 62, resolve, (), record)
    return out


_STRING = "Ljava/lang/String;"


def defines_register(insn: Insn) -> bool:
    """``insn`` writes its first register (a ``move-result`` writes the preceding invoke's result)."""
    return bool(insn.regs) and not insn.op.startswith(_NO_DEFINE)
