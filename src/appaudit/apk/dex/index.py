"""The code index over every DEX of an app: the ``apk.dex.types.CodeIndex`` the rules query."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence

from appaudit import deadline
from appaudit.apk.container import ZipContainer
from appaudit.apk.dex.code import decode_method
from appaudit.apk.dex.control import catch_handlers, switch_cases
from appaudit.apk.dex.reader import DexFile, Site
from appaudit.apk.dex.structure import (
    ACC_STATIC,
    MethodEntry,
    class_def_index,
    class_methods,
    method_annotations,
    native_method_ids,
    supertypes,
)
from appaudit.apk.dex.text import TextSearch
from appaudit.apk.dex.types import CodeHit, MethodCode
from appaudit.apk.resources import StringResources
from appaudit.descriptors import java_desc, java_name, split_params
from appaudit.errors import DexFormatError
from appaudit.model import EvidenceKind
from appaudit.report.model import CoverageReason

#: opcodes of static field writes (sput*)
SPUT_OPS = frozenset(range(0x67, 0x6E))
#: opcodes of instance field writes (iput*)
IPUT_OPS = frozenset(range(0x59, 0x60))
NEW_INSTANCE_OPS = frozenset((0x22,))
CONST_CLASS_OPS = frozenset((0x1C,))
#: What the reader raises on a damaged DEX; the others are a safety net for bugs, reported by type name.
_UNEXPECTED = (IndexError, ValueError, OverflowError, KeyError, struct.error, RecursionError)


class DexCodeIndex:
    """Answers reference queries across ``classes.dex``, ``classes2.dex``, ..."""

    def __init__(
        self,
        dex_files: Sequence[DexFile],
        texts: Sequence[tuple[ZipContainer, str]] = (),
        resources: StringResources | None = None,
    ) -> None:
        self.dex_files = tuple(dex_files)
        self.resources = resources
        self.text = TextSearch(texts)
        self.errors: list[tuple[str, str]] = []
        """(dex name, message) for each DEX that failed part-way through a query."""
        self._code_cache: dict[tuple[str, str], MethodCode | None] = {}
        self._annotations: dict[str, dict[str, tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]] = {}
        self._subtypes: dict[str, tuple[str, ...]] | None = None
        self._classes: dict[str, tuple[tuple[str, ...], dict[str, tuple[DexFile, MethodEntry]]]] = {}
        self._defined: frozenset[str] | None = None

    def _hit(self, dex: DexFile, site: Site, kind: EvidenceKind, value: str) -> CodeHit:
        method = dex.method_ref(site.span.method_idx)
        return CodeHit(
            kind=kind,
            dex=dex.name,
            class_name=java_name(dex.class_desc_of(site.span)),
            method=f"{method.name}{method.proto}",
            offset=site.offset,
            value=value,
        )

    def _fail(self, where: str, query: str, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, DexFormatError) else f"{type(exc).__name__}: {exc}"
        entry = (where, f"{query}: {message}")
        if entry not in self.errors:
            self.errors.append(entry)

    def _each(self, query: str, fn: Callable[[DexFile], Iterable[CodeHit]]) -> list[CodeHit]:
        hits: list[CodeHit] = []
        for dex in self.dex_files:
            try:
                hits.extend(fn(dex))
            except deadline.ScanTimeout:
                deadline.note("code search")
                break
            except (DexFormatError, *_UNEXPECTED) as exc:
                self._fail(dex.name, query, exc)
        return hits

    def _hits(
        self, dex: DexFile, sites: Sequence[Site], kind: EvidenceKind, value: Callable[[Site], str]
    ) -> list[CodeHit]:
        """A hit per site; a site whose method or reference cannot be resolved is left out and reported."""
        out = []
        for site in sites:
            try:
                out.append(self._hit(dex, site, kind, value(site)))
            except DexFormatError as exc:
                self._fail(dex.name, f"{kind} at {site.span.start + site.offset:#x}", exc)
        return out

    def invocations(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for name in names for i in dex.find_methods(class_desc, name)]
            return self._hits(dex, dex.method_sites(ids), EvidenceKind.INVOKE, lambda s: str(dex.method_ref(s.index)))

        return self._each(f"invocations of {class_desc}", run)

    def static_reads(self, class_desc: str, names: Sequence[str]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for name in names for i in dex.find_fields(class_desc, name)]
            return self._hits(dex, dex.sget_sites(ids), EvidenceKind.SGET, lambda s: str(dex.field_ref(s.index)))

        return self._each(f"static reads of {class_desc}", run)

    def string_loads(self, pattern: re.Pattern[bytes]) -> list[CodeHit]:
        def run(dex: DexFile) -> list[CodeHit]:
            ids = dex.find_strings_matching(pattern)
            return self._hits(dex, dex.string_sites(ids), EvidenceKind.CONST_STRING, lambda s: dex.string(s.index))

        return self._each(f"strings matching {pattern.pattern!r}", run)

    def text_matches(self, entries: re.Pattern[str], pattern: re.Pattern[bytes]) -> list[CodeHit]:
        """Matches of ``pattern`` in the zip entries ``entries`` fully matches (see :mod:`.text`)."""
        return self.text.matches(entries, pattern)

    @property
    def text_errors(self) -> list[tuple[str, str]]:
        """(entry, message) for each embedded file :meth:`text_matches` could not read."""
        return self.text.errors

    def defined_classes(self) -> frozenset[str]:
        if self._defined is not None:
            return self._defined
        names: set[str] = set()
        for dex in self.dex_files:
            bad = 0
            for c in dex.class_defs:
                try:
                    names.add(java_name(dex.type_desc(c.class_idx)))
                except DexFormatError:
                    bad += 1
            if bad:
                self._fail(dex.name, "class list", DexFormatError(f"{bad} class_defs name no valid type"))
        self._defined = frozenset(names)
        return self._defined

    def native_methods(self) -> list[tuple[str, str]]:
        """(class, method) of every method declared ``native`` (its body is in a native library)."""
        out: list[tuple[str, str]] = []
        for dex in self.dex_files:
            for ci, native in native_method_ids(dex):
                try:
                    cls = java_name(dex.type_desc(dex.class_defs[ci].class_idx))
                    for midx in native:
                        ref = dex.method_ref(midx)
                        out.append((cls, f"{ref.name}{ref.proto}"))
                except DexFormatError:
                    continue
        return sorted(set(out))

    def damage_reasons(self) -> list[CoverageReason]:
        """One ``dex_damaged`` reason per DEX that turned out partly unreadable while it was searched."""
        problems: dict[str, list[str]] = {}
        for dex in self.dex_files:
            problems.setdefault(dex.name, []).extend(dex.damage)
        for where, message in self.errors:
            problems.setdefault(where, []).append(message)
        return [
            CoverageReason(
                code="dex_damaged",
                detail=f"{where}: {len(msgs)} part(s) could not be read, so code there may be unseen; first: {msgs[0]}",
            )
            for where, msgs in sorted(problems.items())
            if msgs
        ]

    # ------------------------------------------------------- structure queries
    def _locate(self, class_name: str) -> list[tuple[DexFile, int]]:
        desc = java_desc(class_name)
        found = []
        for dex in self.dex_files:
            try:
                ci = class_def_index(dex, desc)
            except DexFormatError as exc:
                self._fail(dex.name, f"looking up {class_name}", exc)
                continue
            if ci is not None:
                found.append((dex, ci))
        return found

    def _entries(self, class_name: str) -> Iterator[tuple[DexFile, MethodEntry, str]]:
        """(dex, entry, name+prototype) of every readable method the app's class defines."""
        for dex, ci in self._locate(class_name):
            for entry in class_methods(dex, ci):
                try:
                    ref = dex.method_ref(entry.method_idx)
                except DexFormatError:
                    continue
                yield dex, entry, f"{ref.name}{ref.proto}"

    def _members(self, class_name: str) -> tuple[tuple[str, ...], dict[str, tuple[DexFile, MethodEntry]]]:
        """(name+prototype of every method the class defines, in order; the first definition of each),
        read once per class: the searches ask for one method after another of the same class."""
        cached = self._classes.get(class_name)
        if cached is None:
            sigs: list[str] = []
            first: dict[str, tuple[DexFile, MethodEntry]] = {}
            for dex, entry, sig in self._entries(class_name):
                sigs.append(sig)
                first.setdefault(sig, (dex, entry))
            cached = self._classes[class_name] = (tuple(sigs), first)
        return cached

    def _method_entry(self, class_name: str, method: str) -> tuple[DexFile, MethodEntry] | None:
        return self._members(class_name)[1].get(method)

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
                insns = decode_method(dex, entry.span)
                code = MethodCode(
                    class_name=class_name,
                    method=method,
                    dex=dex.name,
                    registers_size=entry.registers_size,
                    ins_size=entry.ins_size,
                    is_static=bool(entry.access_flags & ACC_STATIC),
                    param_types=params,
                    insns=insns,
                    cases=switch_cases(dex, entry.span, insns),
                    handlers=catch_handlers(dex, entry.span),
                )
        except deadline.ScanTimeout:
            deadline.note("code search")
            return None
        except (DexFormatError, *_UNEXPECTED) as exc:
            self._fail(class_name, f"decoding {method}", exc)
        self._code_cache[key] = code
        return code

    def callers(self, class_desc: str, method: str, limit: int | None = None) -> list[CodeHit]:
        name, _, rest = method.partition("(")
        proto = "(" + rest

        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for i in dex.find_methods(class_desc, name) if dex.method_ref(i).proto == proto]
            sites = dex.method_sites(ids, limit=limit)
            return [self._hit(dex, s, EvidenceKind.INVOKE, str(dex.method_ref(s.index))) for s in sites]

        return self._each(f"callers of {class_desc}->{method}", run)[:limit]

    def static_writes(self, field: str) -> list[CodeHit]:
        owner, _, rest = field.partition("->")
        fname, _, ftype = rest.partition(":")

        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for i in dex.find_fields(owner, fname) if dex.field_ref(i).type_desc == ftype]
            return [
                self._hit(dex, s, EvidenceKind.SPUT, str(dex.field_ref(s.index))) for s in dex.find_sites(SPUT_OPS, ids)
            ]

        return self._each(f"writes of {field}", run)

    def instance_writes(self, field: str) -> list[CodeHit]:
        owner, _, rest = field.partition("->")
        fname, _, ftype = rest.partition(":")

        def run(dex: DexFile) -> list[CodeHit]:
            ids = [i for i in dex.find_fields(owner, fname) if dex.field_ref(i).type_desc == ftype]
            return [
                self._hit(dex, s, EvidenceKind.IPUT, str(dex.field_ref(s.index))) for s in dex.find_sites(IPUT_OPS, ids)
            ]

        return self._each(f"writes of {field}", run)

    def string_resource(self, res_id: int) -> str | None:
        return self.resources.string(res_id) if self.resources is not None else None

    def instantiations(self, class_name: str, via: str = "new-instance") -> list[CodeHit]:
        desc = java_desc(class_name)
        ops = NEW_INSTANCE_OPS if via == "new-instance" else CONST_CLASS_OPS

        def run(dex: DexFile) -> list[CodeHit]:
            tidx = dex.find_type(desc)
            if tidx is None:
                return []
            return [self._hit(dex, s, EvidenceKind(via), desc) for s in dex.find_sites(ops, [tidx])]

        return self._each(f"{via} sites of {class_name}", run)

    def supertypes(self, class_name: str) -> tuple[str | None, tuple[str, ...]] | None:
        for dex, ci in self._locate(class_name):
            try:
                sup, ifaces = supertypes(dex, ci)
            except DexFormatError as exc:
                self._fail(dex.name, f"supertypes of {class_name}", exc)
                return None, ()
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
                    except DexFormatError:
                        continue
                    for parent in (sup, *ifaces):
                        if parent:
                            table.setdefault(java_name(parent), set()).add(me)
            self._subtypes = {k: tuple(sorted(v)) for k, v in table.items()}
        return self._subtypes.get(class_name, ())

    def methods_of(self, class_name: str) -> tuple[str, ...]:
        return self._members(class_name)[0]

    def annotations_of(self, class_name: str, method: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        # The class's annotation directory is parsed once, for all its methods: the endpoint check asks
        # about one method after another of the same class (measured ~0.8 s of the corpus's call search).
        table = self._annotations.get(class_name)
        if table is None:
            table = self._annotations[class_name] = self._class_annotations(class_name)
        return table.get(method, ())

    def _class_annotations(self, class_name: str) -> dict[str, tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]:
        """Method signature -> its annotations (type, sorted elements), across the class's DEX files in order."""
        out: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = {}
        for dex, ci in self._locate(class_name):
            for midx, anns in method_annotations(dex, ci).items():
                try:
                    ref = dex.method_ref(midx)
                except DexFormatError:
                    continue
                mine = out.setdefault(f"{ref.name}{ref.proto}", [])
                for atype, elements in anns:
                    mine.append((atype, tuple(sorted((k, str(v)) for k, v in elements.items()))))
        return {sig: tuple(anns) for sig, anns in out.items()}
