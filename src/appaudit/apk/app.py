"""What the APK layer reads about an app: identity, manifest components, recovered payloads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One manifest component (activity, activity-alias, service, receiver, provider)."""

    kind: str
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
class AppInfo:
    """Identity and manifest facts of the scanned APK."""

    sha256: str
    sha1: str
    md5: str
    size: int
    package: str | None
    label: str | None
    """The app's name as the launcher shows it (default configuration), when it could be read."""
    version_name: str | None
    version_code: str | None
    min_sdk: int | None
    target_sdk: int | None
    permissions: tuple[str, ...]
    """uses-permission and uses-permission-sdk-23 names, sorted, unique."""
    application_class: str | None
    launcher_activities: tuple[str, ...]
    components: tuple[Component, ...]
    signer_sha256: tuple[str, ...]
    """SHA-256 of each signer certificate (DER), sorted."""
    dex_files: tuple[str, ...]
    """DEX entries analysed, in order."""
    zip_entries: tuple[str, ...] = ()
    """Every entry name in the APK, sorted (for coverage signals; not in the JSON).

    For a bundle: the entries of its APKs (base and splits) and of the bundle itself."""
    input_format: str = "apk"
    """``apk``, or the split bundle's kind: ``apks``, ``xapk``, ``apkm`` (``bundle`` when unknown)."""
    splits: tuple[str, ...] = ()
    """For a bundle: the APKs analysed as the app, base first (empty for a plain APK)."""
    recovered: tuple[RecoveredPayload, ...] = ()
    """Payloads recovered from encoded or encrypted entries (see ``apk.recover``)."""
