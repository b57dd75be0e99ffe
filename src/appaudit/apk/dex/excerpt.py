"""Excerpts: the smali around one evidence offset, with its source file and line when the DEX kept them.

The one entry point for reports and ``appaudit show``::

    excerpt_for(code, dex, class_name, method, offset, context=3) -> Excerpt | None
    source_position(code, dex, class_name, method, offset) -> SourcePosition | None

``code`` is the scan's :class:`~appaudit.apk.dex.index.DexCodeIndex`; ``dex``,
``class_name``, ``method`` and ``offset`` are an Evidence's fields exactly as
reports carry them (``classes.dex``, ``com.example.Harvester``,
``harvest(Landroid/content/Context;)Ljava/lang/String;``, a byte offset).
Nothing is decoded until one of them is called, so a scan that asks for no
excerpt pays nothing. Both are deterministic and never raise on a damaged DEX:
they return None (method not found or unreadable) or what could be decoded.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from appaudit.apk.dex.debuginfo import DebugInfo, class_source_file, read_debug_info
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.dex.smali import disassemble
from appaudit.apk.dex.structure import MethodEntry, class_def_index, class_methods
from appaudit.apk.dex.types import Excerpt, SourcePosition
from appaudit.descriptors import java_desc
from appaudit.errors import DexFormatError

__all__ = ["Excerpt", "SourcePosition", "excerpt_for", "line_range", "render_text", "source_position"]

#: Instructions shown before and after the evidence instruction by default.
DEFAULT_CONTEXT = 3
#: The largest ``context`` honoured (a larger one is clamped to this).
MAX_CONTEXT = 50
#: Lines in one excerpt at most (payload tables and debug directives count); the cut keeps the marked
#: line and drops lines farthest from it. A whole method (``offset=None``) is capped the same way at
#: :data:`MAX_METHOD_LINES`.
MAX_EXCERPT_LINES = 200
MAX_METHOD_LINES = 20_000


@dataclass(frozen=True, slots=True)
class _Located:
    dex: DexFile
    class_def_idx: int
    entry: MethodEntry


class DexFiles(Protocol):
    """What excerpts need of a code index: its DEX files (``DexCodeIndex`` is one)."""

    @property
    def dex_files(self) -> Sequence[DexFile]: ...


def _locate(code: DexFiles, dex: str | None, class_name: str, method: str) -> _Located | None:
    """The method ``class_name.method`` (name+prototype) in the DEX named ``dex`` (any DEX when None)."""
    for located in _candidates(code, dex, class_name):
        try:
            ref = located.dex.method_ref(located.entry.method_idx)
        except DexFormatError:
            continue
        if f"{ref.name}{ref.proto}" == method:
            return located
    return None


def _candidates(code: DexFiles, dex: str | None, class_name: str) -> Iterator[_Located]:
    desc = java_desc(class_name)
    for f in code.dex_files:
        if dex is not None and f.name != dex:
            continue
        try:
            ci = class_def_index(f, desc)
        except DexFormatError:
            continue
        if ci is not None:
            for entry in class_methods(f, ci):
                yield _Located(f, ci, entry)


_DEBUG: weakref.WeakKeyDictionary[DexFile, dict[int, DebugInfo | None]] = weakref.WeakKeyDictionary()


def _debug(dex: DexFile, entry: MethodEntry) -> DebugInfo | None:
    if entry.span is None:
        return None
    cache = _DEBUG.setdefault(dex, {})
    if entry.span.start not in cache:
        cache[entry.span.start] = read_debug_info(dex, entry.span)
    return cache[entry.span.start]


def source_position(
    code: DexFiles, dex: str | None, class_name: str, method: str, offset: int | None
) -> SourcePosition | None:
    """The source file and line of the instruction at byte ``offset``; None when the method is not found.

    Reads only the method's debug information (no disassembly); cached per method.
    """
    located = _locate(code, dex, class_name, method)
    if located is None:
        return None
    default = class_source_file(located.dex, located.class_def_idx)
    info = _debug(located.dex, located.entry)
    if info is None or offset is None:
        return SourcePosition(source_file=default, line=None)
    return SourcePosition(source_file=info.source_file_at(offset, default), line=info.line_at(offset))


def line_range(code: DexFiles, dex: str | None, class_name: str, method: str) -> tuple[int, int] | None:
    """Lowest and highest plausible source line (>= 1) the method maps to; None without line numbers."""
    located = _locate(code, dex, class_name, method)
    info = None if located is None else _debug(located.dex, located.entry)
    lines = [line for _at, line in info.positions if line > 0] if info is not None else []
    return (min(lines), max(lines)) if lines else None


def excerpt_for(
    code: DexFiles,
    dex: str | None,
    class_name: str,
    method: str,
    offset: int | None,
    context: int = DEFAULT_CONTEXT,
    notes: Mapping[int, str] | None = None,
) -> Excerpt | None:
    """The smali of ``class_name.method`` around byte ``offset``: ``context`` instructions (at most
    :data:`MAX_CONTEXT`) before and after it, with their labels and directives, the instruction at
    ``offset`` marked; the whole method when ``offset`` is None. ``notes`` adds a ``#`` comment to
    the instructions at those offsets (e.g. the URI the evidence resolved). None when the method is
    not in that DEX, is abstract or native, or cannot be read.
    """
    located = _locate(code, dex, class_name, method)
    if located is None or located.entry.span is None:
        return None
    try:
        dis = disassemble(located.dex, located.entry, notes)
    except DexFormatError:
        return None
    default = class_source_file(located.dex, located.class_def_idx)
    lines = dis.lines
    position = SourcePosition(source_file=default, line=None)
    marked: int | None = None
    first, last = 0, len(lines)
    if offset is not None:
        group = next((k for k, at in enumerate(dis.instruction_offsets) if at == offset), None)
        if dis.debug is not None:
            position = SourcePosition(
                source_file=dis.debug.source_file_at(offset, default), line=dis.debug.line_at(offset)
            )
        if group is not None:
            marked = next(k for k, ln in enumerate(lines) if ln.group == group and ln.kind == "insn")
            reach = max(0, min(context, MAX_CONTEXT))
            shown = [k for k, ln in enumerate(lines) if abs(ln.group - group) <= reach]
            first, last = shown[0], shown[-1] + 1
    cap = MAX_METHOD_LINES if offset is None else MAX_EXCERPT_LINES
    if last - first > cap:
        centre = marked if marked is not None else first
        first = max(first, min(centre - cap // 2, last - cap))
        last = first + cap
    return Excerpt(
        dex=located.dex.name,
        class_name=class_name,
        method=method,
        header=dis.header,
        lines=lines[first:last],
        marked=None if marked is None else marked - first,
        source_file=position.source_file,
        line=position.line,
        has_line_numbers=dis.debug is not None and bool(dis.debug.positions),
        more_before=first > 0,
        more_after=last < len(lines) or dis.truncated,
    )


def render_text(excerpt: Excerpt, *, header: bool = False) -> str:
    """Plain-text layout of an excerpt (what ``appaudit show`` prints; see :meth:`Excerpt.render_text`)."""
    return excerpt.render_text(header=header)
