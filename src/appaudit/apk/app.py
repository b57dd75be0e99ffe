"""What the APK layer reads about an app: identity, manifest (with its components), recovered payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The manifest elements that declare a component.
ComponentKind = Literal["activity", "activity-alias", "service", "receiver", "provider"]
#: What the input was: a plain APK or one of the split-bundle formats (``bundle``: a zip of APKs of no known tool).
InputFormat = Literal["apk", "apks", "xapk", "apkm", "bundle"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One manifest component (activity, activity-alias, service, receiver, provider)."""

    kind: ComponentKind
    name: str
    """Fully qualified class name."""
    exported: bool | None
    """``android:exported`` when given, else None."""
    actions: tuple[str, ...] = ()
    """Intent-filter actions, sorted."""
    categories: tuple[str, ...] = ()
    """Intent-filter categories, sorted."""
    authorities: tuple[str, ...] = ()
    """Provider authorities, sorted."""
    permission: str | None = None
    """``android:permission`` guarding the component."""
    priority: int | None = None
    """Highest intent-filter priority, when any is given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveredPayload:
    """Code a packer hid encoded or encrypted in an entry, recovered and analysed with the app's."""

    entry: str
    """Where it was found, e.g. ``assets/Ygg.json``."""
    steps: tuple[str, ...]
    """The transforms undone, outermost first (with the key and where in the code it was found)."""
    size: int
    sha256: str
    """Of the recovered DEX or zip."""
    dex_files: tuple[str, ...]
    """Names of its DEX files in ``AppInfo.dex_files``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """What an APK's AndroidManifest.xml says, as plain values; a field the manifest does not give
    (or an unreadable manifest does not show) keeps its empty default."""

    package: str | None = None
    label: str | None = None
    """``android:label`` of <application> as written (a literal or ``@7F0B001C``)."""
    version_name: str | None = None
    version_code: str | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    permissions: tuple[str, ...] = ()
    """uses-permission and uses-permission-sdk-23 names, sorted, unique."""
    application_class: str | None = None
    """The <application>'s ``android:name``, qualified."""
    launcher_activities: tuple[str, ...] = ()
    """Activities (and aliases, by their target) with a MAIN/LAUNCHER intent filter, sorted."""
    components: tuple[Component, ...] = ()
    """Activities, aliases, services, receivers and providers, sorted by kind and name."""
    split: str | None = None
    """``split`` attribute of <manifest>: set on the split APKs of a bundle, absent on the base."""
    notes: tuple[str, ...] = ()
    """How the file had to be read when it is irregular and a parser rejected it or the two read it
    differently (empty for a well-formed file)."""
    incomplete: bool = False
    """The tolerant reader stopped before the end of the <manifest> element: facts may be missing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppInfo:
    """Identity of the scanned APK and what its manifest says.

    The manifest's facts are read through ``manifest``; the properties below
    name the ones every layer reads (``app.package``, ``app.permissions``, ...).
    """

    sha256: str
    sha1: str
    md5: str
    size: int
    manifest: Manifest
    """The app's manifest (a bundle's: its base APK's)."""
    label: str | None
    """The app's name as the launcher shows it (default configuration), when it could be read:
    ``manifest.label`` with a resource reference resolved."""
    signer_sha256: tuple[str, ...]
    """SHA-256 of each signer certificate (DER), sorted."""
    dex_files: tuple[str, ...]
    """DEX entries analysed, in order."""
    zip_entries: tuple[str, ...] = ()
    """Every entry name in the APK, sorted (for coverage signals; not in the JSON).

    For a bundle: the entries of its APKs (base and splits) and of the bundle itself."""
    input_format: InputFormat = "apk"
    """``apk``, or the split bundle's kind: ``apks``, ``xapk``, ``apkm`` (``bundle`` when unknown)."""
    splits: tuple[str, ...] = ()
    """For a bundle: the APKs analysed as the app, base first (empty for a plain APK)."""
    recovered: tuple[RecoveredPayload, ...] = ()
    """Payloads recovered from encoded or encrypted entries (see ``apk.recover``)."""

    @property
    def package(self) -> str | None:
        return self.manifest.package

    @property
    def version_name(self) -> str | None:
        return self.manifest.version_name

    @property
    def version_code(self) -> str | None:
        return self.manifest.version_code

    @property
    def min_sdk(self) -> int | None:
        return self.manifest.min_sdk

    @property
    def target_sdk(self) -> int | None:
        return self.manifest.target_sdk

    @property
    def permissions(self) -> tuple[str, ...]:
        return self.manifest.permissions

    @property
    def application_class(self) -> str | None:
        return self.manifest.application_class

    @property
    def launcher_activities(self) -> tuple[str, ...]:
        return self.manifest.launcher_activities

    @property
    def components(self) -> tuple[Component, ...]:
        return self.manifest.components
