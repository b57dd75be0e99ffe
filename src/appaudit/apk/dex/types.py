"""What the DEX layer answers: code hits, decoded instructions, excerpts and the ``CodeIndex`` interface."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from appaudit.model import Evidence, EvidenceKind, Owner

#: What an instruction's constant-pool reference is (empty: none, or not resolved).
RefKind = Literal["", "method", "field", "type", "string"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeHit:
    """One confirmed instruction in the app's code that references something."""

    kind: EvidenceKind
    """``invoke``, ``sget``, ``sput``, ``const-string``, ``new-instance``, ``const-class`` or ``text``."""
    dex: str
    class_name: str
    """Class in Java form, e.g. ``com.example.Harvester``."""
    method: str
    """Method name and prototype, e.g. ``harvest(Landroid/content/Context;)Ljava/lang/String;``."""
    offset: int
    """Byte offset of the instruction in the method's bytecode."""
    value: str
    """What is referenced, in smali notation (method, field or the string itself)."""

    @property
    def method_key(self) -> tuple[str, str, str]:
        return (self.dex, self.class_name, self.method)

    def to_evidence(self, owner: Owner | None = None) -> Evidence:
        """The hit as evidence, located exactly as the hit is, with ``owner`` (whose code it is)."""
        return Evidence(
            kind=self.kind,
            value=self.value,
            dex=self.dex,
            class_name=self.class_name,
            method=self.method,
            offset=self.offset,
            owner=owner,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Insn:
    """One decoded instruction: its operands as encoded and its constant-pool reference resolved
    (made by ``apk.dex.code.decode_method``; the analysis reads ``op``, ``regs``, ``ref``, ``literal``,
    ``target``, the smali view the encoded ones too)."""

    offset: int
    """Byte offset from the start of the method's bytecode."""
    op: str
    """Mnemonic, e.g. ``invoke-virtual/range``; payloads are ``*-payload``."""
    opcode: int
    """Opcode byte; payloads are 0x0100, 0x0200 or 0x0300 (their identifying unit)."""
    length: int
    """Length in 16-bit code units."""
    regs: tuple[int, ...] = ()
    """Register operands in order (for /range forms: every register of the range)."""
    ref: str | None = None
    """Method ``Lc;->n(p)r``, field ``Lc;->n:T``, type descriptor or string value."""
    ref_kind: RefKind = ""
    """``method``, ``field``, ``type``, ``string`` or empty."""
    literal: int | None = None
    target: int | None = None
    """Branch or payload target as a byte offset."""
    index: int | None = None
    """The constant-pool index as encoded (string, type, field, method, proto, call site or method
    handle), also where ``ref`` is not resolved."""
    proto_index: int | None = None
    """invoke-polymorphic's second index (a proto)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodCode:
    """A method's decoded body, for register tracking and chain search."""

    class_name: str
    method: str
    """Name and prototype."""
    dex: str
    registers_size: int
    ins_size: int
    is_static: bool
    param_types: tuple[str, ...]
    insns: tuple[Insn, ...]
    cases: tuple[tuple[int, int], ...] = ()
    """(switch offset, case offset) of every switch case (``apk.dex.control``)."""
    handlers: tuple[tuple[int, int, int], ...] = ()
    """(try start, try end, handler offset) of every catch handler; the try range is ``[start, end)``."""

    @property
    def first_param_register(self) -> int:
        return self.registers_size - self.ins_size


class CodeIndex(Protocol):
    """What rule matchers may ask of an APK's code (implemented by ``apk.dex``)."""

    def invocations(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        """Calls to ``class_desc->name`` for each name (any prototype)."""
        ...

    def static_reads(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        """``sget*`` reads of the static fields ``class_desc->name``."""
        ...

    def string_loads(self, pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """``const-string`` loads of strings the pattern fully matches."""
        ...

    def defined_classes(self) -> frozenset[str]:
        """Java names of every class defined in the app's DEX files."""
        ...

    def native_methods(self) -> list[tuple[str, str]]:
        """(class, method) of every method declared ``native``."""
        ...

    def method_code(self, class_name: str, method: str) -> MethodCode | None:
        """The decoded body of ``class_name.method`` (name+prototype), None if not in the app."""
        ...

    def callers(self, class_desc: str, method: str, limit: int | None = None) -> list[CodeHit]:
        """Invoke sites of exactly ``class_desc->method`` (name+prototype), at most ``limit``."""
        ...

    def static_writes(self, field: str) -> list[CodeHit]:
        """``sput*`` sites of the static field ``Lc;->name:T``."""
        ...

    def instance_writes(self, field: str) -> list[CodeHit]:
        """``iput*`` sites of the instance field ``Lc;->name:T``."""
        ...

    def string_resource(self, res_id: int) -> str | None:
        """The string resource ``res_id`` in the app's default configuration (``resources.arsc``),
        None when there is none (no table, another type, unreadable)."""
        ...

    def supertypes(self, class_name: str) -> tuple[str | None, tuple[str, ...]] | None:
        """(superclass, interfaces) as Java names, None when the app does not define the class."""
        ...

    def subtypes(self, class_name: str) -> tuple[str, ...]:
        """App classes that directly extend or implement ``class_name``."""
        ...

    def methods_of(self, class_name: str) -> tuple[str, ...]:
        """Name+prototype of every method the app's class defines."""
        ...

    def instantiations(self, class_name: str, via: str = "new-instance") -> list[CodeHit]:
        """``new-instance`` (or, with ``via="const-class"``, ``const-class``) sites of the app class."""
        ...

    def annotations_of(self, class_name: str, method: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """(annotation type, ((element, value), ...)) of a method, values as strings."""
        ...

    def text_matches(self, entries: re.Pattern[str], pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """Matches of ``pattern`` in the zip entries whose names ``entries`` fully matches (kind ``text``;
        ``dex`` is the entry, ``offset`` the byte offset, ``class_name`` and ``method`` empty)."""
        ...


# Excerpts (apk/dex/excerpt.py makes them; report/model.py holds them in a report)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmaliLine:
    """One line of smali, without indentation."""

    offset: int
    """Byte offset (from the method's first instruction) the line stands at."""
    group: int
    """Index of the instruction the line belongs to: labels and directives before it, try ends after it."""
    kind: str
    """``insn`` (an instruction or a payload's first line), ``payload`` (the rest of a payload),
    ``label``, ``debug`` (``.line``, ``.local``, ...) or ``catch`` (``.catch``/``.catchall``)."""
    text: str
    """The smali text; payload entries keep baksmali's 4-space inner indentation."""
    comment: str | None = None
    """A resolved constant or a caller's note, shown as ``# comment``; never part of the smali."""
    line: int | None = None
    """The source line in force here, when the DEX keeps line numbers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcePosition:
    """Where an instruction came from, as far as the DEX says."""

    source_file: str | None
    """The class's ``.source`` (or a DBG_SET_FILE in force); None when stripped."""
    line: int | None
    """The source line; None when the method has no line numbers (stripped, obfuscated) or none before it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Excerpt:
    """A method's smali, whole or around one instruction."""

    dex: str
    class_name: str
    """Java form, as in reports."""
    method: str
    """Name and prototype, as in reports."""
    header: tuple[str, ...]
    """``.method ...``, ``.registers N`` and named ``.param`` lines."""
    lines: tuple[SmaliLine, ...]
    marked: int | None
    """Index into ``lines`` of the evidence instruction; None for a whole method or an offset that is not an
    instruction start."""
    source_file: str | None
    line: int | None
    """Source line of the marked instruction (None: unknown, see :class:`SourcePosition`)."""
    has_line_numbers: bool
    """Whether the method carries any line numbers at all (False: stripped or obfuscated build)."""
    more_before: bool
    """Lines of the method before the first shown are left out."""
    more_after: bool
    """Lines of the method after the last shown are left out (or it was cut at a cap or damage)."""

    @property
    def truncated(self) -> bool:
        """Whether this is less than the whole method."""
        return self.more_before or self.more_after

    def render_text(self, *, header: bool = False) -> str:
        """Plain-text layout of an excerpt (what ``appaudit show`` prints): a gutter with ``>`` on the
        marked line and the byte offset of each instruction, then the smali, 4 spaces in as baksmali
        indents a method body, and ``# comments``. Lines left out are shown as ``...``.
        """
        out: list[str] = []
        if header:
            out.append(f"{'':10}{self.header[0]}")
            out.extend(f"{'':10}    {h}" for h in self.header[1:])
        if self.more_before:
            out.append(f"{'':10}    ...")
        for k, ln in enumerate(self.lines):
            mark = ">" if k == self.marked else " "
            gutter = f"+0x{ln.offset:x}" if ln.kind == "insn" else ""
            text = f"    {ln.text}" + (f"    # {ln.comment}" if ln.comment else "")
            out.append(f"{mark} {gutter:<8}{text}".rstrip())
        if self.more_after:
            out.append(f"{'':10}    ...")
        if header and not self.more_after:
            out.append(f"{'':10}.end method")
        return "\n".join(out) + "\n"
