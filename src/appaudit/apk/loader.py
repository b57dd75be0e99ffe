"""``load_apk``: one input (a plain APK or a split bundle) to :class:`ApkFacts`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from appaudit.apk.anomalies import record_anomalies
from appaudit.apk.app import AppInfo, InputFormat
from appaudit.apk.arsc import resolve_label
from appaudit.apk.bundle import open_bundle
from appaudit.apk.collector import MANIFEST, Collector
from appaudit.apk.container import EntryError, ZipContainer, ZipError
from appaudit.apk.dex.index import DexCodeIndex
from appaudit.apk.limits import DEFAULT_LIMITS, Limits
from appaudit.apk.payloads import Searched, nested_payloads, recovered_payloads
from appaudit.apk.resources import StringResources
from appaudit.apk.signing import signer_sha256
from appaudit.apk.source import read_input
from appaudit.errors import InputError
from appaudit.report.model import CoverageReason, ScanErrorEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class ApkFacts:
    """Everything the rules engine may look at for one APK."""

    app: AppInfo
    code: DexCodeIndex
    coverage_reasons: tuple[CoverageReason, ...]
    errors: tuple[ScanErrorEntry, ...]


def _app_code(found: Collector, apk: ZipContainer, prefix: str) -> None:
    """The classes*.dex of one APK (or of a split), and its entries for coverage signals."""
    record_anomalies(found, apk, prefix)
    found.entry_names.update(apk.names())
    found.classes_dex(apk, prefix)
    found.texts.append((apk, prefix))


def _label(label: str | None, base: ZipContainer) -> str | None:
    """The manifest's label, a ``@ID`` reference resolved through the base APK's resources.arsc."""
    arsc = None
    if (label or "").startswith("@") and "resources.arsc" in base:
        try:
            arsc = base.read("resources.arsc")
        except (EntryError, ZipError):  # an unreadable resource table costs the label only
            arsc = None
    return resolve_label(label, arsc)


def _resource_table(base: ZipContainer) -> bytes | None:
    """The base APK's resources.arsc (None: absent or unreadable), read when a string resource is asked for."""
    if "resources.arsc" not in base:
        return None
    try:
        return base.read("resources.arsc")
    except (EntryError, ZipError):  # an unreadable resource table costs the string resources only
        return None


def load_apk(path: str, limits: Limits = DEFAULT_LIMITS) -> ApkFacts:
    """Open the APK or bundle at ``path``; raise InputError when it is neither."""
    raw = read_input(path, limits)
    found = Collector(path, limits)
    try:
        outer = found.container(raw)
    except ZipError as exc:
        if not raw.startswith(b"PK"):
            raise InputError(path, "not a zip archive (an APK is a zip file)") from None
        raise InputError(path, f"not a readable zip archive ({exc})") from None

    if MANIFEST in outer:
        manifest = found.app_manifest(found.manifest(outer, ""), "")
        fmt: InputFormat = "apk"
        base_raw, base_zip = raw, outer
        _app_code(found, outer, "")
        apks: list[Searched] = [(outer, "", 0)]
        splits: tuple[str, ...] = ()
    else:
        if not any(n.lower().endswith(".apk") for n in outer.names()):
            raise InputError(path, "zip has no AndroidManifest.xml: not an APK")
        bundle = open_bundle(found, outer)
        record_anomalies(found, outer, "")
        base = bundle.base
        manifest = found.app_manifest(base.manifest, base.name + "!")
        base_raw, base_zip, fmt = base.raw, base.zip, bundle.format
        apks = []
        for apk in (base, *bundle.splits):
            _app_code(found, apk.zip, apk.name + "!")
            apks.append((apk.zip, apk.name + "!", 1))
        found.entry_names.update(outer.names())
        splits = tuple(a.name for a in (base, *bundle.splits))
    nested_payloads(found, apks)
    recovered_payloads(found, apks)
    if not found.dex_files:
        found.reasons.append(CoverageReason(code="no_dex", detail="the APK contains no readable classes*.dex"))

    signers, problems = signer_sha256(base_raw, base_zip.names(), base_zip.read)
    for problem in problems:
        found.error("signature", problem)
    app = AppInfo(
        sha256=hashlib.sha256(raw).hexdigest(),
        sha1=hashlib.sha1(raw).hexdigest(),  # identity, not security
        md5=hashlib.md5(raw).hexdigest(),  # identity, not security
        size=len(raw),
        manifest=manifest,
        label=_label(manifest.label, base_zip),
        signer_sha256=signers,
        dex_files=tuple(d.name for d in found.dex_files),
        zip_entries=tuple(sorted(found.entry_names)),
        input_format=fmt,
        splits=splits,
        recovered=tuple(found.recovered),
    )
    return ApkFacts(
        app=app,
        code=DexCodeIndex(
            found.dex_files, texts=found.texts, resources=StringResources(lambda: _resource_table(base_zip))
        ),
        coverage_reasons=tuple(found.reasons),
        errors=tuple(found.errors),
    )
