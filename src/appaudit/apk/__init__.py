"""Reading an APK: the only package that imports androguard.

``load_apk`` turns a path into :class:`ApkFacts`: identity, manifest facts and
a code index over its DEX files, plus what could not be read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass

from appaudit.apk.dex.index import DexCodeIndex
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.manifest import ManifestError, ManifestFacts, parse_manifest, recover_permissions, resolve_label
from appaudit.apk.signing import signer_sha256
from appaudit.errors import DexFormatError, InputError
from appaudit.model import AppInfo, CoverageReason, ScanErrorEntry

__all__ = ["ApkFacts", "load_apk"]

_DEX_NAME = re.compile(r"classes(\d*)\.dex")
MANIFEST = "AndroidManifest.xml"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApkFacts:
    """Everything the rules engine may look at for one APK."""

    app: AppInfo
    code: DexCodeIndex
    coverage_reasons: tuple[CoverageReason, ...]
    errors: tuple[ScanErrorEntry, ...]


def _read_input(path: str) -> bytes:
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an APK file")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from exc


def _dex_order(name: str) -> int:
    m = _DEX_NAME.fullmatch(name)
    return int(m.group(1) or 1) if m else 0


def load_apk(path: str) -> ApkFacts:
    """Open the APK at ``path``; raise InputError when it is not an APK at all."""
    raw = _read_input(path)
    if not raw.startswith(b"PK"):
        raise InputError(path, "not a zip archive (an APK is a zip file)")

    # apkInspector (androguard's zip layer) reads zips the tolerant way Android does.
    from apkInspector.headers import ZipEntry
    from loguru import logger

    # androguard logs through loguru at DEBUG; errors reach the report instead.
    logger.disable("androguard")

    try:
        apk = ZipEntry.parse(io.BytesIO(raw), True)
        names = list(apk.namelist())
    except Exception as exc:  # apkInspector raises many kinds on broken zips
        raise InputError(path, f"not a readable zip archive ({type(exc).__name__})") from exc
    if MANIFEST not in names:
        raise InputError(path, "zip has no AndroidManifest.xml: not an APK")

    errors: list[ScanErrorEntry] = []
    reasons: list[CoverageReason] = []
    try:
        manifest_raw = apk.read(MANIFEST)
    except Exception as exc:  # a manifest entry that cannot be decompressed
        raise InputError(path, f"AndroidManifest.xml cannot be extracted ({type(exc).__name__})") from exc
    try:
        facts = parse_manifest(manifest_raw)
    except ManifestError as exc:
        recovered = recover_permissions(manifest_raw)
        detail = f"{exc}; {len(recovered)} permission names recovered from its string pool"
        errors.append(ScanErrorEntry(where=MANIFEST, message=str(exc)))
        reasons.append(CoverageReason(code="manifest_unreadable", detail=detail))
        facts = ManifestFacts(
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

    dex_files: list[DexFile] = []
    for name in sorted((n for n in names if _DEX_NAME.fullmatch(n)), key=_dex_order):
        try:
            dex_files.append(DexFile(apk.read(name), name))
        except DexFormatError as exc:
            errors.append(ScanErrorEntry(where=name, message=str(exc)))
            reasons.append(CoverageReason(code="dex_unreadable", detail=str(exc)))
        except Exception as exc:  # decompression failures inside the zip layer
            msg = f"{name}: could not be extracted ({type(exc).__name__})"
            errors.append(ScanErrorEntry(where=name, message=msg))
            reasons.append(CoverageReason(code="dex_unreadable", detail=msg))
    if not dex_files:
        reasons.append(CoverageReason(code="no_dex", detail="the APK contains no readable classes*.dex"))

    signers, problems = signer_sha256(raw, names, apk.read)
    try:
        arsc = apk.read("resources.arsc") if "resources.arsc" in names and (facts.label or "").startswith("@") else None
    except Exception:  # an unreadable resource table costs the label only
        arsc = None
    errors.extend(ScanErrorEntry(where="signature", message=p) for p in problems)
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
        dex_files=tuple(d.name for d in dex_files),
        zip_entries=tuple(sorted(names)),
    )
    return ApkFacts(
        app=app,
        code=DexCodeIndex(dex_files),
        coverage_reasons=tuple(reasons),
        errors=tuple(errors),
    )
