"""The code index over every DEX of an app: the ``model.CodeIndex`` the rules query."""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from appaudit.apk.dex.code import Instruction
from appaudit.apk.dex.opcodes import OPCODES
from appaudit.apk.dex.reader import DexFile, Site
from appaudit.apk.dex.structure import (
    ACC_STATIC,
    MethodEntry,
    class_def_index,
    class_methods,
    method_annotations,
    supertypes,
)
from appaudit.descriptors import java_desc, java_name, split_params
from appaudit.errors import DexFormatError
from appaudit.model import CodeHit, Insn, MethodCode

#: opcodes of static field writes (sput*)
SPUT_OPS = frozenset(range(0x67, 0x6E))
NEW_INSTANCE_OPS = frozenset((0x22,))


class DexCodeIndex:
    """Answers reference queries across ``classes.dex``, ``classes2.dex``, ..."""

    def __init__(self, dex_files: Sequence[DexFile]) -> None:
        self.dex_files = tuple(dex_files)
        self.errors: list[tuple[str, str]] = []
        """(dex name, message) for each DEX that failed part-way through a query."""
        self._code_cache: dict[tuple[str, str], MethodCode | None] = {}
        self._subtypes: dict[str, tuple[str, ...]] | None = None
        self._methods: dict[str, tuple[str, ...]] = {}

    def _hit(self, dex: DexFile, site: Site, kind: str, value: str) -> CodeHit:
        method = dex.method_ref(site.span.method_idx)
        return CodeHit(
            kind=kind,
            dex=dex.name,
            class_name=java_name(dex.class_desc_of(site.span)),
            method=f"{method.name}{method.proto}",
            offset=site.offset,
            value=value,
        )

    def _each(self, query: str, fn: object) -> list[CodeHit]:
        hits: list[CodeHit] = []
        for dex in self.dex_files:
            try:
                hits.extend(fn(dex))  # type: ignore[operator]
            except (DexFormatError, IndexError, ValueError, OverflowError) as exc:
                self.errors.append((dex.name, f"{query}: {exc}"))
        return hits

    def invocations(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for name in names for i in dex.find_methods(class_desc, name)]
            return [self._hit(dex, s, "invoke", str(dex.method_ref(s.index))) for s in dex.method_sites(ids)]

        return self._each(f"invocations of {class_desc}", run)

    def static_reads(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for name in names for i in dex.find_fields(class_desc, name)]
            return [self._hit(dex, s, "sget", str(dex.field_ref(s.index))) for s in dex.sget_sites(ids)]

        return self._each(f"static reads of {class_desc}", run)

    def string_loads(self, pattern: re.Pattern[bytes]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = dex.find_strings_matching(pattern)
            return [self._hit(dex, s, "const-string", dex.string(s.index)) for s in dex.string_sites(ids)]

        return self._each(f"strings matching {pattern.pattern!r}", run)

    def defined_classes(self) -> frozenset[str]:
        names: set[str] = set()
        for dex in self.dex_files:
            try:
                names.update(java_name(dex.type_desc(c.class_idx)) for c in dex.class_defs)
            except (DexFormatError, IndexError, ValueError) as exc:
                self.errors.append((dex.name, f"class list: {exc}"))
        return frozenset(names)

    # ------------------------------------------------------- structure queries
    def _locate(self, class_name: str) -> list[tuple[DexFile, int]]:
        desc = java_desc(class_name)
        found = []
        for dex in self.dex_files:
            try:
                ci = class_def_index(dex, desc)
            except DexFormatError:
                continue
            if ci is not None:
                found.append((dex, ci))
        return found

    def _method_entry(self, class_name: str, method: str) -> tuple[DexFile, MethodEntry] | None:
        for dex, ci in self._locate(class_name):
            for entry in class_methods(dex, ci):
                ref = dex.method_ref(entry.method_idx)
                if f"{ref.name}{ref.proto}" == method:
                    return dex, entry
        return None

    def method_code(self, class_name: str, method: str) -> MethodCode | None:
        key = (class_name, method)
        if key in self._code_cache:
            return self._code_cache[key]
        code = None
        try:
            located = self._method_entry(class_name, method)
            if located is not None and located[1].span is not None:
                dex, entry = located
                assert entry.span is not None
                ref = dex.method_ref(entry.method_idx)
                params = tuple(split_params(ref.proto))
                code = MethodCode(
                    class_name=class_name,
                    method=method,
                    dex=dex.name,
                    registers_size=entry.registers_size,
                    ins_size=entry.ins_size,
                    is_static=bool(entry.access_flags & ACC_STATIC),
                    param_types=params,
                    insns=tuple(_resolve(dex, ins) for ins in dex.instructions(entry.span)),
                )
        except (DexFormatError, IndexError, ValueError) as exc:
            self.errors.append((class_name, f"decoding {method}: {exc}"))
        self._code_cache[key] = code
        return code

    def callers(self, class_desc: str, method: str, limit: int | None = None) -> list[CodeHit]:
        name, _, rest = method.partition("(")
        proto = "(" + rest

        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for i in dex.find_methods(class_desc, name) if dex.method_ref(i).proto == proto]
            sites = dex.method_sites(ids, limit=limit)
            return [self._hit(dex, s, "invoke", str(dex.method_ref(s.index))) for s in sites]

        return self._each(f"callers of {class_desc}->{method}", run)[:limit]

    def static_writes(self, field: str) -> list[CodeHit]:
        owner, _, rest = field.partition("->")
        fname, _, ftype = rest.partition(":")

        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for i in dex.find_fields(owner, fname) if dex.field_ref(i).type_desc == ftype]
            return [self._hit(dex, s, "sput", str(dex.field_ref(s.index))) for s in dex.find_sites(SPUT_OPS, ids)]

        return self._each(f"writes of {field}", run)

    def instantiations(self, class_name: str) -> list[CodeHit]:
        desc = java_desc(class_name)

        def run(dex: DexFile) -> list[CodeHit]:
            tidx = dex.find_type(desc)
            if tidx is None:
                return []
            return [self._hit(dex, s, "new-instance", desc) for s in dex.find_sites(NEW_INSTANCE_OPS, [tidx])]

        return self._each(f"instantiations of {class_name}", run)

    def supertypes(self, class_name: str) -> tuple[str | None, tuple[str, ...]] | None:
        for dex, ci in self._locate(class_name):
            sup, ifaces = supertypes(dex, ci)
            return (java_name(sup) if sup else None), tuple(java_name(i) for i in ifaces)
        return None

    def subtypes(self, class_name: str) -> tuple[str, ...]:
        if self._subtypes is None:
            table: dict[str, set[str]] = {}
            for dex in self.dex_files:
                for ci, cdef in enumerate(dex.class_defs):
                    try:
                        me = java_name(dex.type_desc(cdef.class_idx))
                        sup, ifaces = supertypes(dex, ci)
                    except (DexFormatError, IndexError, ValueError, struct.error):
                        continue
                    for parent in (sup, *ifaces):
                        if parent:
                            table.setdefault(java_name(parent), set()).add(me)
            self._subtypes = {k: tuple(sorted(v)) for k, v in table.items()}
        return self._subtypes.get(class_name, ())

    def methods_of(self, class_name: str) -> tuple[str, ...]:
        cached = self._methods.get(class_name)
        if cached is not None:
            return cached
        out = []
        for dex, ci in self._locate(class_name):
            for entry in class_methods(dex, ci):
                ref = dex.method_ref(entry.method_idx)
                out.append(f"{ref.name}{ref.proto}")
        self._methods[class_name] = tuple(out)
        return self._methods[class_name]

    def annotations_of(self, class_name: str, method: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        out = []
        for dex, ci in self._locate(class_name):
            for midx, anns in method_annotations(dex, ci).items():
                ref = dex.method_ref(midx)
                if f"{ref.name}{ref.proto}" != method:
                    continue
                for atype, elements in anns:
                    out.append((atype, tuple(sorted((k, str(v)) for k, v in elements.items()))))
        return tuple(out)


def _resolve(dex: DexFile, ins: Instruction) -> Insn:
    kind = OPCODES[ins.opcode][2] if ins.opcode < 0x100 else ""
    ref: str | None = None
    ref_kind = ""
    if ins.index is not None:
        try:
            if kind in ("METH", "METH_PROTO"):
                ref, ref_kind = str(dex.method_ref(ins.index)), "method"
            elif kind == "FIELD":
                ref, ref_kind = str(dex.field_ref(ins.index)), "field"
            elif kind == "STRING":
                ref, ref_kind = dex.string(ins.index), "string"
            elif kind == "TYPE":
                ref, ref_kind = dex.type_desc(ins.index), "type"
        except DexFormatError:
            ref, ref_kind = None, ""
    return Insn(
        offset=ins.offset,
        op=ins.name,
        regs=ins.registers,
        ref=ref,
        ref_kind=ref_kind,
        literal=ins.literal,
        target=ins.target,
    )


def opcode_name(op: int) -> str:
    """Mnemonic of an opcode byte."""
    return OPCODES[op][0]
