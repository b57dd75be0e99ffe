"""Find a class or method the way a person names it, and summarise a class (for ``appaudit show``).

Accepted names (the forms reports print, and smali's):

* ``com.example.Harvester`` — a class;
* ``com.example.Harvester.harvest`` or ``com.example.Harvester.harvest(Landroid/content/Context;)V``
  — a method (the JSON report's ``class`` + ``.`` + ``method``);
* the class and the method given apart (``class`` and ``method`` as the JSON report prints them);
* ``Lcom/example/Harvester;``, ``Lcom/example/Harvester;->harvest`` and
  ``Lcom/example/Harvester;->harvest(Landroid/content/Context;)V`` — smali descriptors.

A method named without its prototype must be the only method of that name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from appaudit.apk.dex.debuginfo import class_source_file
from appaudit.apk.dex.excerpt import DexFiles, line_range
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.dex.smali_text import access_text
from appaudit.apk.dex.structure import class_def_index, class_methods, supertypes
from appaudit.descriptors import java_desc, java_name
from appaudit.errors import DexFormatError

#: Close matches named when a class or method is not found.
MAX_SUGGESTIONS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    """A class, or one method of it, found in the app."""

    dex: str
    """The DEX defining it (the first, in load order, when several do)."""
    class_name: str
    method: str | None
    """Name and prototype; None when a class was asked for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotFound:
    """Why nothing was found: a one-line message that names close matches."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodSummary:
    """One method of a listed class."""

    signature: str
    """Name and prototype."""
    access: str
    """baksmali's access flags, e.g. ``public static``."""
    code_bytes: int | None
    """Size of its instructions; None for abstract and native methods."""
    lines: tuple[int, int] | None
    """Lowest and highest source line it maps to; None without line numbers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassSummary:
    """A class as ``appaudit show APP CLASS`` lists it."""

    dex: str
    class_name: str
    superclass: str | None
    source_file: str | None
    methods: tuple[MethodSummary, ...]


def _split(target: str, method: str | None) -> tuple[str, str | None, bool]:
    """(class name, method or None, whether the last dotted part may be a method name)."""
    if method is not None:
        cls = java_name(target) if target.startswith("L") and target.endswith(";") else target
        return cls, method, False
    if target.startswith("L") and ";" in target:
        desc, _, rest = target.partition(";")
        rest = rest.removeprefix("->")
        return java_name(desc + ";"), rest or None, False
    head, paren, proto = target.partition("(")
    return head, (paren + proto) if paren else None, True


def _locate_class(code: DexFiles, class_name: str) -> tuple[DexFile, int] | None:
    desc = java_desc(class_name)
    for dex in code.dex_files:
        try:
            ci = class_def_index(dex, desc)
        except DexFormatError:
            continue
        if ci is not None:
            return dex, ci
    return None


def _signatures(dex: DexFile, ci: int) -> list[str]:
    out = []
    for entry in class_methods(dex, ci):
        try:
            ref = dex.method_ref(entry.method_idx)
        except DexFormatError:
            continue
        out.append(f"{ref.name}{ref.proto}")
    return out


def _class_names(code: DexFiles) -> list[str]:
    names: set[str] = set()
    for dex in code.dex_files:
        for cdef in dex.class_defs:
            try:
                names.add(java_name(dex.type_desc(cdef.class_idx)))
            except DexFormatError:
                continue
    return sorted(names)


def _close(word: str, options: Sequence[str]) -> str:
    found = difflib.get_close_matches(word, options, n=MAX_SUGGESTIONS, cutoff=0.6)
    return f"; close matches: {', '.join(found)}" if found else ""


def find(code: DexFiles, target: str, method: str | None = None) -> Found | NotFound:
    """The class or method ``target`` (and ``method``, when given apart) names, in any form above."""
    cls, meth, dotted = _split(target.strip(), method.strip() if method is not None else None)
    located = _locate_class(code, cls)
    if located is None and dotted and "." in cls:
        # ``a.b.C.m`` names method m of a.b.C when no class a.b.C.m exists.
        owner, _, name = cls.rpartition(".")
        located = _locate_class(code, owner)
        if located is not None:
            cls, meth = owner, name + (meth or "")
    if located is None:
        return NotFound(message=f"no class {cls} in the app{_close(cls, _class_names(code))}")
    dex, ci = located
    if meth is None:
        return Found(dex=dex.name, class_name=cls, method=None)
    sigs = _signatures(dex, ci)
    if meth in sigs:
        return Found(dex=dex.name, class_name=cls, method=meth)
    if "(" not in meth:
        same = [s for s in sigs if s.partition("(")[0] == meth]
        if len(same) == 1:
            return Found(dex=dex.name, class_name=cls, method=same[0])
        if same:
            return NotFound(message=f"{cls}.{meth} is overloaded; give the prototype: {', '.join(same)}")
    name = meth.partition("(")[0]
    # Other prototypes of the same name first (a wrong prototype), else names close to it (a typo).
    names = [name] if any(s.partition("(")[0] == name for s in sigs) else []
    names = names or difflib.get_close_matches(name, sorted({s.partition("(")[0] for s in sigs}), n=MAX_SUGGESTIONS)
    close = [s for s in sigs if s.partition("(")[0] in names][:MAX_SUGGESTIONS]
    return NotFound(message=f"no method {meth} in {cls}" + (f"; close matches: {', '.join(close)}" if close else ""))


def class_summary(code: DexFiles, class_name: str) -> ClassSummary | None:
    """Every method ``class_name`` defines (direct, then virtual, as in the DEX); None when not in the app."""
    located = _locate_class(code, class_name)
    if located is None:
        return None
    dex, ci = located
    try:
        sup, _ifaces = supertypes(dex, ci)
    except DexFormatError:
        sup = None
    methods = []
    for entry in class_methods(dex, ci):
        try:
            ref = dex.method_ref(entry.method_idx)
        except DexFormatError:
            continue
        sig = f"{ref.name}{ref.proto}"
        span = entry.span
        lines = None
        if span is not None:
            lines = line_range(code, dex.name, class_name, sig)
        methods.append(
            MethodSummary(
                signature=sig,
                access=access_text(entry.access_flags),
                code_bytes=None if span is None else span.end - span.start,
                lines=lines,
            )
        )
    return ClassSummary(
        dex=dex.name,
        class_name=class_name,
        superclass=java_name(sup) if sup else None,
        source_file=class_source_file(dex, ci),
        methods=tuple(methods),
    )
