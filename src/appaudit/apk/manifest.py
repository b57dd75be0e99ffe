"""Manifest facts from the binary AndroidManifest.xml, parsed by androguard.

androguard's AXML parser is tolerant of the tricks malware plays on binary XML;
we walk the tree it gives ourselves so that every fact (components, intent
filters, uses-permission-sdk-23) is read the same way and sorted.

Limit: attribute values that are resource references (``@string/...``) are
reported as the reference, not resolved through resources.arsc.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from androguard.core.axml import AXMLPrinter
from loguru import logger

from appaudit.apk.app import Component, ComponentKind, Manifest
from appaudit.apk.axml import AxmlError, parse_axml

# androguard logs through loguru at DEBUG; errors reach the report instead.
logger.disable("androguard")

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
#: Component element tag -> its kind.
_COMPONENT_KINDS: dict[str, ComponentKind] = {
    "activity": "activity",
    "activity-alias": "activity-alias",
    "service": "service",
    "receiver": "receiver",
    "provider": "provider",
}
_PERMISSION_TAGS = ("uses-permission", "uses-permission-sdk-23", "uses-permission-sdk-m")
MAIN = "android.intent.action.MAIN"
LAUNCHER = "android.intent.category.LAUNCHER"


class ManifestError(Exception):
    """The manifest could not be parsed at all."""


def _attr(elem: Any, name: str) -> str | None:
    value = elem.get(ANDROID_NS + name)
    if value is None:
        value = elem.get(name)
    return None if value is None else str(value)


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _qualify(name: str | None, package: str | None) -> str:
    if not name:
        return ""
    if name.startswith(".") and package:
        return package + name
    if "." not in name and package:
        return f"{package}.{name}"
    return name


def _bool_or_none(text: str | None) -> bool | None:
    if text is None:
        return None
    return text.lower() in ("true", "1", "-1")


_UTF16_NAME = re.compile(rb"(?:[A-Za-z0-9_.]\x00){8,200}")
_PERMISSION_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.permission\.[A-Z0-9_]+")


def resolve_label(label: str | None, arsc: bytes | None) -> str | None:
    """The app's label: a literal as is; a ``@ID`` reference resolved through resources.arsc."""
    if not label or not label.startswith("@"):
        return label
    if arsc is None:
        return None
    try:
        from androguard.core.axml import ARSCParser

        configs = ARSCParser(arsc).get_resolved_res_configs(int(label[1:], 16))
    except Exception:  # androguard raises many kinds on odd resource tables
        return None
    values = [str(v) for _cfg, v in configs if v]
    return values[0] if values else None


def recover_permissions(raw: bytes) -> tuple[str, ...]:
    """Permission names found in a manifest's string pool, for a manifest no parser accepts.

    Malware corrupts binary XML in ways Android tolerates but parsers do not;
    its string pool (UTF-16LE) still names the permissions. The names may
    include permissions the app only defines or uses to guard a component, so
    the scan marks its coverage partial when it had to fall back to this.
    """
    names = {m.group().decode("utf-16-le") for m in _UTF16_NAME.finditer(raw)}
    return tuple(sorted(n for n in names if _PERMISSION_NAME.fullmatch(n)))


def parse_manifest(raw: bytes) -> Manifest:
    """Parse binary AXML into :class:`Manifest`; raise ManifestError if unreadable.

    androguard's parser first; when it rejects the file (malware tampers with
    binary XML in ways Android tolerates), the tolerant reader in ``axml``,
    which reads it the way Android does. What the fallback had to do is in
    ``Manifest.notes``; a manifest it could read only in part also gets
    the permission names of its whole string pool and ``incomplete``.
    """
    try:
        printer = AXMLPrinter(raw)
        root = printer.get_xml_obj() if printer.is_valid() else None
        problem = None if root is not None else "androguard found no document"
    except Exception as exc:  # androguard raises many kinds on hostile XML
        root, problem = None, f"androguard's parser failed ({type(exc).__name__})"
    if root is not None and root.tag == "manifest":
        return _facts(root)
    if problem is None:
        problem = "androguard read no <manifest> root element"
    try:
        doc = parse_axml(raw)
    except AxmlError as exc:
        raise ManifestError(f"binary XML could not be parsed: {problem}; tolerant reader: {exc}") from None
    except Exception as exc:  # a bug in the tolerant reader must not cost the scan (the fuzz tests look for this)
        raise ManifestError(f"binary XML could not be parsed: {problem}; tolerant reader failed ({exc!r})") from None
    if doc.root.tag != "manifest":
        raise ManifestError(f"binary XML has no <manifest> root element ({problem}; tolerant reader neither)")
    facts = _facts(doc.root)
    notes = (f"{problem}; read with the tolerant binary-XML reader",)
    if doc.complete:
        return replace(facts, notes=notes)
    recovered = recover_permissions(raw)
    return replace(
        facts,
        permissions=tuple(sorted(set(facts.permissions) | set(recovered))),
        notes=(*notes, "the file ends before its <manifest> element does; permission names of its string pool added"),
        incomplete=True,
    )


def _local(tag: object) -> str:
    """An element's local name: Android's parser ignores an element's namespace
    (``<android:uses-permission>`` is a uses-permission), and so do we."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _named(elem: Any, *names: str) -> list[Any]:
    """Every element under ``elem`` (itself included) whose local name is one of ``names``."""
    return [e for e in elem.iter() if _local(e.tag) in names]


def _facts(root: Any) -> Manifest:
    """The :class:`Manifest` of a <manifest> element (lxml from androguard, or ElementTree from ``axml``)."""

    package = root.get("package")
    permissions: set[str] = set()
    for elem in _named(root, *_PERMISSION_TAGS):
        name = _attr(elem, "name")
        if name:
            permissions.add(name)

    min_sdk = target_sdk = None
    for elem in _named(root, "uses-sdk"):
        min_sdk = _int_or_none(_attr(elem, "minSdkVersion"))
        target_sdk = _int_or_none(_attr(elem, "targetSdkVersion"))
        break

    app_elems = _named(root, "application")
    label = _attr(app_elems[0], "label") if app_elems else None
    application_class = None
    components: list[Component] = []
    if app_elems:
        app = app_elems[0]
        app_name = _attr(app, "name")
        application_class = _qualify(app_name, package) if app_name else None
        components.extend(_component(elem, package) for elem in app if _local(elem.tag) in _COMPONENT_KINDS)
    components.sort(key=lambda c: (c.kind, c.name))
    launchers = sorted(
        {
            c.name
            for c in components
            if c.kind in ("activity", "activity-alias") and MAIN in c.actions and LAUNCHER in c.categories
        }
    )
    return Manifest(
        package=package,
        label=label,
        version_name=_attr(root, "versionName"),
        version_code=_attr(root, "versionCode"),
        min_sdk=min_sdk,
        target_sdk=target_sdk,
        permissions=tuple(sorted(permissions)),
        application_class=application_class,
        launcher_activities=tuple(launchers),
        components=tuple(components),
        split=root.get("split"),
    )


def _component(elem: Any, package: str | None) -> Component:
    kind = _COMPONENT_KINDS[_local(elem.tag)]
    raw_name = _attr(elem, "name")
    if kind == "activity-alias":  # the alias's code is its target's
        raw_name = _attr(elem, "targetActivity") or raw_name
    name = _qualify(raw_name, package)
    actions: set[str] = set()
    categories: set[str] = set()
    priorities: list[int] = []
    for flt in _named(elem, "intent-filter"):
        prio = _int_or_none(_attr(flt, "priority"))
        if prio is not None:
            priorities.append(prio)
        for act in _named(flt, "action"):
            value = _attr(act, "name")
            if value:
                actions.add(value)
        for cat in _named(flt, "category"):
            value = _attr(cat, "name")
            if value:
                categories.add(value)
    authorities = _attr(elem, "authorities") or ""
    return Component(
        kind=kind,
        name=name,
        exported=_bool_or_none(_attr(elem, "exported")),
        actions=tuple(sorted(actions)),
        categories=tuple(sorted(categories)),
        authorities=tuple(sorted(a for a in authorities.split(";") if a)),
        permission=_attr(elem, "permission"),
        priority=max(priorities) if priorities else None,
    )
