"""Reading an APK or a split bundle: the only package that imports androguard.

``load_apk`` turns a path into :class:`ApkFacts`: identity, manifest facts and
a code index over every DEX file it can reach, plus what could not be read.

Inputs: a plain ``.apk``; a split bundle (``.apks`` from bundletool, ``.xapk``,
``.apkm``: a zip of APKs) whose base APK's manifest is the app's and whose
splits' DEX files are analysed with the base's; and DEX, JAR, ZIP or APK
payloads nested in any of them (``assets/``, ``res/raw/``, renamed files),
recognised by their magic number, analysed too and named by where they came
from (``assets/payload.jar!classes.dex``); and payloads a packer hid encoded
or encrypted (``assets/Ygg.json[rc4]``, see :mod:`appaudit.apk.recover`).
Every read is bounded by :class:`~appaudit.apk.limits.Limits` and nothing is
written to disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from appaudit import deadline
from appaudit.apk.app import AppInfo, RecoveredPayload
from appaudit.apk.container import Budget, Entry, EntryError, ZipContainer, ZipError
from appaudit.apk.dex.index import DexCodeIndex
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.limits import DEFAULT_LIMITS, Limits
from appaudit.apk.manifest import ManifestError, ManifestFacts, parse_manifest, recover_permissions, resolve_label
from appaudit.apk.recover import HEAD_SIZE, Plan, TrialBudget, key_candidates, plan, rc4_search, unwrap, worth_rc4
from appaudit.apk.signing import signer_sha256
from appaudit.errors import DexFormatError, InputError
from appaudit.report.model import CoverageReason, ScanErrorEntry, quote_names

__all__ = ["ApkFacts", "Limits", "load_apk"]

_DEX_NAME = re.compile(r"classes(\d*)\.dex")
MANIFEST = "AndroidManifest.xml"
_DEX_MAGIC = b"dex\n"
_ZIP_MAGIC = b"PK\x03\x04"
#: Entries never looked at as a hidden payload: the APK's own structure, folders, native
#: libraries (Android loads only ELF there) and compiled resources outside res/raw/.
_NOT_PAYLOAD = re.compile(
    r"AndroidManifest\.xml|resources\.arsc|classes\d*\.dex|META-INF/.*|.*/|lib/.*\.so"
    r"|res/(?!raw/)[^/]+/.*\.(xml|png|jpe?g|webp|gif)"
)
#: A DEX header is 112 bytes; a zip holding one is larger still.
_SMALLEST_PAYLOAD = 0x70
#: Entries a bundle's base APK is recognised by, best first.
_BASE_NAMES = ("base.apk", "base-master.apk")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApkFacts:
    """Everything the rules engine may look at for one APK."""

    app: AppInfo
    code: DexCodeIndex
    coverage_reasons: tuple[CoverageReason, ...]
    errors: tuple[ScanErrorEntry, ...]


def _read_input(path: str, limits: Limits) -> bytes:
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an APK file")
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > limits.max_input_size:
                    raise InputError(
                        path, f"is {info.st_size} bytes, over the {limits.max_input_size}-byte limit (max_input_size)"
                    )
                raw = fh.read()
            else:  # a pipe or device: read in chunks, never past the limit
                buf = bytearray()
                while len(buf) <= limits.max_input_size and (chunk := fh.read(1 << 20)):
                    buf += chunk
                raw = bytes(buf)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > limits.max_input_size:  # a pipe or device, or a file that grew since it was measured
        raise InputError(path, f"is larger than the {limits.max_input_size}-byte limit (max_input_size)")
    return raw


def _dex_order(name: str) -> int:
    m = _DEX_NAME.fullmatch(name)
    return int(m.group(1) or 1) if m else 0


@dataclass(frozen=True, slots=True)
class _Apk:
    """One APK of the input: the plain APK itself, or one APK of a bundle."""

    name: str
    """Entry name in the bundle ('' for a plain APK)."""
    raw: bytes
    zip: ZipContainer
    manifest_raw: bytes
    manifest: ManifestFacts | None
    manifest_problem: str | None


class _Loader:
    """Collects the DEX files, entries, errors and coverage reasons of one input."""

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
        self.payloads_skipped: list[str] = []
        self.recovered: list[RecoveredPayload] = []

    def problem(self, where: str, code: str | None, message: str) -> None:
        """An error entry, and a coverage reason when ``code`` is given (part of the code is unseen)."""
        self.errors.append(ScanErrorEntry(where=where, message=message))
        if code is not None:
            self.reasons.append(CoverageReason(code=code, detail=message))

    def container(self, raw: bytes) -> ZipContainer:
        return ZipContainer(raw, limits=self.limits, budget=self.budget)

    # ------------------------------------------------------------- manifest
    def manifest(self, apk: ZipContainer, where: str) -> tuple[bytes, ManifestFacts | None, str | None]:
        """(raw AXML, facts or None, why it could not be parsed). InputError when it cannot be extracted."""
        try:
            raw = apk.read(MANIFEST)
        except EntryError as exc:
            raise InputError(self.path, f"{where}{exc}") from None
        if len(raw) > self.limits.max_manifest_size:
            return raw, None, f"larger than {self.limits.max_manifest_size} bytes (limit max_manifest_size)"
        try:
            return raw, parse_manifest(raw), None
        except ManifestError as exc:
            return raw, None, str(exc)

    def manifest_facts(self, raw: bytes, facts: ManifestFacts | None, problem: str | None, where: str) -> ManifestFacts:
        if facts is not None:
            for note in facts.notes:
                self.errors.append(ScanErrorEntry(where=where + MANIFEST, message=note))
            if facts.incomplete:
                self.reasons.append(
                    CoverageReason(
                        code="manifest_incomplete",
                        detail="the binary XML breaks off inside <manifest>: components or permissions may be "
                        "missing (permission names of its string pool are included)",
                    )
                )
            return facts
        recovered = recover_permissions(raw)
        detail = f"{problem}; {len(recovered)} permission names recovered from its string pool"
        self.errors.append(ScanErrorEntry(where=where + MANIFEST, message=str(problem)))
        self.reasons.append(CoverageReason(code="manifest_unreadable", detail=detail))
        return ManifestFacts(
            package=None,
            label=None,
            version_name=None,
            version_code=None,
            min_sdk=None,
            target_sdk=None,
            permissions=recovered,
            application_class=None,
            launcher_activities=(),
            components=(),
        )

    # ------------------------------------------------------------ containers
    def anomalies(self, apk: ZipContainer, prefix: str) -> None:
        """Report the zip tricks seen in one container."""
        where = prefix.rstrip("!") or "zip"
        if apk.duplicates:
            code_names = [n for n in apk.duplicates if n == MANIFEST or _DEX_NAME.fullmatch(n)]
            self.problem(
                where,
                "duplicate_entries" if code_names else None,
                f"{len(apk.duplicates)} entry names occur more than once (Android refuses such an APK; "
                f"every copy of a DEX is analysed, the first manifest is used): {quote_names(apk.duplicates)}",
            )
        if apk.unsafe_names:
            self.problem(
                where,
                None,
                f"{len(apk.unsafe_names)} entry names would escape an extraction folder "
                f"(read in memory only): {quote_names([repr(n) for n in apk.unsafe_names])}",
            )
        if apk.encrypted:
            self.problem(
                where,
                None,
                f"{len(apk.encrypted)} entries carry the encryption flag, which Android ignores "
                f"(read as if it were clear): {quote_names(apk.encrypted)}",
            )
        if apk.odd_methods:
            self.problem(
                where,
                None,
                f"{len(apk.odd_methods)} entries name an unknown compression method "
                f"(read as stored or deflated, as Android does): {quote_names(apk.odd_methods)}",
            )

    def add_dex(self, data: bytes, name: str) -> None:
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
        try:
            data = apk.read(entry)
        except EntryError as exc:
            code = "dex_unreadable" if exc.code == "entry_unreadable" else exc.code
            self.problem(name, code, f"{name}: could not be extracted: {exc.reason}")
            return
        self.add_dex(data, name)

    def app_code(self, apk: ZipContainer, prefix: str) -> None:
        """The classes*.dex of one APK (or of a split), and its entries for coverage signals."""
        self.anomalies(apk, prefix)
        names = apk.names()
        self.entry_names.update(names)
        for name in sorted((n for n in names if _DEX_NAME.fullmatch(n)), key=_dex_order):
            for k, entry in enumerate(apk.all(name)):
                self.read_dex(apk, entry, f"{prefix}{name}" + (f"#{k + 1}" if k else ""))
        self.texts.append((apk, prefix))

    def zip_dex(self, inner: ZipContainer, name: str) -> None:
        """Read the ``classes*.dex`` of a nested zip named ``name`` (``name!classes.dex``, ...)."""
        for dex_name in sorted((n for n in inner.names() if _DEX_NAME.fullmatch(n)), key=_dex_order):
            for k, dex_entry in enumerate(inner.all(dex_name)):
                self.read_dex(inner, dex_entry, f"{name}!{dex_name}" + (f"#{k + 1}" if k else ""))

    def payloads_in(self, apk: ZipContainer, prefix: str, depth: int) -> None:
        """DEX/JAR/ZIP/APK payloads hidden among the entries, by magic number, up to ``max_depth``."""
        if depth >= self.limits.max_depth:
            return
        for entry in _candidates(apk):
            deadline.check()
            try:
                magic = apk.peek(entry, 4)
            except EntryError:
                continue
            if magic not in (_DEX_MAGIC, _ZIP_MAGIC):
                continue
            name = prefix + entry.name
            if self.payloads >= self.limits.max_payloads:
                self.payloads_skipped.append(name)
                continue
            if magic == _DEX_MAGIC:
                self.payloads += 1
                self.read_dex(apk, entry, name)
                continue
            try:
                inner = self.container(apk.read(entry))
            except (EntryError, ZipError) as exc:
                self.errors.append(ScanErrorEntry(where=name, message=f"nested zip not readable: {exc}"))
                continue
            if any(_DEX_NAME.fullmatch(n) for n in inner.names()):
                self.payloads += 1
                self.anomalies(inner, name + "!")
                self.zip_dex(inner, name)
            self.payloads_in(inner, name + "!", depth + 1)

    def all_payloads(self, apks: Sequence[tuple[ZipContainer, str, int]]) -> None:
        try:
            for apk, prefix, depth in apks:
                self.payloads_in(apk, prefix, depth)
        except deadline.ScanTimeout:
            deadline.note("nested payloads")
        if self.payloads_skipped:
            self.reasons.append(
                CoverageReason(
                    code="payload_limit",
                    detail=f"{len(self.payloads_skipped)} nested payloads beyond the first "
                    f"{self.limits.max_payloads} were not analysed (limit max_payloads): "
                    f"{quote_names(self.payloads_skipped)}",
                )
            )

    def recover_in(self, apks: Sequence[tuple[ZipContainer, str, int]]) -> None:
        """Payloads hidden encoded or encrypted among the entries (:mod:`appaudit.apk.recover`).

        Key-free transforms first (base64, zlib, gzip, XOR); then an RC4 search over the random-looking
        entries left, with keys from the DEX files read so far. When that recovers code, the entries still
        unexplained are searched once more with keys from the recovered code (a second stage).
        """
        budget = TrialBudget(self.limits.max_key_trials)
        try:
            pending: dict[str, tuple[ZipContainer, str, int, Entry, bytes]] = {}
            for apk, prefix, depth in apks:
                for entry in _candidates(apk):
                    try:
                        head = apk.peek(entry, HEAD_SIZE)
                    except EntryError:
                        continue
                    if head[:4] in (_DEX_MAGIC, _ZIP_MAGIC):
                        continue
                    how = plan(head)
                    if how is not None:
                        self._recover_one(apk, prefix, depth, entry, how)
                    elif worth_rc4(head, entry.uncompressed_size):
                        pending[prefix + entry.name] = (apk, prefix, depth, entry, head)
            sources = list(self.dex_files)
            for _stage in range(2):
                if not pending or not sources or budget.left <= 0:
                    return
                before = len(self.dex_files)
                heads = {name: item[4] for name, item in pending.items()}
                for name, how in rc4_search(heads, key_candidates(sources), budget).items():
                    apk, prefix, depth, entry, _head = pending.pop(name)
                    self._recover_one(apk, prefix, depth, entry, how)
                sources = self.dex_files[before:]
        except deadline.ScanTimeout:
            deadline.note("encrypted payloads")

    def _recover_one(self, apk: ZipContainer, prefix: str, depth: int, entry: Entry, how: Plan) -> None:
        """Decode one entry by ``how`` and analyse what comes out (or say why nothing did)."""
        name = prefix + entry.name
        if self.payloads >= self.limits.max_payloads:
            self.payloads_skipped.append(name)
            return
        try:
            data = apk.read(entry)
        except EntryError as exc:
            self.errors.append(ScanErrorEntry(where=name, message=f"encoded payload not readable: {exc.reason}"))
            return
        cap = min(self.limits.max_entry_size, self.budget.remaining)
        result = unwrap(data, how, cap)
        if result is None:
            self.errors.append(
                ScanErrorEntry(where=name, message=f"looked {how.how}-encoded, but did not decode to a DEX or zip")
            )
            return
        self.budget.used += len(result.data)
        self.payloads += 1
        label = f"{name}[{how.how}]"
        before = len(self.dex_files)
        if result.data.startswith(_DEX_MAGIC):
            self.add_dex(result.data, label)
        else:
            try:
                inner = self.container(result.data)
            except ZipError as exc:
                self.errors.append(ScanErrorEntry(where=label, message=f"recovered zip not readable: {exc}"))
                return
            self.zip_dex(inner, label)
            self.payloads_in(inner, label + "!", depth + 1)
        self.recovered.append(
            RecoveredPayload(
                entry=name,
                steps=result.steps,
                size=len(result.data),
                sha256=hashlib.sha256(result.data).hexdigest(),
                dex_files=tuple(d.name for d in self.dex_files[before:]),
            )
        )

    # --------------------------------------------------------------- bundles
    def bundle(self, outer: ZipContainer) -> tuple[_Apk, list[_Apk], str]:
        """(base APK, splits to analyse with it, format) of a split bundle."""
        apks: list[_Apk] = []
        split_dirs = any(n.startswith("splits/") for n in outer.names())
        for name in outer.names():
            if not name.lower().endswith(".apk") or name.startswith("META-INF/"):
                continue
            if split_dirs and name.startswith("standalones/"):
                self.errors.append(
                    ScanErrorEntry(where=name, message="standalone APK for old devices: not analysed (splits are)")
                )
                continue
            try:
                raw = outer.read(name)
                inner = self.container(raw)
            except (EntryError, ZipError) as exc:
                self.problem(name, "split_unreadable", f"{name}: not a readable APK ({exc})")
                continue
            if MANIFEST not in inner:
                self.problem(name, "split_unreadable", f"{name}: has no {MANIFEST}")
                continue
            manifest_raw, facts, problem = self.manifest(inner, name + "!")
            apks.append(_Apk(name, raw, inner, manifest_raw, facts, problem))
        if not apks:
            raise InputError(self.path, "zip has no AndroidManifest.xml and no readable APK inside: not an APK")
        base = _pick_base(apks)
        splits = [a for a in apks if a is not base and (a.manifest is None or a.manifest.split is not None)]
        for other in apks:
            if other is not base and other not in splits:
                self.errors.append(
                    ScanErrorEntry(where=other.name, message="a second complete APK in the bundle: not analysed")
                )
        names = set(outer.names())
        if "toc.pb" in names:
            fmt = "apks"
        elif "manifest.json" in names:
            fmt = "xapk"
        elif "info.json" in names:
            fmt = "apkm"
        else:
            ext = os.path.splitext(self.path)[1].lower().lstrip(".")
            fmt = ext if ext in ("apks", "xapk", "apkm") else "bundle"
        return base, splits, fmt


def _candidates(apk: ZipContainer) -> list[Entry]:
    """Entries that might hide a payload, plain or encoded: not the APK's own structure, native
    libraries or compiled resources, large enough for a DEX header; one per name (the first)."""
    found: list[Entry] = []
    seen: set[str] = set()
    for entry in apk.entries:
        if (
            entry.name in seen
            or _NOT_PAYLOAD.fullmatch(entry.name)
            or max(entry.uncompressed_size, entry.compressed_size) < _SMALLEST_PAYLOAD
        ):
            continue
        seen.add(entry.name)
        found.append(entry)
    return found


def _pick_base(apks: Sequence[_Apk]) -> _Apk:
    """The APK whose manifest is the app's: no ``split`` attribute, base-like name first."""
    complete = [a for a in apks if a.manifest is not None and a.manifest.split is None] or list(apks)

    def rank(a: _Apk) -> tuple[int, int, str]:
        base = a.name.rsplit("/", 1)[-1]
        named = base in _BASE_NAMES or (a.manifest is not None and base == f"{a.manifest.package}.apk")
        return (0 if named else 1, a.name.count("/"), a.name)

    return min(complete, key=rank)


def load_apk(path: str, limits: Limits = DEFAULT_LIMITS) -> ApkFacts:
    """Open the APK or bundle at ``path``; raise InputError when it is neither."""
    raw = _read_input(path, limits)
    loader = _Loader(path, limits)
    try:
        outer = loader.container(raw)
    except ZipError as exc:
        if not raw.startswith(b"PK"):
            raise InputError(path, "not a zip archive (an APK is a zip file)") from None
        raise InputError(path, f"not a readable zip archive ({exc})") from None

    if MANIFEST in outer:
        manifest_raw, parsed, problem = loader.manifest(outer, "")
        facts = loader.manifest_facts(manifest_raw, parsed, problem, "")
        base_raw, base_zip, fmt = raw, outer, "apk"
        loader.app_code(outer, "")
        apks = [(outer, "", 0)]
        splits: tuple[str, ...] = ()
    else:
        if not any(n.lower().endswith(".apk") for n in outer.names()):
            raise InputError(path, "zip has no AndroidManifest.xml: not an APK")
        base, others, fmt = loader.bundle(outer)
        loader.anomalies(outer, "")
        facts = loader.manifest_facts(base.manifest_raw, base.manifest, base.manifest_problem, base.name + "!")
        base_raw, base_zip = base.raw, base.zip
        apks = []
        for apk in (base, *others):
            loader.app_code(apk.zip, apk.name + "!")
            apks.append((apk.zip, apk.name + "!", 1))
        loader.entry_names.update(outer.names())
        splits = tuple(a.name for a in (base, *others))
    loader.all_payloads(apks)
    loader.recover_in(apks)
    if not loader.dex_files:
        loader.reasons.append(CoverageReason(code="no_dex", detail="the APK contains no readable classes*.dex"))

    signers, problems = signer_sha256(base_raw, base_zip.names(), base_zip.read)
    loader.errors.extend(ScanErrorEntry(where="signature", message=p) for p in problems)
    arsc = None
    if (facts.label or "").startswith("@") and "resources.arsc" in base_zip:
        try:
            arsc = base_zip.read("resources.arsc")
        except (EntryError, ZipError):  # an unreadable resource table costs the label only
            arsc = None
    app = AppInfo(
        sha256=hashlib.sha256(raw).hexdigest(),
        sha1=hashlib.sha1(raw).hexdigest(),  # noqa: S324 - identity, not security
        md5=hashlib.md5(raw).hexdigest(),  # noqa: S324 - identity, not security
        size=len(raw),
        package=facts.package,
        label=resolve_label(facts.label, arsc),
        version_name=facts.version_name,
        version_code=facts.version_code,
        min_sdk=facts.min_sdk,
        target_sdk=facts.target_sdk,
        permissions=facts.permissions,
        application_class=facts.application_class,
        launcher_activities=facts.launcher_activities,
        components=facts.components,
        signer_sha256=signers,
        dex_files=tuple(d.name for d in loader.dex_files),
        zip_entries=tuple(sorted(loader.entry_names)),
        input_format=fmt,
        splits=splits,
        recovered=tuple(loader.recovered),
    )
    return ApkFacts(
        app=app,
        code=DexCodeIndex(loader.dex_files, texts=loader.texts),
        coverage_reasons=tuple(loader.reasons),
        errors=tuple(loader.errors),
    )
