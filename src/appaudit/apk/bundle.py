"""Split bundles: a zip of APKs (``.apks`` from bundletool, ``.xapk``, ``.apkm``).

The base APK's manifest is the app's; the splits' DEX files are analysed with
the base's. Standalone APKs for old devices and a second complete APK are
listed as error entries, not analysed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from appaudit.apk.app import InputFormat
from appaudit.apk.collector import MANIFEST, Collector, ManifestRead
from appaudit.apk.container import EntryError, ZipContainer, ZipError
from appaudit.errors import InputError

#: Entries a bundle's base APK is recognised by, best first.
_BASE_NAMES = ("base.apk", "base-master.apk")


@dataclass(frozen=True, slots=True, eq=False)
class BundledApk:
    """One APK of a bundle (compared by identity)."""

    name: str
    """Entry name in the bundle."""
    raw: bytes
    zip: ZipContainer
    manifest: ManifestRead


@dataclass(frozen=True, slots=True)
class Bundle:
    """What of a split bundle is analysed as the app."""

    base: BundledApk
    splits: tuple[BundledApk, ...]
    """Splits analysed with the base, in entry order."""
    format: InputFormat
    """``apks``, ``xapk``, ``apkm``, or ``bundle`` when the kind is unknown."""


def _is_split(apk: BundledApk) -> bool:
    facts = apk.manifest.facts
    return facts is None or facts.split is not None


def _pick_base(apks: Sequence[BundledApk]) -> BundledApk:
    """The APK whose manifest is the app's: no ``split`` attribute, base-like name first."""
    complete = [a for a in apks if not _is_split(a)] or list(apks)

    def rank(a: BundledApk) -> tuple[int, int, str]:
        base = a.name.rsplit("/", 1)[-1]
        facts = a.manifest.facts
        named = base in _BASE_NAMES or (facts is not None and base == f"{facts.package}.apk")
        return (0 if named else 1, a.name.count("/"), a.name)

    return min(complete, key=rank)


#: Bundle formats known by their file extension alone.
_BY_EXTENSION: dict[str, InputFormat] = {"apks": "apks", "xapk": "xapk", "apkm": "apkm"}


def _format(outer: ZipContainer, path: str) -> InputFormat:
    """The bundle's kind, by the index file its tool writes, else by the file's extension."""
    names = set(outer.names())
    if "toc.pb" in names:
        return "apks"
    if "manifest.json" in names:
        return "xapk"
    if "info.json" in names:
        return "apkm"
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return _BY_EXTENSION.get(ext, "bundle")


def _apks(found: Collector, outer: ZipContainer) -> list[BundledApk]:
    """Every readable APK of the bundle except standalones (recorded in ``found``)."""
    apks: list[BundledApk] = []
    split_dirs = any(n.startswith("splits/") for n in outer.names())
    for name in outer.names():
        if not name.lower().endswith(".apk") or name.startswith("META-INF/"):
            continue
        if split_dirs and name.startswith("standalones/"):
            found.error(name, "standalone APK for old devices: not analysed (splits are)")
            continue
        try:
            raw = outer.read(name)
            inner = found.container(raw)
        except (EntryError, ZipError) as exc:
            found.problem(name, "split_unreadable", f"{name}: not a readable APK ({exc})")
            continue
        if MANIFEST not in inner:
            found.problem(name, "split_unreadable", f"{name}: has no {MANIFEST}")
            continue
        apks.append(BundledApk(name, raw, inner, found.manifest(inner, name + "!")))
    return apks


def open_bundle(found: Collector, outer: ZipContainer) -> Bundle:
    """The base APK and the splits of the bundle ``outer``; InputError when it holds no readable APK."""
    apks = _apks(found, outer)
    if not apks:
        raise InputError(found.path, "zip has no AndroidManifest.xml and no readable APK inside: not an APK")
    base = _pick_base(apks)
    splits = [a for a in apks if a is not base and _is_split(a)]
    for other in apks:
        if other is not base and other not in splits:
            found.error(other.name, "a second complete APK in the bundle: not analysed")
    return Bundle(base=base, splits=tuple(splits), format=_format(outer, found.path))
