"""Values a register may hold (:class:`Value`), and what the calls :mod:`.registers` knows (``Uri``,
``Uri.Builder``, ``StringBuilder``, ``String``, ``Intent``) make of their arguments: the rules of the
pass, kept apart from the pass itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
class Call:
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
CallRule = Callable[[Call, dict[int, Value]], Value | None]
#: Puts in the string or URI a ``field``, ``ifield`` or ``call`` value holds (None: not known).
Resolve = Callable[[Value], Value | None]
#: The value kinds a ``resolve`` callback is asked about.
RESOLVABLE = frozenset({"field", "ifield", "call"})
CARRIERS = frozenset({"string", "uri", "sb", "builder"})


def _uri_call(call: Call, env: dict[int, Value]) -> Value | None:
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


def _content_uris_call(call: Call, env: dict[int, Value]) -> Value | None:
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


def _uri_builder_call(call: Call, env: dict[int, Value]) -> Value | None:
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


def _string_builder_call(call: Call, env: dict[int, Value]) -> Value | None:
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


def _string_call(call: Call, env: dict[int, Value]) -> Value | None:
    recv, args = _text(call.recv), call.args
    if call.name == "concat" and recv is not None and args and _text(args[0]) is not None:
        return Value("string", f"{recv}{_text(args[0])}")
    if call.name == "valueOf" and args and _text(args[0]) is not None:
        return Value("string", _text(args[0]))
    if call.name in ("trim", "toString", "intern") and recv is not None:
        return Value("string", recv)
    return None


def _intent_call(call: Call, env: dict[int, Value]) -> Value | None:
    return Value("intent_data") if call.name == "getData" else None


#: The classes whose calls the pass follows (class descriptor -> rule).
CALL_RULES: dict[str, CallRule] = {
    "Landroid/net/Uri;": _uri_call,
    "Landroid/content/ContentUris;": _content_uris_call,
    "Landroid/net/Uri$Builder;": _uri_builder_call,
    "Ljava/lang/StringBuilder;": _string_builder_call,
    "Ljava/lang/String;": _string_call,
    "Landroid/content/Intent;": _intent_call,
}


def resolved(value: Value, resolve: Resolve | None) -> Value:
    if resolve is None or value.kind not in RESOLVABLE:
        return value
    return resolve(value) or value


def first_how(values: tuple[Value, ...]) -> str | None:
    return next((v.how for v in values if v.how is not None and v.kind in CARRIERS), None)


def with_how(value: Value, how: str | None) -> Value:
    if how is None or value.how is not None or value.kind not in CARRIERS or value.text is None:
        return value
    return Value(value.kind, value.text, how)


#: Classes whose calls build strings and URIs (their arguments are parts, not what the value is for).
VALUE_BUILDERS = frozenset(CALL_RULES)
