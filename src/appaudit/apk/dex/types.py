"""What the DEX layer answers: code hits, decoded instructions and the ``CodeIndex`` interface."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from appaudit.model import Evidence, EvidenceKind

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

    def to_evidence(self) -> Evidence:
        """The hit as evidence, located exactly as the hit is."""
        return Evidence(
            kind=self.kind,
            value=self.value,
            dex=self.dex,
            class_name=self.class_name,
            method=self.method,
            offset=self.offset,
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
