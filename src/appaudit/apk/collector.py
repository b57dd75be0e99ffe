"""What reading one input has found so far: DEX files, entry names, errors, coverage reasons.

The loader, the bundle reader and the payload search all add to one
:class:`Collector`; :func:`appaudit.apk.loader.load_apk` turns it into the
frozen :class:`~appaudit.apk.loader.ApkFacts` at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appaudit.apk.app import Manifest, RecoveredPayload
from appaudit.apk.container import Budget, Entry, EntryError, ZipContainer
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.limits import Limits
from appaudit.apk.manifest import ManifestError, parse_manifest, recover_permissions
from appaudit.errors import DexFormatError, InputError
from appaudit.report.model import CoverageReason, ScanErrorEntry

MANIFEST = "AndroidManifest.xml"
DEX_NAME = re.compile(r"classes(\d*)\.dex")


def _dex_order(name: str) -> int:
    m = DEX_NAME.fullmatch(name)
    return int(m.group(1) or 1) if m else 0


def has_classes_dex(apk: ZipContainer) -> bool:
    """Whether ``apk`` holds a ``classes*.dex`` entry."""
    return any(DEX_NAME.fullmatch(n) for n in apk.names())


@dataclass(frozen=True, slots=True)
class ManifestRead:
    """One APK's AndroidManifest.xml as extracted, and what parsing it gave."""

    raw: bytes
    facts: Manifest | None
    """None when it could not be parsed."""
    problem: str | None
    """Why it could not be parsed (None when it was)."""


class Collector:
    """The DEX files, entries, errors and coverage reasons of one input, as they are found."""

    def __init__(self, path: str, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.budget = Budget(limits)
        self.errors: list[ScanErrorEntry] = []
        self.reasons: list[CoverageReason] = []
        self.dex_files: list[DexFile] = []
        self.entry_names: set[str] = set()
        self.texts: list[tuple[ZipContainer, str]] = []
        """(APK, prefix) of every APK of the app, for searches of the text of non-DEX code."""
        self.payloads = 0
        """Nested and recovered payloads analysed so far (bounded by ``Limits.max_payloads``)."""
        self.payloads_skipped: list[str] = []
        self.recovered: list[RecoveredPayload] = []

    def error(self, where: str, message: str) -> None:
        """An error entry that costs no code (nothing the analysis needed is unseen)."""
        self.errors.append(ScanErrorEntry(where=where, message=message))

    def problem(self, where: str, code: str | None, message: str) -> None:
        """An error entry, and a coverage reason when ``code`` is given (part of the code is unseen)."""
        self.error(where, message)
        if code is not None:
            self.reasons.append(CoverageReason(code=code, detail=message))

    def container(self, raw: bytes) -> ZipContainer:
        """A zip read under this input's limits and shared byte budget; ZipError when it is not one."""
        return ZipContainer(raw, limits=self.limits, budget=self.budget)

    def add_dex(self, data: bytes, name: str) -> None:
        """Analyse ``data`` as the DEX file ``name``, or say why it cannot be."""
        try:
            dex = DexFile(data, name)
        except DexFormatError as exc:
            self.problem(name, "dex_unreadable", str(exc))
            return
        if dex.file_size > len(data):
            self.problem(
                name,
                "dex_damaged",
                f"{name}: truncated: its header says {dex.file_size} bytes, the file has {len(data)}",
            )
        self.dex_files.append(dex)

    def read_dex(self, apk: ZipContainer, entry: Entry, name: str) -> None:
        """Extract ``entry`` and analyse it as the DEX file ``name``."""
        try:
            data = apk.read(entry)
        except EntryError as exc:
            code = "dex_unreadable" if exc.code == "entry_unreadable" else exc.code
            self.problem(name, code, f"{name}: could not be extracted: {exc.reason}")
            return
        self.add_dex(data, name)

    def classes_dex(self, apk: ZipContainer, prefix: str) -> None:
        """Every ``classes*.dex`` of ``apk`` in the order Android loads them, named ``prefix + name``
        (a second copy of a duplicated name gets ``#2``, ...)."""
        for name in sorted((n for n in apk.names() if DEX_NAME.fullmatch(n)), key=_dex_order):
            for k, entry in enumerate(apk.all(name)):
                self.read_dex(apk, entry, f"{prefix}{name}" + (f"#{k + 1}" if k else ""))

    def manifest(self, apk: ZipContainer, where: str) -> ManifestRead:
        """``apk``'s manifest, parsed when it can be; InputError when it cannot even be extracted."""
        try:
            raw = apk.read(MANIFEST)
        except EntryError as exc:
            raise InputError(self.path, f"{where}{exc}") from None
        if len(raw) > self.limits.max_manifest_size:
            limit = self.limits.max_manifest_size
            return ManifestRead(raw, None, f"larger than {limit} bytes (limit max_manifest_size)")
        try:
            return ManifestRead(raw, parse_manifest(raw), None)
        except ManifestError as exc:
            return ManifestRead(raw, None, str(exc))

    def app_manifest(self, read: ManifestRead, where: str) -> Manifest:
        """The app's manifest facts from ``read`` (of the APK shown as ``where``), with what parsing it
        cost recorded; for an unparsable manifest, the permission names of its string pool."""
        facts = read.facts
        if facts is not None:
            for note in facts.notes:
                self.error(where + MANIFEST, note)
            if facts.incomplete:
                self.reasons.append(
                    CoverageReason(
                        code="manifest_incomplete",
                        detail="the binary XML breaks off inside <manifest>: components or permissions may be "
                        "missing (permission names of its string pool are included)",
                    )
                )
            return facts
        recovered = recover_permissions(read.raw)
        detail = f"{read.problem}; {len(recovered)} permission names recovered from its string pool"
        self.error(where + MANIFEST, str(read.problem))
        self.reasons.append(CoverageReason(code="manifest_unreadable", detail=detail))
        return Manifest(permissions=recovered)
