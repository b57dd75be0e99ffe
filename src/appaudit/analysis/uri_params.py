"""Provider URIs made from a method's parameters: ``Uri.parse("content://sms/" + folder)``.

:func:`.providers.resolve_argument` follows a URI that *is* a parameter to the callers. A URI
*built* from one (a folder, a table name, a whole URI string given to ``Uri.parse``) is resolved
here: the method's ``String`` parameters are given marker texts, the URI is tracked with them
(:mod:`.registers`), and each marker found in the URI's text is replaced by every distinct value the
callers pass for it — found by :class:`.store_values.NameResolver`, the same resolution store names
use (callers, fields' writers, helpers' returns; bounded and cached per scan).

Bounded: at most :data:`MAX_URIS` combinations (with more, the URI stays unresolved). A caller
whose argument is not known, or is ``""`` (most often a variable's initial value before a loop sets
it: code order, not the branches, is followed), gives one unresolved entry beside the known ones:
never guessed.
Limits: only ``String`` / ``CharSequence`` parameters are followed this way (a ``Uri`` parameter is
followed by ``resolve_argument`` itself); a parameter transformed before it joins the URI (trimmed,
encoded, looked up) is not a marker in the text and stays unresolved.
"""

from __future__ import annotations

import itertools

from appaudit.analysis.facts import ResolvedBy
from appaudit.analysis.registers import Value, values_at
from appaudit.analysis.store_values import NameResolver
from appaudit.analysis.values import ValueResolver
from appaudit.apk.dex.types import MethodCode

#: At most this many URIs are made from one site's parameter values.
MAX_URIS = 8
_TEXT_PARAMS = frozenset({"Ljava/lang/String;", "Ljava/lang/CharSequence;"})
_Found = list[tuple[str | None, ResolvedBy]]


def _mark(index: int) -> str:
    """A text no app string holds, standing for parameter ``index`` in a tracked URI."""
    return f"\x00p{index}\x00"


def from_parameters(
    body: MethodCode, offset: int, reg: int, names: NameResolver, values: ValueResolver
) -> _Found | None:
    """The URIs register ``reg`` holds at ``offset`` given what the callers pass for the ``String``
    parameters it is built from, each ``parameter``; None when it is not built from one."""
    marks = tuple(
        Value("string", _mark(i)) if t in _TEXT_PARAMS else Value("param", str(i))
        for i, t in enumerate(body.param_types)
    )
    if not any(m.kind == "string" for m in marks):
        return None
    value = values_at(body, offset, resolve=values.callback(), params=marks).get(reg)
    text = value.text if value is not None and value.kind in ("string", "uri") else None
    used = [i for i in range(len(marks)) if text and _mark(i) in text]
    if text is None or not used:
        return None
    each = [names.parameter_texts(body, i) for i in used]
    out: _Found = []
    for combo in itertools.islice(itertools.product(*each), MAX_URIS + 1):
        out.append(_filled(text, used, combo))
    if len(out) > MAX_URIS:
        return [(None, "unresolved")]
    return list(dict.fromkeys(out))


def _filled(text: str, used: list[int], combo: tuple[str | None, ...]) -> tuple[str | None, ResolvedBy]:
    """``text`` with each used parameter's marker replaced by its value (one unknown: unresolved; an
    empty one too: a loop variable's ``""`` before the loop sets it, as code order sees it)."""
    for index, part in zip(used, combo, strict=True):
        if not part:
            return (None, "unresolved")
        text = text.replace(_mark(index), part)
    return (text, "parameter")
