"""The code index over every DEX of an app: the ``model.CodeIndex`` the rules query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from appaudit.apk.dex.opcodes import OPCODES
from appaudit.apk.dex.reader import DexFile, Site
from appaudit.errors import DexFormatError
from appaudit.model import CodeHit


def java_name(desc: str) -> str:
    """``Lcom/example/A$B;`` -> ``com.example.A$B`` (other descriptors unchanged)."""
    if desc.startswith("L") and desc.endswith(";"):
        return desc[1:-1].replace("/", ".")
    return desc


class DexCodeIndex:
    """Answers reference queries across ``classes.dex``, ``classes2.dex``, ..."""

    def __init__(self, dex_files: Sequence[DexFile]) -> None:
        self.dex_files = tuple(dex_files)
        self.errors: list[tuple[str, str]] = []
        """(dex name, message) for each DEX that failed part-way through a query."""

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


def opcode_name(op: int) -> str:
    """Mnemonic of an opcode byte."""
    return OPCODES[op][0]
