"""Names carried by a key, and accessors seen through, for :mod:`.store_values`.

Staged harvesters pass a file's path around rather than spelling it: it is read from
SharedPreferences (``prefs.getString("stage_path", null)``), handed to a service in an Intent extra
(``putExtra("APPEND_FILE", path)``, read back with ``getStringExtra`` or ``getExtras().get(...)``) and
kept in a field that an inner class reads through a synthetic accessor. This module gives
:class:`.store_values.NameResolver` what it needs to follow that:

- the ``put`` sites of each extra and preference key (``rules/flows.yaml``'s ``intent_extra`` and
  ``shared_prefs`` stores), indexed once per scan, so a value read under key ``K`` resolves to what is
  put under ``K`` anywhere in the app;
- a *named symbol* for such a key (``extra:K``, ``pref:K``): two sites whose names both come from key
  ``K`` name the same thing even when no value put under it resolves (a path built at run time), so
  they are matched by that symbol, as by a name;
- the shape of an accessor (a static method whose body is one ``iget-object`` or ``iput-object`` of
  an instance field and a return: javac's ``access$000``, D8's and Kotlin's look-alikes; there is no
  synthetic flag in the decoded body, so the shape decides).

Limits: at most :data:`.store_values.MAX_SITES` put sites per key are resolved (with more, the key
still gives its symbol); a key must be a constant where it is put or read (a key built at run time
gives nothing); static-field accessors (``sget``/``sput``) are not seen through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from appaudit.analysis.registers import argument_registers, values_at
from appaudit.apk.dex.types import CodeIndex, Insn, MethodCode
from appaudit.descriptors import split_params
from appaudit.ruleset.flows import StoreSpec

#: Marks a part that is a named symbol (``extra:K``), never text a program can hold: a NUL.
SYMBOL = "\0"
#: Store kinds whose names are keys another site reads back, and the symbol each gives.
KEYED = {"intent_extra": "extra", "shared_prefs": "pref"}
#: ``Bundle.get(String)`` returns an Object: the extras' key-to-value reads beside the typed ones.
_UNTYPED_GETS = (("Landroid/os/Bundle;", "get"), ("Landroid/os/BaseBundle;", "get"))
_STRING = "Ljava/lang/String;"


def symbol(kind: str, key: str) -> str:
    """The part standing for whatever is put under ``key`` (``kind``: ``extra`` or ``pref``)."""
    return f"{SYMBOL}{kind}:{key}"


def is_symbol(part: str | None) -> bool:
    return part is not None and part.startswith(SYMBOL)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedPut:
    """A ``put`` of a value under a constant key."""

    body: MethodCode
    offset: int
    value_reg: int


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedGet:
    """A read of a value under a key: which symbol kind, and the registers of its key and default."""

    kind: str
    key_reg: int
    default_reg: int | None
    """The ``String`` default of ``getString(K, default)``; None when the call has none."""


class KeyedSources:
    """The extra and preference puts of one scan's app by key, found on first need."""

    def __init__(self, code: CodeIndex, specs: Mapping[str, StoreSpec]) -> None:
        self.code = code
        self._specs = {KEYED[k]: s for k, s in specs.items() if k in KEYED}
        self._gets: dict[tuple[str, str], str] = {
            (t.class_desc, n): kind for kind, s in self._specs.items() for t in s.get for n in t.names
        }
        if "extra" in self._specs:
            self._gets.update(dict.fromkeys(_UNTYPED_GETS, "extra"))
        self._index: dict[str, dict[str, list[KeyedPut]]] = {}

    def get_of(self, ins: Insn) -> KeyedGet | None:
        """What a call reads under a key, when it is an extra or preference read with a String key."""
        if ins.ref is None:
            return None
        owner, _, rest = ins.ref.partition("->")
        kind = self._gets.get((owner, rest.split("(", 1)[0]))
        params = split_params(rest[rest.find("(") :]) if kind else []
        if kind is None or not params or params[0] != _STRING:
            return None
        regs = argument_registers(ins)[1]
        default = regs[1] if kind == "pref" and len(params) > 1 and params[1] == _STRING else None
        return KeyedGet(kind=kind, key_reg=regs[0], default_reg=default)

    def puts(self, kind: str, key: str) -> list[KeyedPut]:
        """Every put of a value under ``key`` (``kind``: ``extra`` or ``pref``), in code order."""
        index = self._index.get(kind)
        if index is None:
            index = self._index[kind] = self._build(kind)
        return index.get(key, [])

    def _build(self, kind: str) -> dict[str, list[KeyedPut]]:
        spec = self._specs.get(kind)
        out: dict[str, list[KeyedPut]] = {}
        targets = spec.put if spec is not None else ()
        hits = sorted(
            {(h.class_name, h.method, h.offset) for t in targets for h in self.code.invocations(t.class_desc, t.names)}
        )
        for cls, method, off in hits:
            body = self.code.method_code(cls, method)
            ins = next((i for i in body.insns if i.offset == off), None) if body else None
            if body is None or ins is None or ins.ref is None:
                continue
            params = split_params(ins.ref[ins.ref.find("(") :])
            regs = argument_registers(ins)[1]
            if len(params) < 2 or params[0] != _STRING or regs[0] < 0:
                continue
            key = values_at(body, off).get(regs[0])
            if key is not None and key.kind == "string" and key.text:
                out.setdefault(key.text, []).append(KeyedPut(body=body, offset=off, value_reg=regs[1]))
        return out


def accessor_field(body: MethodCode) -> tuple[str, str, int] | None:
    """(``get`` or ``set``, the instance field, the parameter stored) of a static accessor: a body of
    one ``iget-object`` (returned) or ``iput-object`` of a parameter (and a return); else None."""
    if not body.is_static:
        return None
    insns = [i for i in body.insns if i.op != "nop"]
    if len(insns) != 2 or not insns[1].op.startswith("return") or not insns[0].ref:
        return None
    op, ref = insns[0].op, insns[0].ref
    if op == "iget-object" and insns[1].op == "return-object" and insns[1].regs[:1] == insns[0].regs[:1]:
        return "get", ref, -1
    if op != "iput-object":
        return None
    value = values_at(body, insns[0].offset).get(insns[0].regs[0])
    if value is None or value.kind != "param" or value.text is None:
        return None
    return "set", ref, int(value.text)
